/* Admission against the global limits (global_limits.h). Past a cap, TCP listeners pause
 * rather than accept and close: the kernel's backlog holds new clients until a session ends.
 * With several workers the caps bound their sum: each runtime keeps its own counts and adds
 * to the shared evp_load with atomics. */
#include "admission.h"

#include "log.h"

#include <stddef.h>
#include <stdio.h>

#define WARN_EVERY 60.0 /* seconds between two warnings about one cap */

#define RELAXED memory_order_relaxed

/* Every worker's count when they share a load, else rt's own. */
static size_t total(const evp_runtime *rt, size_t mine, const atomic_size_t *all)
{
    return rt->load ? atomic_load_explicit(all, RELAXED) : mine;
}

static size_t sessions(const evp_runtime *rt)
{
    return total(rt, rt->n_sessions, rt->load ? &rt->load->sessions : NULL);
}

static size_t handshakes(const evp_runtime *rt)
{
    return total(rt, rt->n_handshakes, rt->load ? &rt->load->handshakes : NULL);
}

static size_t assocs(const evp_runtime *rt)
{
    return total(rt, rt->n_assocs, rt->load ? &rt->load->assocs : NULL);
}

int evp_admission_enter(evp_runtime *rt, int handshake)
{
    if (rt->load) {
        /* Counted first, checked after: two workers racing for the last place cannot both
         * take it (the loser's connection is closed; the listeners pause on the next one). */
        size_t s = atomic_fetch_add_explicit(&rt->load->sessions, 1, RELAXED);
        size_t h = handshake ? atomic_fetch_add_explicit(&rt->load->handshakes, 1, RELAXED) : 0;
        if (s >= rt->limits.max_sessions || (handshake && h >= rt->limits.max_handshakes)) {
            atomic_fetch_sub_explicit(&rt->load->sessions, 1, RELAXED);
            if (handshake)
                atomic_fetch_sub_explicit(&rt->load->handshakes, 1, RELAXED);
            return 0;
        }
    }
    rt->n_sessions++;
    if (handshake)
        rt->n_handshakes++;
    return 1;
}

void evp_admission_handshake_done(evp_runtime *rt)
{
    rt->n_handshakes--;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->handshakes, 1, RELAXED);
}

void evp_admission_leave(evp_runtime *rt, int handshake)
{
    if (handshake)
        evp_admission_handshake_done(rt);
    rt->n_sessions--;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->sessions, 1, RELAXED);
}

void evp_admission_assoc_count(evp_runtime *rt, int delta)
{
    rt->n_assocs += (size_t)(ptrdiff_t)delta;
    if (rt->load)
        atomic_fetch_add_explicit(&rt->load->assocs, (size_t)(ptrdiff_t)delta, RELAXED);
}

/* Starts an episode; 1 when it is to be logged (with e->unwarned since the last one). */
static int episode_start(evp_runtime *rt, evp_episode *e)
{
    if (e->on)
        return 0;
    e->on = 1;
    double now = ev_now(rt->loop);
    if (e->warned_at > 0 && now - e->warned_at < WARN_EVERY) {
        e->unwarned++;
        return 0;
    }
    e->warned_at = now;
    return 1;
}

/* Starts episode e of a cap at n of cap (named key); warns "what" when it is to be logged.
 * Returns 0, so that callers can return its value for "refused". */
static int refuse(evp_runtime *rt, evp_episode *e, size_t n, const char *key, unsigned cap,
                  const char *what)
{
    char more[64] = "";
    if (!episode_start(rt, e))
        return 0;
    if (e->unwarned)
        snprintf(more, sizeof more, " (%u more since the last warning)", e->unwarned);
    e->unwarned = 0;
    evp_warn("limits: %zu of %s %u; %s%s", n, key, cap, what, more);
    return 0;
}

int evp_admission_room(const evp_runtime *rt)
{
    return sessions(rt) < rt->limits.max_sessions && handshakes(rt) < rt->limits.max_handshakes;
}

void evp_admission_pause(evp_runtime *rt)
{
    const char *what = "not accepting until one ends";
    int was = rt->accept_paused.on;
    size_t n = sessions(rt);
    if (n >= rt->limits.max_sessions)
        refuse(rt, &rt->accept_paused, n, "maxSessions", rt->limits.max_sessions, what);
    else
        refuse(rt, &rt->accept_paused, handshakes(rt), "maxHandshakes",
               rt->limits.max_handshakes, what);
    if (!was && rt->load)
        atomic_fetch_add_explicit(&rt->load->paused, 1, RELAXED);
}

void evp_admission_changed(evp_runtime *rt)
{
    if (sessions(rt) < rt->limits.max_sessions)
        rt->udp_full.on = 0;
    if (assocs(rt) < rt->limits.max_udp_assocs)
        rt->assocs_full.on = 0;
    if (!evp_admission_room(rt))
        return;
    /* The room may be another worker's to take: its listeners wait for a wake-up. */
    if (rt->load && rt->wake_workers &&
        atomic_load_explicit(&rt->load->paused, RELAXED) > (unsigned)rt->accept_paused.on)
        rt->wake_workers(rt);
    if (!rt->accept_paused.on)
        return;
    rt->accept_paused.on = 0;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->paused, 1, RELAXED);
    evp_debug("limits: accepting again (%zu sessions, %zu handshakes)", sessions(rt),
              handshakes(rt));
    if (rt->resume_accepting)
        rt->resume_accepting(rt);
}

int evp_admission_udp(evp_runtime *rt)
{
    size_t n = sessions(rt);
    return n < rt->limits.max_sessions ||
           refuse(rt, &rt->udp_full, n, "maxSessions", rt->limits.max_sessions,
                  "datagrams that need a new UDP session are dropped");
}

int evp_admission_assoc(evp_runtime *rt)
{
    size_t n = assocs(rt);
    return n < rt->limits.max_udp_assocs ||
           refuse(rt, &rt->assocs_full, n, "maxUdpAssociations", rt->limits.max_udp_assocs,
                  "new UDP associations are refused");
}
