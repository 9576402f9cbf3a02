/* Listeners: binding an inbound's address, accepting TCP connections into sessions, handing
 * datagrams to UDP sessions by peer, and pausing while a cap is reached or descriptors run
 * out. Also the lookups of inbound instances by listener. Each worker has its own socket
 * for every address (SO_REUSEPORT): the kernel spreads connections over them, and UDP
 * datagrams by their 4-tuple, so one client's datagrams all reach the same worker. */
#include "server_int.h"

#include "admission.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_UDP_SESSIONS 1024

static void on_accept_resume(EV_P_ ev_timer *w, int revents)
{
    evp_listener *l = (evp_listener *)((char *)w - offsetof(evp_listener, pause));
    if (!l->w->rt.accept_paused.on)
        ev_io_start(EV_A, &l->io);
}

/* A session cap is reached: stop the worker's TCP listeners; the backlog keeps new clients
 * waiting (another worker's room wakes this one: admission.c). */
static void pause_accepting(evp_worker *w)
{
    evp_admission_pause(&w->rt);
    for (evp_listener *l = w->listeners; l; l = l->next)
        if (!l->udp)
            ev_io_stop(w->loop, &l->io);
    /* A worker that made room just before this one counted itself paused saw no one to
     * wake: look once more now that it is counted. */
    evp_admission_changed(&w->rt);
}

void evp_listeners_resume(evp_runtime *rt)
{
    evp_worker *w = (evp_worker *)((char *)rt - offsetof(evp_worker, rt));
    for (evp_listener *l = w->listeners; l; l = l->next)
        if (!l->udp && !ev_is_active(&l->pause))
            ev_io_start(rt->loop, &l->io);
}

/* Out of descriptors, or over it: every worker's socket for an address starves at once, so
 * the warning and the all-clear are said by the first to starve and the last to recover. */
static void set_starved(evp_listener *l, int starved, int err)
{
    if (l->starved == starved)
        return;
    l->starved = starved;
    atomic_uint *n = &l->w->srv->load.starved;
    if (starved && atomic_fetch_add(n, 1) == 0)
        evp_warn("accept on %s:%u: %s; retrying every 0.2 s", l->listen, l->port, strerror(err));
    else if (!starved && atomic_fetch_sub(n, 1) == 1)
        evp_info("accept on %s:%u: caught up", l->listen, l->port);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    evp_listener *l = (evp_listener *)w;
    for (int i = 0; i < 64; i++) {
        if (!evp_admission_reserve(&l->w->rt)) {
            pause_accepting(l->w);
            return;
        }
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            int err = errno;
            evp_admission_unreserve(&l->w->rt);
            errno = err;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection keeps the socket readable, so
                 * pause accepting for a moment instead of spinning on the error. */
                set_starved(l, 1, errno);
                ev_io_stop(EV_A, &l->io);
                ev_timer_set(&l->pause, 0.2, 0.);
                ev_timer_start(EV_A, &l->pause);
            } else if ((errno == EAGAIN || errno == EWOULDBLOCK) && l->starved) {
                set_starved(l, 0, 0); /* everyone who waited has been taken */
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                evp_warn("accept on %s:%u: %s", l->listen, l->port, strerror(errno));
            }
            return;
        }
        l->w->accepted++;
        evp_debug("accepted tcp on %s:%u", l->listen, l->port); /* which dynamic port */
        evp_session_tcp(&l->w->rt, fd, l->in, l->router);
        evp_admission_unreserve(&l->w->rt); /* when the session could not start */
    }
}

static void udp_forget(evp_udp_owner *o, evp_session *s)
{
    evp_listener *l = (evp_listener *)((char *)o - offsetof(evp_listener, owner));
    evp_sessions_drop(l->peers, &l->n_peers, s);
}

static void on_datagram(EV_P_ ev_io *w, int revents)
{
    evp_listener *l = (evp_listener *)w;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = 0;
        uint8_t *dgram;
        ssize_t n = evp_recv_dgram(&l->w->rt, l->fd, &dgram, &peer, &plen);
        if (n < 0)
            return;
        if (n == 0)
            continue; /* empty datagrams carry nothing, as V2Ray skips them */
        evp_session *s = NULL;
        for (size_t k = 0; k < l->n_peers && s == NULL; k++)
            if (evp_session_udp_is(l->peers[k], (struct sockaddr *)&peer, plen))
                s = l->peers[k];
        if (s == NULL) {
            if (l->n_peers >= MAX_UDP_SESSIONS)
                continue;
            s = evp_session_udp(&l->w->rt, &l->owner, (struct sockaddr *)&peer, plen, l->in,
                                l->router);
            if (s == NULL)
                continue;
            l->peers[l->n_peers++] = s;
        }
        evp_session_udp_input(s, dgram, (size_t)n);
    }
}

/* How bind_socket binds: alone; shared with the other workers' sockets (SO_REUSEPORT); or
 * as a probe that only binds, sharing with nothing (TCP keeps SO_REUSEADDR: TIME_WAIT is
 * no owner). */
enum bind_mode { BIND_ALONE, BIND_SHARED, BIND_PROBE };

/* Binds listen:port as mode says; -1 with the reason in err. */
static int bind_socket(const char *host, uint16_t port, int udp, enum bind_mode mode,
                       char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot use listen address \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd != -1 && (mode != BIND_PROBE || !udp))
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd != -1 && mode == BIND_SHARED &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "cannot share %s:%u between workers: %s", host, port,
                 strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    if (fd == -1 || bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
        (!udp && mode != BIND_PROBE && listen(fd, 1024) == -1)) {
        snprintf(err, errlen, "cannot listen on %s %s:%u: %s", udp ? "udp" : "tcp", host, port,
                 strerror(errno));
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int holds_port(const evp_listener *list, uint16_t port, int udp)
{
    for (const evp_listener *l = list; l; l = l->next)
        if (l->port == port && l->udp == udp)
            return 1;
    return 0;
}

int evp_listener_claim(const evp_listener *ours, const evp_listener *fresh, const char *host,
                       uint16_t port, int udp, char *err, size_t errlen)
{
    if (holds_port(ours, port, udp) || holds_port(fresh, port, udp))
        return 0;
    int fd = bind_socket(host, port, udp, BIND_PROBE, err, errlen);
    if (fd == -1)
        return -1;
    close(fd);
    return 0;
}

evp_listener *evp_listener_bind(const char *host, uint16_t port, int udp, int shared,
                                char *err, size_t errlen)
{
    int fd = bind_socket(host, port, udp, shared ? BIND_SHARED : BIND_ALONE, err, errlen);
    if (fd == -1)
        return NULL;
    evp_listener *l = calloc(1, sizeof *l);
    if (l == NULL || (l->listen = strdup(host)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(l);
        close(fd);
        return NULL;
    }
    l->fd = fd;
    l->udp = udp;
    l->port = port;
    return l;
}

void evp_listener_start(evp_worker *w, evp_listener *l)
{
    l->w = w;
    l->owner.fd = l->fd;
    l->owner.forget = udp_forget;
    if (l->udp)
        l->peers = calloc(MAX_UDP_SESSIONS, sizeof *l->peers);
    ev_io_init(&l->io, l->udp ? on_datagram : on_accept, l->fd, EV_READ);
    ev_timer_init(&l->pause, on_accept_resume, 0.2, 0.);
    if (l->udp || !w->rt.accept_paused.on)
        ev_io_start(w->loop, &l->io);
    l->next = w->listeners;
    w->listeners = l;
}

void evp_listener_discard(evp_listener *l)
{
    close(l->fd);
    free(l->listen);
    free(l);
}

void evp_listener_free(evp_listener *l)
{
    if (l->starved) /* gone, not caught up: nothing to say */
        atomic_fetch_sub(&l->w->srv->load.starved, 1);
    ev_io_stop(l->w->loop, &l->io);
    ev_timer_stop(l->w->loop, &l->pause);
    if (l->fd != -1)
        close(l->fd);
    evp_instance_unref(l->in);
    evp_router_unref(l->router);
    /* UDP sessions outlive their listener's socket only as long as their own timers. */
    for (size_t i = 0; i < l->n_peers; i++)
        evp_session_udp_orphan(l->peers[i]);
    free(l->peers);
    free(l->listen);
    free(l);
}

evp_listener *evp_listener_find(evp_listener *list, const char *host, uint16_t port, int udp)
{
    for (evp_listener *l = list; l; l = l->next)
        if (l->port == port && l->udp == udp && strcmp(l->listen, host) == 0)
            return l;
    return NULL;
}

/* Every worker serves the same instances: worker 0's listeners (the main thread's own)
 * answer for all. */
static evp_listener *main_listeners(evp_server *srv)
{
    return srv->n_workers ? srv->workers[0].listeners : NULL;
}

evp_instance *evp_server_inbound(evp_server *srv, const char *tag)
{
    for (evp_listener *l = main_listeners(srv); l; l = l->next)
        if (strcmp(l->in->tag, tag) == 0)
            return l->in;
    return NULL;
}

void evp_server_each_inbound(evp_server *srv, void (*fn)(evp_instance *, void *), void *arg)
{
    for (evp_listener *l = main_listeners(srv); l; l = l->next)
        if (!l->udp || evp_listener_find(main_listeners(srv), l->listen, l->port, 0) == NULL)
            fn(l->in, arg);
}

typedef struct replacing {
    evp_instance *old, *replacement;
} replacing;

static void replace_on_worker(evp_worker *w, void *arg)
{
    replacing *r = arg;
    for (evp_listener *l = w->listeners; l; l = l->next)
        if (l->in == r->old) {
            evp_instance_unref(l->in);
            l->in = evp_instance_ref(r->replacement);
        }
}

void evp_server_replace_inbound(evp_server *srv, evp_instance *old, evp_instance *replacement)
{
    replacing r = {old, replacement};
    evp_workers_run(srv, replace_on_worker, &r);
    for (size_t i = 0; i < srv->n_allocs; i++) /* listeners a re-pick opens serve it too */
        if (srv->allocs[i] && srv->allocs[i]->in == old) {
            evp_instance_unref(old);
            srv->allocs[i]->in = evp_instance_ref(replacement);
        }
}
