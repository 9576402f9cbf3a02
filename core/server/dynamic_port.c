/* Dynamic port (allocate "random"): the host owns the listeners, so it picks an inbound's
 * ports, opens the new ones before it closes the old ones (running sessions keep their own
 * sockets), and announces the current pick in the state store (EVP_STATE_NS_PORTS), where
 * the VMess plugin reads the port and the minutes left for its SwitchAccount. */
#include "server_int.h"

#include "log.h"
#include "state_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORMAT 1
enum { HEAD = 1 + 4 + 8 + 2, MAX_ANNOUNCED = (EVP_STATE_VALUE_MAX - HEAD) / 2 };

/* The clock of the host's monotonic service, which the plugin compares with. */
static double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int evp_port_alloc_wants(const evp_port_alloc *a, unsigned port)
{
    return a == NULL || evp_port_listed(port, a->cur, a->n_cur) ||
           evp_port_listed(port, a->prev, a->n_prev);
}

void evp_port_alloc_free(evp_port_alloc *a)
{
    if (a == NULL)
        return;
    free(a->tag);
    free(a->listen);
    free(a->cur);
    free(a->prev);
    evp_instance_unref(a->in);
    evp_router_unref(a->router);
    free(a);
}

/* The running allocation ic continues: same tag, address, range and allocate. */
static const evp_port_alloc *running(const evp_server *srv, const evp_inbound_conf *ic)
{
    for (size_t i = 0; i < srv->n_allocs; i++) {
        const evp_port_alloc *a = srv->allocs[i];
        if (a && strcmp(a->tag, ic->tag) == 0 && strcmp(a->listen, ic->listen) == 0 &&
            a->first == ic->port && a->last == ic->port_last &&
            a->a.concurrency == ic->alloc.concurrency &&
            a->a.refresh_min == ic->alloc.refresh_min)
            return a;
    }
    return NULL;
}

int evp_port_alloc_plan(evp_server *srv, const evp_inbound_conf *ic, evp_instance *in,
                        evp_router *router, evp_port_alloc **out)
{
    *out = NULL;
    if (!ic->alloc.random)
        return 0;
    evp_port_alloc *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -1;
    size_t room = ic->alloc.concurrency;
    a->tag = strdup(ic->tag);
    a->listen = strdup(ic->listen);
    a->cur = calloc(room, sizeof *a->cur);
    a->prev = calloc(room, sizeof *a->prev);
    if (a->tag == NULL || a->listen == NULL || a->cur == NULL || a->prev == NULL) {
        evp_port_alloc_free(a);
        return -1;
    }
    a->first = ic->port;
    a->last = ic->port_last;
    a->a = ic->alloc;
    a->want_tcp = ic->want_tcp;
    a->want_udp = ic->want_udp;
    a->in = evp_instance_ref(in);
    a->router = evp_router_ref(router);
    const evp_port_alloc *old = running(srv, ic);
    if (old != NULL) { /* a reload keeps the ports clients were told of */
        memcpy(a->cur, old->cur, old->n_cur * sizeof *a->cur);
        memcpy(a->prev, old->prev, old->n_prev * sizeof *a->prev);
        a->n_cur = old->n_cur;
        a->n_prev = old->n_prev;
        a->picked = old->picked;
    } else {
        a->n_cur = evp_allocate_pick(a->first, a->last, room, NULL, 0, NULL, a->cur);
        a->picked = now_monotonic();
    }
    *out = a;
    return 0;
}

/* Writes a's newest pick to the state store for detour announcements. */
static void announce(const evp_port_alloc *a)
{
    if (a->tag[0] == '\0')
        return; /* detour.to names a tag: an untagged inbound is never a target */
    uint8_t v[EVP_STATE_VALUE_MAX];
    size_t n = a->n_cur < MAX_ANNOUNCED ? a->n_cur : MAX_ANNOUNCED;
    uint64_t ms = (uint64_t)(a->picked * 1000);
    v[0] = FORMAT;
    for (int i = 0; i < 4; i++)
        v[1 + i] = (uint8_t)(a->a.refresh_min >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        v[5 + i] = (uint8_t)(ms >> (56 - 8 * i));
    v[13] = (uint8_t)(n >> 8);
    v[14] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        v[HEAD + 2 * i] = (uint8_t)(a->cur[i] >> 8);
        v[HEAD + 2 * i + 1] = (uint8_t)a->cur[i];
    }
    /* Gone on its own once the pick and the one after it would have closed. */
    uint64_t ttl = (uint64_t)a->a.refresh_min * 120 + 60;
    if (evp_host_state_put(EVP_STATE_NS_PORTS, a->tag, strlen(a->tag), v, HEAD + 2 * n,
                           ttl > UINT32_MAX ? UINT32_MAX : (uint32_t)ttl, 0) != 0)
        evp_warn("inbound [%s]: cannot announce its ports (state store full)", a->tag);
}

static const evp_port_alloc *find_tag(evp_port_alloc **allocs, size_t n, const char *tag)
{
    for (size_t i = 0; i < n; i++)
        if (allocs[i] && strcmp(allocs[i]->tag, tag) == 0)
            return allocs[i];
    return NULL;
}

/* "A B C": the ports of list, for the log. */
static void port_list(char *out, size_t cap, const uint16_t *list, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len + 8 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%u", i ? " " : "", list[i]);
}

static void log_pick(const evp_port_alloc *a)
{
    char ports[256];
    port_list(ports, sizeof ports, a->cur, a->n_cur);
    evp_info("inbound [%s] dynamic ports now %s (range %u-%u, next pick in %u min)", a->tag,
             ports, a->first, a->last, a->a.refresh_min);
}

void evp_port_allocs_adopt(evp_server *srv, evp_port_alloc **allocs, size_t n)
{
    for (size_t i = 0; i < srv->n_allocs; i++) {
        evp_port_alloc *old = srv->allocs[i];
        if (old && old->tag[0] && find_tag(allocs, n, old->tag) == NULL)
            evp_host_state_del(EVP_STATE_NS_PORTS, old->tag, strlen(old->tag));
        evp_port_alloc_free(old);
    }
    free(srv->allocs);
    srv->allocs = allocs;
    srv->n_allocs = n;
    for (size_t i = 0; i < n; i++)
        if (allocs[i]) {
            announce(allocs[i]);
            log_pick(allocs[i]);
        }
}

/* ---- re-picking ---------------------------------------------------------------------- */

typedef struct repick {
    evp_port_alloc *a;
    evp_listener *fresh; /* bound for the new ports, one per worker each */
} repick;

/* Closes the sockets bound for port on *fresh (they are at its head). */
static void drop_port(evp_listener **fresh, uint16_t port)
{
    while (*fresh && (*fresh)->port == port) {
        evp_listener *gone = *fresh;
        *fresh = gone->next;
        evp_listener_discard(gone);
    }
}

/* Binds a socket per worker for port (TCP and/or UDP) onto *fresh, unless worker 0 has it
 * open already (a port of the pick before last picked again); -1 (logged) on failure, with
 * nothing of this port left bound. */
static int bind_port(evp_server *srv, const evp_port_alloc *a, uint16_t port,
                     evp_listener **fresh)
{
    char err[256];
    for (int udp = 0; udp <= 1; udp++) {
        if (!(udp ? a->want_udp : a->want_tcp) ||
            evp_listener_find(srv->workers[0].listeners, a->listen, port, udp))
            continue;
        if (evp_listener_claim(srv->workers[0].listeners, *fresh, a->listen, port, udp, err,
                               sizeof err) != 0) {
            evp_warn("inbound [%s]: dynamic port %u skipped: %s", a->tag, port, err);
            drop_port(fresh, port);
            return -1;
        }
        for (unsigned k = 0; k < srv->n_workers; k++) {
            evp_listener *l = evp_listener_bind(a->listen, port, udp, srv->n_workers > 1, err,
                                                sizeof err);
            if (l == NULL) {
                evp_warn("inbound [%s]: dynamic port %u skipped: %s", a->tag, port, err);
                drop_port(fresh, port);
                return -1;
            }
            l->worker = k;
            l->next = *fresh;
            *fresh = l;
        }
    }
    return 0;
}

/* On each worker: start its new sockets, then close those of the range no longer wanted. */
static void repick_on_worker(evp_worker *w, void *arg)
{
    repick *r = arg;
    for (evp_listener **pl = &r->fresh; *pl;) {
        evp_listener *l = *pl;
        if (l->worker != w->id) {
            pl = &l->next;
            continue;
        }
        *pl = l->next;
        l->in = evp_instance_ref(r->a->in);
        l->router = evp_router_ref(r->a->router);
        evp_listener_start(w, l);
    }
    for (evp_listener **pl = &w->listeners; *pl;) {
        evp_listener *l = *pl;
        if (strcmp(l->listen, r->a->listen) == 0 && l->port >= r->a->first &&
            l->port <= r->a->last && !evp_port_alloc_wants(r->a, l->port)) {
            *pl = l->next;
            if (w->id == 0)
                evp_info("closing listener %s:%u", l->listen, l->port);
            evp_listener_free(l);
        } else {
            pl = &l->next;
        }
    }
}

/* Drops from list[0..*n) the ports bind_port could not bind. */
static void bind_list(evp_server *srv, const evp_port_alloc *a, uint16_t *list, size_t *n,
                      evp_listener **fresh)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (bind_port(srv, a, list[i], fresh) == 0)
            list[kept++] = list[i];
    *n = kept;
}

/* Binds the pick's ports; one that cannot be bound is replaced by another free port of the
 * range, a bounded number of times (V2Ray would simply go without it). */
static void bind_pick(evp_server *srv, evp_port_alloc *a, evp_listener **fresh)
{
    enum { RETRIES = 16 };
    uint16_t *avoid = malloc((a->n_prev + a->n_cur + RETRIES) * sizeof *avoid);
    if (avoid == NULL) {
        bind_list(srv, a, a->cur, &a->n_cur, fresh);
        return;
    }
    size_t n_avoid = 0, failed = 0, kept = 0;
    for (size_t i = 0; i < a->n_prev; i++)
        avoid[n_avoid++] = a->prev[i];
    for (size_t i = 0; i < a->n_cur; i++)
        avoid[n_avoid++] = a->cur[i];
    for (size_t i = 0; i < a->n_cur; i++) {
        uint16_t port = a->cur[i];
        while (port != 0 && bind_port(srv, a, port, fresh) != 0) {
            if (failed == RETRIES ||
                evp_allocate_pick(a->first, a->last, 1, avoid, n_avoid, NULL, &port) == 0) {
                port = 0;
            } else {
                avoid[n_avoid++] = port; /* tried: not picked again */
                failed++;
            }
        }
        if (port != 0)
            a->cur[kept++] = port;
    }
    a->n_cur = kept;
    free(avoid);
}

void evp_port_alloc_bind(evp_server *srv, evp_port_alloc *a, evp_listener **fresh)
{
    bind_pick(srv, a, fresh);
    bind_list(srv, a, a->prev, &a->n_prev, fresh);
}

/* The pick becomes the one before; a new pick avoids it; the one before that closes. */
static void repick_ports(evp_server *srv, evp_port_alloc *a, double now)
{
    uint16_t *spare = a->prev;
    a->prev = a->cur;
    a->n_prev = a->n_cur;
    a->cur = spare;
    a->n_cur = evp_allocate_pick(a->first, a->last, a->a.concurrency, a->prev, a->n_prev,
                                 NULL, a->cur);
    a->picked = now;
    repick r = {a, NULL};
    evp_port_alloc_bind(srv, a, &r.fresh);
    evp_workers_run(srv, repick_on_worker, &r);
    announce(a);
    log_pick(a);
}

static void on_repick(EV_P_ ev_timer *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, repick));
    if (srv->reload_job)
        return; /* a plan reads the picks: wait until it is applied */
    double now = now_monotonic();
    for (size_t i = 0; i < srv->n_allocs; i++) {
        evp_port_alloc *a = srv->allocs[i];
        if (a && now - a->picked >= a->a.refresh_min * 60.0)
            repick_ports(srv, a, now);
    }
}

void evp_port_allocs_init(evp_server *srv)
{
    ev_timer_init(&srv->repick, on_repick, 1.0, 1.0);
    ev_timer_start(srv->loop, &srv->repick);
}

void evp_port_allocs_stop(evp_server *srv)
{
    ev_timer_stop(srv->loop, &srv->repick);
    for (size_t i = 0; i < srv->n_allocs; i++) {
        evp_port_alloc *a = srv->allocs[i];
        if (a && a->tag[0])
            evp_host_state_del(EVP_STATE_NS_PORTS, a->tag, strlen(a->tag));
        evp_port_alloc_free(a);
    }
    free(srv->allocs);
    srv->allocs = NULL;
    srv->n_allocs = 0;
}
