/* c-ares on the loop (dns_channels.h), one channel per server asked on its own. In front of
 * it, recent answers come from a cache, lookups of a name already being looked up wait for
 * that one, and at most limits.dnsMaxInflight names are asked at once; the rest wait in
 * order. A name is asked of dns.servers in V2Ray's order (dns_servers.h), one after the
 * other, until one answers. */
#include "resolver.h"

#include "dns_cache.h"
#include "dns_channels.h"
#include "ip_literal.h"
#include "log.h"

#include <ares.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct evp_resolve_req {
    ev_timer defer; /* first member: answers are always delivered from the loop */
    evp_resolver *r;
    evp_resolve_req *prev, *next; /* every live request, so that free finds them */
    evp_resolve_req *wait_next;   /* the lookup it waits for */
    evp_resolve_cb cb;         /* the first address only, or */
    evp_resolve_all_cb all_cb; /* every address */
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
    uint8_t order[EVP_DNS_SERVERS_MAX]; /* the channels to ask, first to last */
    uint8_t n_order, step;               /* order[step] is being asked */
    int family;                          /* AF_UNSPEC, AF_INET or AF_INET6 */
    char name[];
} lookup;

struct evp_resolver {
    struct ev_loop *loop;
    evp_dns_channels *chans;
    ev_timer kick; /* starts queued lookups and applies new servers, from the loop */
    evp_dns_cache *cache;
    int own_cache; /* 0: the workers' shared one, freed by the server */
    evp_resolve_req *reqs;
    lookup *started, *queued, *queued_tail;
    unsigned inflight, max_inflight;
    atomic_uint *all_inflight; /* every worker's lookups out, which max_inflight bounds */
    double cache_secs, negative_secs;
    evp_dns_servers *servers; /* wanted (a reference); NULL: the system's */
    evp_dns_hosts *hosts; /* dns.hosts, asked first (a reference), or NULL */
    int servers_dirty; /* to apply once no query is out (lookups hold channel numbers) */
};

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
    const evp_dns_answer *a = &req->answer;
    if (!req->cancelled && req->all_cb)
        req->all_cb(req->arg, a->addr, a->n, a->err);
    else if (!req->cancelled)
        req->cb(req->arg, a->n ? &a->addr[0].sa : NULL,
                a->n ? evp_dns_sockaddr_len(&a->addr[0]) : 0, a->err);
    free(req);
}

/* Hands req its answer on the next loop turn, never inside evp_resolve or c-ares. */
static void deliver(evp_resolve_req *req, const evp_dns_answer *a)
{
    req->answer = *a;
    for (unsigned i = 0; i < a->n; i++) {
        evp_dns_sockaddr *sa = &req->answer.addr[i];
        if (sa->sa.sa_family == AF_INET)
            sa->in.sin_port = htons((uint16_t)req->port);
        else
            sa->in6.sin6_port = htons((uint16_t)req->port);
    }
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

/* Hands every asker of the started lookup lk answer a, caches it (a failure only when
 * cache_failure) and frees lk. */
static void finish_lookup(evp_resolver *r, lookup *lk, const evp_dns_answer *a, int ttl,
                          int cache_failure)
{
    double now = ev_now(r->loop);
    if (a->n) /* never longer than the records' own TTL */
        evp_dns_cache_put(r->cache, lk->name, lk->family, a,
                          now + (ttl < r->cache_secs ? ttl : r->cache_secs), now);
    else if (cache_failure)
        evp_dns_cache_put(r->cache, lk->name, lk->family, a, now + r->negative_secs, now);
    unlink_started(r, lk);
    release_slot(r);
    while (lk->waiters) {
        evp_resolve_req *req = lk->waiters;
        lk->waiters = req->wait_next;
        deliver(req, a);
    }
    free(lk);
    kick(r); /* a slot is free */
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res);

/* Asks the server at lk's step; one whose channel cannot open is passed over. */
static void ask(evp_resolver *r, lookup *lk)
{
    while (evp_dns_channels_ask(r->chans, lk->order[lk->step], lk->name, lk->family, on_result,
                                lk) != 0)
        if (++lk->step == lk->n_order) {
            evp_dns_answer none = {.err = "no DNS resolver (c-ares failed to start)"};
            evp_err("resolver: cannot start c-ares");
            finish_lookup(r, lk, &none, 0, 0);
            return;
        }
}

/* As V2Ray 4.34 (app/dns/dns.go), the next server is asked only when one timed out (or was
 * unreachable, which V2Ray sees as a time-out) or its answer held none of its expectIPs; any
 * other failure (no such name, no record, a refusal) is the answer. */
static int ask_next(int status, int unexpected)
{
    return unexpected || status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED;
}

/* Takes into a every address of res's nodes that lk may have: of its family, in the
 * expectIPs of the server asked. Returns the smallest TTL among them; *unexpected is set when
 * some address was refused by the expectIPs alone. */
static int take_addresses(const lookup *lk, const evp_dns_servers *servers,
                          const struct ares_addrinfo_node *n, evp_dns_answer *a, int *unexpected)
{
    int ttl = 0;
    for (; n && a->n < EVP_DNS_ADDRS_MAX; n = n->ai_next) {
        int family = n->ai_addr->sa_family;
        if ((family != AF_INET && family != AF_INET6) ||
            (lk->family != AF_UNSPEC && family != lk->family) ||
            n->ai_addrlen > sizeof a->addr[0])
            continue;
        if (!evp_dns_servers_expects(servers, lk->order[lk->step], n->ai_addr)) {
            *unexpected = 1;
            continue;
        }
        if (a->n == 0 || n->ai_ttl < ttl)
            ttl = n->ai_ttl;
        memcpy(&a->addr[a->n++], n->ai_addr, n->ai_addrlen);
    }
    return ttl;
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    lookup *lk = arg;
    evp_resolver *r = lk->r;
    evp_dns_answer a;
    memset(&a, 0, sizeof a);
    int unexpected = 0; /* addresses came, none in the server's expectIPs */
    int ttl = status == ARES_SUCCESS && res ? take_addresses(lk, evp_dns_channels_servers(r->chans),
                                                             res->nodes, &a, &unexpected)
                                            : 0;
    unexpected = unexpected && a.n == 0;
    if (unexpected)
        a.err = "no address in the expectIPs of the DNS server";
    else if (a.n == 0)
        a.err = ares_strerror(status == ARES_SUCCESS ? ARES_ENODATA : status);
    if (res)
        ares_freeaddrinfo(res);
    if (status == ARES_EDESTRUCTION)
        return; /* evp_resolver_free frees the lookup and its waiters */
    if (a.n == 0 && ask_next(status, unexpected) && lk->step + 1 < lk->n_order) {
        lk->step++;
        ask(r, lk);
        return;
    }
    finish_lookup(r, lk, &a, ttl, status != ARES_ENOMEM && status != ARES_ECANCELLED);
}

static int has_live_waiter(const lookup *lk)
{
    for (const evp_resolve_req *q = lk->waiters; q; q = q->wait_next)
        if (!q->cancelled)
            return 1;
    return 0;
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

/* Starts queued lookups while slots are free (new servers first, once none is out: lookups
 * out hold the channels' numbers). */
static void start_queued(evp_resolver *r)
{
    if (r->servers_dirty) {
        if (r->inflight > 0)
            return; /* the last answer kicks again */
        evp_dns_channels_reset(r->chans, r->servers);
        evp_dns_cache_clear(r->cache);
        r->servers_dirty = 0;
    }
    const evp_dns_servers *servers = evp_dns_channels_servers(r->chans);
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
        lk->n_order = servers ? (uint8_t)evp_dns_servers_order(servers, lk->name, lk->order) : 1;
        ask(r, lk);
    }
}

static void on_kick(EV_P_ ev_timer *w, int revents)
{
    ev_timer_set(w, 0., 0.); /* a retry's delay was for once */
    start_queued((evp_resolver *)((char *)w - offsetof(evp_resolver, kick)));
}

static lookup *find_lookup(lookup *list, const char *name, int family)
{
    for (; list; list = list->next)
        if (list->family == family && strcasecmp(list->name, name) == 0)
            return list;
    return NULL;
}

/* The lookup of name and family, started, queued, or queued now; NULL when out of memory. */
static lookup *join_lookup(evp_resolver *r, const char *name, int family)
{
    lookup *lk = find_lookup(r->started, name, family);
    if (lk == NULL)
        lk = find_lookup(r->queued, name, family);
    if (lk != NULL)
        return lk;
    size_t len = strlen(name);
    lk = calloc(1, sizeof *lk + len + 1);
    if (lk == NULL)
        return NULL;
    lk->r = r;
    lk->family = family;
    memcpy(lk->name, name, len + 1);
    if (r->queued_tail)
        r->queued_tail->next = lk;
    else
        r->queued = lk;
    r->queued_tail = lk;
    kick(r);
    return lk;
}

/* hit = what dns.hosts maps name to, of family; 0 when it maps name to another name (then
 * in alias) or not at all. */
static int from_hosts(const evp_resolver *r, const char **name, int family, char *alias,
                      evp_dns_answer *hit)
{
    evp_addr ips[EVP_DNS_ADDRS_MAX];
    size_t n = 0;
    int mapped = evp_dns_hosts_lookup(r->hosts, *name, family, ips, EVP_DNS_ADDRS_MAX, &n, alias);
    if (mapped == 2)
        *name = alias; /* dns.hosts names another name: that one is looked up */
    if (mapped != 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = evp_addr_to_sockaddr(&ips[i], &ss);
        memcpy(&hit->addr[hit->n++], &ss, len);
    }
    if (n == 0) /* mapped, to no address of that family: as V2Ray's empty response */
        hit->err = ares_strerror(ARES_ENODATA);
    return 1;
}

static evp_resolve_req *start(evp_resolver *r, const char *name, unsigned port, int family,
                              evp_resolve_cb cb, evp_resolve_all_cb all_cb, void *arg)
{
    evp_resolve_req *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->r = r;
    req->cb = cb;
    req->all_cb = all_cb;
    req->arg = arg;
    req->port = port;
    evp_dns_answer hit;
    lookup *lk = NULL;
    evp_addr literal = {0}; /* port 0: deliver() sets each asker's */
    char alias[256];
    memset(&hit, 0, sizeof hit);
    int hosted = from_hosts(r, &name, family, alias, &hit);
    if (!hosted && evp_ip_literal(name, strlen(name), &literal)) {
        /* Read as the router reads it, not as c-ares would (c-ares looks "127.1" up as a
         * name and reads "0177.0.0.1" as 177.0.0.1). */
        struct sockaddr_storage ss;
        socklen_t len = evp_addr_to_sockaddr(&literal, &ss);
        memcpy(&hit.addr[hit.n++], &ss, len);
    } else if (!hosted && !evp_dns_cache_get(r->cache, name, family, ev_now(r->loop), &hit)) {
        lk = join_lookup(r, name, family);
        if (lk == NULL) {
            free(req);
            return NULL;
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

evp_resolve_req *evp_resolve_family(evp_resolver *r, const char *name, unsigned port, int family,
                                    evp_resolve_all_cb cb, void *arg)
{
    return start(r, name, port, family, NULL, cb, arg);
}

evp_resolve_req *evp_resolve(evp_resolver *r, const char *name, unsigned port, evp_resolve_cb cb,
                             void *arg)
{
    return start(r, name, port, AF_UNSPEC, cb, NULL, arg);
}

void evp_resolve_cancel(evp_resolve_req *req)
{
    if (req)
        req->cancelled = 1;
}

/* ---- life ------------------------------------------------------------------------------ */

evp_resolver *evp_resolver_new(struct ev_loop *loop)
{
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
    r->chans = evp_dns_channels_new(loop);
    if (r->cache == NULL || r->chans == NULL) {
        evp_dns_cache_free(r->cache);
        evp_dns_channels_free(r->chans);
        free(r);
        return NULL;
    }
    ev_timer_init(&r->kick, on_kick, 0., 0.);
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

void evp_resolver_configure(evp_resolver *r, const evp_limits *l, evp_dns_servers *servers,
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
    if (!evp_dns_servers_same(servers, r->servers)) {
        evp_dns_servers_ref(servers);
        evp_dns_servers_unref(r->servers);
        r->servers = servers;
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
    if (r == NULL)
        return;
    /* started lookups are called back with ARES_EDESTRUCTION, and left to free_lookups */
    evp_dns_channels_free(r->chans);
    if (r->all_inflight) /* their slots, which those callbacks left alone */
        atomic_fetch_sub(r->all_inflight, r->inflight);
    ev_timer_stop(r->loop, &r->kick);
    free_lookups(r->started);
    free_lookups(r->queued);
    while (r->reqs) {
        evp_resolve_req *req = r->reqs;
        r->reqs = req->next;
        ev_timer_stop(r->loop, &req->defer);
        free(req);
    }
    if (r->own_cache)
        evp_dns_cache_free(r->cache);
    evp_dns_hosts_unref(r->hosts);
    evp_dns_servers_unref(r->servers);
    free(r);
}
