/* c-ares driven by libev: one io watcher per c-ares socket and one timer. */
#include "resolver.h"

#include "ip_literal.h"
#include "log.h"

#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FDS 16

struct evp_resolve_req {
    ev_timer defer; /* first member: delivers an answer c-ares gave during the call */
    evp_resolver *r;
    evp_resolve_cb cb;
    void *arg;
    int cancelled;
    int in_call; /* inside ares_getaddrinfo: an answer now must wait for the loop */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *err;
    evp_resolve_req *prev, *next; /* in r->deferred while defer runs */
};

typedef struct fd_watch {
    ev_io io; /* first member: the callback casts back */
    evp_resolver *r;
} fd_watch;

struct evp_resolver {
    struct ev_loop *loop;
    ares_channel ch;
    ev_timer timer;
    fd_watch fds[MAX_FDS];
    evp_resolve_req *deferred; /* answered, waiting for the loop: freed with r */
};

static void arm_timer(evp_resolver *r)
{
    struct timeval tv, *t = ares_timeout(r->ch, NULL, &tv);
    ev_timer_stop(r->loop, &r->timer);
    if (t) {
        ev_timer_set(&r->timer, (double)t->tv_sec + (double)t->tv_usec / 1e6 + 0.001, 0.);
        ev_timer_start(r->loop, &r->timer);
    }
}

static void on_fd(EV_P_ ev_io *w, int revents)
{
    fd_watch *fw = (fd_watch *)w;
    ares_process_fd(fw->r->ch, (revents & EV_READ) ? w->fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? w->fd : ARES_SOCKET_BAD);
    arm_timer(fw->r);
}

static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_resolver *r = (evp_resolver *)((char *)w - offsetof(evp_resolver, timer));
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer(r);
}

/* c-ares tells us which sockets to watch. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    evp_resolver *r = data;
    fd_watch *slot = NULL;
    for (int i = 0; i < MAX_FDS; i++)
        if (ev_is_active(&r->fds[i].io) && r->fds[i].io.fd == fd)
            slot = &r->fds[i];
    if (slot)
        ev_io_stop(r->loop, &slot->io);
    if (!readable && !writable)
        return;
    if (slot == NULL)
        for (int i = 0; i < MAX_FDS && slot == NULL; i++)
            if (!ev_is_active(&r->fds[i].io))
                slot = &r->fds[i];
    if (slot == NULL) {
        evp_err("resolver: too many c-ares sockets");
        return;
    }
    ev_io_set(&slot->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    ev_io_start(r->loop, &slot->io);
}

evp_resolver *evp_resolver_new(struct ev_loop *loop)
{
    static int lib_ready;
    if (!lib_ready) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
            return NULL;
        lib_ready = 1;
    }
    evp_resolver *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->loop = loop;
    struct ares_options opts = {.sock_state_cb = sock_state, .sock_state_cb_data = r};
    if (ares_init_options(&r->ch, &opts, ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS) {
        free(r);
        return NULL;
    }
    ev_timer_init(&r->timer, on_timer, 0., 0.);
    for (int i = 0; i < MAX_FDS; i++) {
        ev_io_init(&r->fds[i].io, on_fd, -1, 0);
        r->fds[i].r = r;
    }
    return r;
}

void evp_resolver_free(evp_resolver *r)
{
    if (r == NULL)
        return;
    ares_destroy(r->ch); /* pending callbacks run with ARES_EDESTRUCTION and free their reqs */
    ev_timer_stop(r->loop, &r->timer);
    while (r->deferred) {
        evp_resolve_req *req = r->deferred;
        r->deferred = req->next;
        ev_timer_stop(r->loop, &req->defer);
        free(req);
    }
    for (int i = 0; i < MAX_FDS; i++)
        ev_io_stop(r->loop, &r->fds[i].io);
    free(r);
}

static void deliver(evp_resolve_req *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else if (req->r->deferred == req)
        req->r->deferred = req->next;
    if (req->next)
        req->next->prev = req->prev;
    if (!req->cancelled)
        req->cb(req->arg, req->addr_len ? (struct sockaddr *)&req->addr : NULL, req->addr_len,
                req->err);
    free(req);
}

static void on_defer(EV_P_ ev_timer *w, int revents)
{
    deliver((evp_resolve_req *)w);
}

/* Hands the answer over on the next loop turn, never inside evp_resolve. */
static void defer_answer(evp_resolve_req *req)
{
    evp_resolver *r = req->r;
    req->next = r->deferred;
    if (r->deferred)
        r->deferred->prev = req;
    r->deferred = req;
    ev_timer_init(&req->defer, on_defer, 0., 0.);
    ev_timer_start(r->loop, &req->defer);
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    evp_resolve_req *req = arg;
    struct ares_addrinfo_node *n = (status == ARES_SUCCESS && res) ? res->nodes : NULL;
    if (n && n->ai_addrlen <= sizeof req->addr) {
        memcpy(&req->addr, n->ai_addr, n->ai_addrlen);
        req->addr_len = (socklen_t)n->ai_addrlen;
    } else {
        req->err = ares_strerror(status);
    }
    if (res)
        ares_freeaddrinfo(res);
    if (status == ARES_EDESTRUCTION) {
        free(req);
    } else if (req->in_call) {
        defer_answer(req);
    } else {
        deliver(req);
    }
}

evp_resolve_req *evp_resolve(evp_resolver *r, const char *name, unsigned port, evp_resolve_cb cb,
                             void *arg)
{
    evp_resolve_req *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->r = r;
    req->cb = cb;
    req->arg = arg;
    evp_addr literal;
    if (evp_ip_literal(name, strlen(name), &literal)) {
        /* Read as the router reads it, not as c-ares would (c-ares looks "127.1" up as a
         * name and reads "0177.0.0.1" as 177.0.0.1). */
        literal.port = (uint16_t)port;
        req->addr_len = evp_addr_to_sockaddr(&literal, &req->addr);
        defer_answer(req);
        return req;
    }
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                        .ai_flags = ARES_AI_NUMERICSERV};
    /* A hosts-file answer comes back inside this call: in_call defers it to the loop, so the
     * caller never sees a callback before evp_resolve returns. */
    req->in_call = 1;
    ares_getaddrinfo(r->ch, name, service, &hints, on_result, req);
    req->in_call = 0;
    arm_timer(r);
    return req;
}

void evp_resolve_cancel(evp_resolve_req *req)
{
    if (req)
        req->cancelled = 1;
}
