/* c-ares driven by libev: one io watcher per c-ares socket and one timer. In front of it,
 * recent answers come from a cache, lookups of a name already being looked up wait for that
 * one, and at most limits.dnsMaxInflight names are asked at once; the rest wait in order. */
#include "resolver.h"

#include "dns_cache.h"
#include "ip_literal.h"
#include "log.h"

#include <ares.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FDS 16

struct evp_resolve_req {
    ev_timer defer; /* first member: answers are always delivered from the loop */
    evp_resolver *r;
    evp_resolve_req *prev, *next; /* every live request, so that free finds them */
    evp_resolve_req *wait_next;   /* the lookup it waits for */
    evp_resolve_cb cb;
    void *arg;
    unsigned port;
    int cancelled;
    evp_dns_answer answer;
};

/* One name being looked up (started) or waiting for a free slot (queued). */
typedef struct lookup {
    struct lookup *next;
    evp_resolver *r;
    evp_resolve_req *waiters;
    char name[];
} lookup;

typedef struct fd_watch {
    ev_io io; /* first member: the callback casts back */
    evp_resolver *r;
} fd_watch;

struct evp_resolver {
    struct ev_loop *loop;
    ares_channel ch; /* made by the first lookup (open_channel); NULL until then */
    ev_timer timer;
    ev_timer kick; /* starts queued lookups and applies new servers, from the loop */
    fd_watch fds[MAX_FDS];
    evp_dns_cache *cache;
    int own_cache; /* 0: the workers' shared one, freed by the server */
    evp_resolve_req *reqs;
    lookup *started, *queued, *queued_tail;
    unsigned inflight, max_inflight;
    atomic_uint *all_inflight; /* every worker's lookups out, which max_inflight bounds */
    double cache_secs, negative_secs;
    char *servers; /* "ip:port,..." wanted; NULL: the system's */
    evp_dns_hosts *hosts; /* dns.hosts, asked first (a reference), or NULL */
    int servers_dirty; /* to apply once no query is out (c-ares refuses it before) */
    struct ares_addr_port_node *system_servers; /* as c-ares found them at open_channel */
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

/* ---- delivering ------------------------------------------------------------------------ */

static void on_defer(EV_P_ ev_timer *w, int revents)
{
    evp_resolve_req *req = (evp_resolve_req *)w;
    evp_resolver *r = req->r;
    if (req->prev)
        req->prev->next = req->next;
    else
        r->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    if (!req->cancelled)
        req->cb(req->arg, req->answer.addr_len ? (struct sockaddr *)&req->answer.addr : NULL,
                req->answer.addr_len, req->answer.err);
    free(req);
}

/* Hands req its answer on the next loop turn, never inside evp_resolve or c-ares. */
static void deliver(evp_resolve_req *req, const evp_dns_answer *a)
{
    req->answer = *a;
    struct sockaddr_storage *ss = &req->answer.addr;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)req->port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)req->port);
    ev_timer_init(&req->defer, on_defer, 0., 0.);
    ev_timer_start(req->r->loop, &req->defer);
}

/* ---- lookups --------------------------------------------------------------------------- */

static void kick(evp_resolver *r)
{
    if (!ev_is_active(&r->kick))
        ev_timer_start(r->loop, &r->kick);
}

/* Other workers' lookups hold every slot, and nothing wakes this loop when one ends: look
 * again shortly. */
#define SHARED_SLOT_RETRY 0.05

/* Takes an in-flight slot, 0 when none is free (the cap counts every worker's lookups). */
static int take_slot(evp_resolver *r)
{
    if (r->inflight >= r->max_inflight)
        return 0;
    if (r->all_inflight && atomic_fetch_add(r->all_inflight, 1) >= r->max_inflight) {
        atomic_fetch_sub(r->all_inflight, 1);
        if (!ev_is_active(&r->kick)) {
            ev_timer_set(&r->kick, SHARED_SLOT_RETRY, 0.);
            ev_timer_start(r->loop, &r->kick);
        }
        return 0;
    }
    r->inflight++;
    return 1;
}

static void release_slot(evp_resolver *r)
{
    r->inflight--;
    if (r->all_inflight)
        atomic_fetch_sub(r->all_inflight, 1);
}

static void unlink_started(evp_resolver *r, lookup *lk)
{
    for (lookup **p = &r->started; *p; p = &(*p)->next)
        if (*p == lk) {
            *p = lk->next;
            return;
        }
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    lookup *lk = arg;
    evp_resolver *r = lk->r;
    evp_dns_answer a;
    memset(&a, 0, sizeof a);
    struct ares_addrinfo_node *n = (status == ARES_SUCCESS && res) ? res->nodes : NULL;
    int ttl = n ? n->ai_ttl : 0;
    if (n && n->ai_addrlen <= sizeof a.addr) {
        memcpy(&a.addr, n->ai_addr, n->ai_addrlen);
        a.addr_len = (socklen_t)n->ai_addrlen;
    } else {
        a.err = ares_strerror(status == ARES_SUCCESS ? ARES_ENODATA : status);
    }
    if (res)
        ares_freeaddrinfo(res);
    if (status == ARES_EDESTRUCTION)
        return; /* evp_resolver_free frees the lookup and its waiters */
    double now = ev_now(r->loop);
    if (a.addr_len) /* never longer than the record's own TTL */
        evp_dns_cache_put(r->cache, lk->name, &a,
                          now + (ttl < r->cache_secs ? ttl : r->cache_secs), now);
    else if (status != ARES_ENOMEM && status != ARES_ECANCELLED)
        evp_dns_cache_put(r->cache, lk->name, &a, now + r->negative_secs, now);
    unlink_started(r, lk);
    release_slot(r);
    while (lk->waiters) {
        evp_resolve_req *req = lk->waiters;
        lk->waiters = req->wait_next;
        deliver(req, &a);
    }
    free(lk);
    kick(r); /* a slot is free */
}

static int has_live_waiter(const lookup *lk)
{
    for (const evp_resolve_req *q = lk->waiters; q; q = q->wait_next)
        if (!q->cancelled)
            return 1;
    return 0;
}

static void apply_servers(evp_resolver *r)
{
    int rc = r->servers ? ares_set_servers_ports_csv(r->ch, r->servers)
                        : ares_set_servers_ports(r->ch, r->system_servers);
    if (rc == ARES_ENOTIMP)
        return; /* a query is still out: the next kick tries again */
    if (rc != ARES_SUCCESS)
        evp_warn("dns.servers: %s: %s; the previous servers stay", r->servers ? r->servers : "",
                 ares_strerror(rc));
    r->servers_dirty = 0;
    evp_dns_cache_clear(r->cache);
}

/* Makes the c-ares channel. Not at start: a channel holds ~74 KiB of query tables, which a
 * worker that never looks a name up (IP targets, an idle daemon) has no use for. The wanted
 * servers are applied to it next, by start_queued. */
static int open_channel(evp_resolver *r)
{
    struct ares_options opts = {.sock_state_cb = sock_state, .sock_state_cb_data = r};
    if (ares_init_options(&r->ch, &opts, ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS) {
        r->ch = NULL;
        return 0;
    }
    ares_get_servers_ports(r->ch, &r->system_servers);
    r->servers_dirty = r->servers != NULL;
    return 1;
}

/* Answers every asker of lk with err, without a query, and frees lk. */
static void end_lookup(lookup *lk, const char *err)
{
    evp_dns_answer none = {.err = err};
    while (lk->waiters) {
        evp_resolve_req *req = lk->waiters;
        lk->waiters = req->wait_next;
        deliver(req, &none);
    }
    free(lk);
}

/* Starts queued lookups while slots are free (new servers first, once none is out). */
static void start_queued(evp_resolver *r)
{
    if (r->ch == NULL && r->queued != NULL && !open_channel(r)) {
        evp_err("resolver: cannot start c-ares");
        while (r->queued) {
            lookup *lk = r->queued;
            r->queued = lk->next;
            end_lookup(lk, "no DNS resolver (c-ares failed to start)");
        }
        r->queued_tail = NULL;
    }
    if (r->ch == NULL)
        return; /* nothing looked up yet */
    if (r->servers_dirty) {
        if (r->inflight == 0)
            apply_servers(r);
        if (r->servers_dirty)
            return;
    }
    while (r->queued && take_slot(r)) {
        lookup *lk = r->queued;
        r->queued = lk->next;
        if (r->queued == NULL)
            r->queued_tail = NULL;
        if (!has_live_waiter(lk)) {
            /* every asker gave up while it waited: deliver nothing, ask nothing */
            end_lookup(lk, "cancelled");
            release_slot(r);
            continue;
        }
        lk->next = r->started;
        r->started = lk;
        struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC,
                                            .ai_socktype = SOCK_STREAM};
        ares_getaddrinfo(r->ch, lk->name, NULL, &hints, on_result, lk);
    }
    arm_timer(r);
}

static void on_kick(EV_P_ ev_timer *w, int revents)
{
    ev_timer_set(w, 0., 0.); /* a retry's delay was for once */
    start_queued((evp_resolver *)((char *)w - offsetof(evp_resolver, kick)));
}

static lookup *find_lookup(lookup *list, const char *name)
{
    for (; list; list = list->next)
        if (strcasecmp(list->name, name) == 0)
            return list;
    return NULL;
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
    req->port = port;
    evp_dns_answer hit;
    lookup *lk = NULL;
    evp_addr literal = {0}; /* port 0: deliver() sets each asker's */
    char alias[256];
    memset(&hit, 0, sizeof hit);
    int mapped = r->hosts ? evp_dns_hosts_lookup(r->hosts, name, &literal, alias) : 0;
    if (mapped == 2)
        name = alias; /* dns.hosts names another name: that one is looked up */
    if (mapped == 1 || evp_ip_literal(name, strlen(name), &literal)) {
        /* Read as the router reads it, not as c-ares would (c-ares looks "127.1" up as a
         * name and reads "0177.0.0.1" as 177.0.0.1). */
        hit.addr_len = evp_addr_to_sockaddr(&literal, &hit.addr);
    } else if (!evp_dns_cache_get(r->cache, name, ev_now(r->loop), &hit)) {
        lk = find_lookup(r->started, name);
        if (lk == NULL)
            lk = find_lookup(r->queued, name);
        if (lk == NULL) {
            size_t len = strlen(name);
            lk = calloc(1, sizeof *lk + len + 1);
            if (lk == NULL) {
                free(req);
                return NULL;
            }
            lk->r = r;
            memcpy(lk->name, name, len + 1);
            if (r->queued_tail)
                r->queued_tail->next = lk;
            else
                r->queued = lk;
            r->queued_tail = lk;
            kick(r);
        }
    }
    req->next = r->reqs;
    if (r->reqs)
        r->reqs->prev = req;
    r->reqs = req;
    if (lk) {
        req->wait_next = lk->waiters;
        lk->waiters = req;
    } else {
        deliver(req, &hit);
    }
    return req;
}

void evp_resolve_cancel(evp_resolve_req *req)
{
    if (req)
        req->cancelled = 1;
}

/* ---- life ------------------------------------------------------------------------------ */

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
    evp_limits d = evp_limits_default();
    r->max_inflight = d.dns_max_inflight;
    r->cache_secs = d.dns_cache;
    r->negative_secs = d.dns_negative_cache;
    r->cache = evp_dns_cache_new(EVP_DNS_CACHE_MAX);
    r->own_cache = 1;
    if (r->cache == NULL) {
        free(r);
        return NULL;
    }
    ev_timer_init(&r->timer, on_timer, 0., 0.);
    ev_timer_init(&r->kick, on_kick, 0., 0.);
    for (int i = 0; i < MAX_FDS; i++) {
        ev_io_init(&r->fds[i].io, on_fd, -1, 0);
        r->fds[i].r = r;
    }
    return r;
}

void evp_resolver_share(evp_resolver *r, evp_dns_cache *cache, atomic_uint *inflight)
{
    if (r->own_cache)
        evp_dns_cache_free(r->cache);
    r->cache = cache;
    r->own_cache = 0;
    r->all_inflight = inflight;
}

void evp_resolver_configure(evp_resolver *r, const evp_limits *l, const char *servers,
                            evp_dns_hosts *hosts)
{
    evp_dns_hosts_ref(hosts);
    evp_dns_hosts_unref(r->hosts);
    r->hosts = hosts;
    if (l->dns_cache != r->cache_secs || l->dns_negative_cache != r->negative_secs)
        evp_dns_cache_clear(r->cache);
    r->max_inflight = l->dns_max_inflight;
    r->cache_secs = l->dns_cache;
    r->negative_secs = l->dns_negative_cache;
    if ((servers == NULL) != (r->servers == NULL) ||
        (servers && strcmp(servers, r->servers) != 0)) {
        free(r->servers);
        r->servers = servers ? strdup(servers) : NULL;
        r->servers_dirty = 1;
    }
    kick(r);
}

static void free_lookups(lookup *lk)
{
    while (lk) {
        lookup *next = lk->next;
        free(lk);
        lk = next;
    }
}

void evp_resolver_free(evp_resolver *r)
{
    evp_dns_hosts_unref(r->hosts);
    if (r == NULL)
        return;
    if (r->ch != NULL)
        ares_destroy(r->ch); /* started lookups are called back with ARES_EDESTRUCTION */
    if (r->all_inflight) /* their slots, which those callbacks left alone */
        atomic_fetch_sub(r->all_inflight, r->inflight);
    ev_timer_stop(r->loop, &r->timer);
    ev_timer_stop(r->loop, &r->kick);
    for (int i = 0; i < MAX_FDS; i++)
        ev_io_stop(r->loop, &r->fds[i].io);
    free_lookups(r->started);
    free_lookups(r->queued);
    while (r->reqs) {
        evp_resolve_req *req = r->reqs;
        r->reqs = req->next;
        ev_timer_stop(r->loop, &req->defer);
        free(req);
    }
    ares_free_data(r->system_servers);
    if (r->own_cache)
        evp_dns_cache_free(r->cache);
    free(r->servers);
    free(r);
}
