/* Admission against the global limits (global_limits.h). Past a cap, TCP listeners pause
 * rather than accept and close: the kernel's backlog holds new clients until a session ends.
 * With several workers the caps bound their sum: each runtime keeps its own counts and adds
 * to the shared evp_load with atomics. */
#include "admission.h"

#include "log.h"

#include <stddef.h>
#include <stdio.h>

#define WARN_EVERY 60.0 /* seconds between two warnings about one cap */

/* Sequentially consistent: a worker pausing (paused++, then reading the counts) and one
 * making room (count--, then reading paused) must not both miss the other. On x86 these
 * cost what relaxed ones do (locked RMWs, plain loads). */
#define ORDER memory_order_seq_cst

/* Every worker's count when they share a load, else rt's own. */
static size_t total(const evp_runtime *rt, size_t mine, const atomic_size_t *all)
{
    return rt->load ? atomic_load_explicit(all, ORDER) : mine;
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

/* Takes a place in the shared counts, 0 when at a cap. Counted first, checked after: two
 * workers racing for the last place cannot both take it. */
static int take_place(evp_runtime *rt, int handshake)
{
    size_t s = atomic_fetch_add_explicit(&rt->load->sessions, 1, ORDER);
    size_t h = handshake ? atomic_fetch_add_explicit(&rt->load->handshakes, 1, ORDER) : 0;
    if (s < rt->limits.max_sessions && (!handshake || h < rt->limits.max_handshakes))
        return 1;
    atomic_fetch_sub_explicit(&rt->load->sessions, 1, ORDER);
    if (handshake)
        atomic_fetch_sub_explicit(&rt->load->handshakes, 1, ORDER);
    return 0;
}

int evp_admission_reserve(evp_runtime *rt)
{
    if (rt->load == NULL)
        return evp_admission_room(rt);
    if (!rt->reserved)
        rt->reserved = take_place(rt, 1);
    return rt->reserved;
}

void evp_admission_unreserve(evp_runtime *rt)
{
    if (!rt->reserved)
        return;
    rt->reserved = 0;
    atomic_fetch_sub_explicit(&rt->load->sessions, 1, ORDER);
    atomic_fetch_sub_explicit(&rt->load->handshakes, 1, ORDER);
    evp_admission_changed(rt); /* another worker may have paused for this place */
}

int evp_admission_enter(evp_runtime *rt, int handshake)
{
    if (rt->load && handshake && rt->reserved)
        rt->reserved = 0; /* taken before the accept */
    else if (rt->load && !take_place(rt, handshake))
        return 0;
    rt->n_sessions++;
    if (handshake)
        rt->n_handshakes++;
    return 1;
}

void evp_admission_handshake_done(evp_runtime *rt)
{
    rt->n_handshakes--;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->handshakes, 1, ORDER);
}

void evp_admission_leave(evp_runtime *rt, int handshake)
{
    if (handshake)
        evp_admission_handshake_done(rt);
    rt->n_sessions--;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->sessions, 1, ORDER);
}

void evp_admission_assoc_count(evp_runtime *rt, int delta)
{
    rt->n_assocs += (size_t)(ptrdiff_t)delta;
    if (rt->load)
        atomic_fetch_add_explicit(&rt->load->assocs, (size_t)(ptrdiff_t)delta, ORDER);
}

/* Starts an episode; 1 when it is to be logged (w: when the last one was, shared by the
 * workers). Of workers starting one at once, one wins the exchange and logs it. */
static int episode_start(evp_runtime *rt, evp_episode *e, evp_warned *w)
{
    if (e->on)
        return 0;
    e->on = 1;
    long long now = (long long)(ev_now(rt->loop) * 1000);
    long long last = atomic_load_explicit(&w->at_ms, ORDER);
    if ((last > 0 && now - last < (long long)(WARN_EVERY * 1000)) ||
        !atomic_compare_exchange_strong(&w->at_ms, &last, now)) {
        atomic_fetch_add_explicit(&w->unwarned, 1, ORDER);
        return 0;
    }
    return 1;
}

/* Starts episode e of a cap at n of cap (named key); warns "what" when it is to be logged.
 * shared: the workers' record of this cap's warnings (NULL: e's own). Returns 0, so that
 * callers can return its value for "refused". */
static int refuse(evp_runtime *rt, evp_episode *e, evp_warned *shared, size_t n,
                  const char *key, unsigned cap, const char *what)
{
    char more[64] = "";
    evp_warned *w = rt->load ? shared : &e->own;
    if (!episode_start(rt, e, w))
        return 0;
    unsigned unwarned = atomic_exchange_explicit(&w->unwarned, 0, ORDER);
    if (unwarned)
        snprintf(more, sizeof more, " (%u more since the last warning)", unwarned);
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
    evp_warned *shared = rt->load ? &rt->load->accept_warned : NULL;
    if (n >= rt->limits.max_sessions)
        refuse(rt, &rt->accept_paused, shared, n, "maxSessions", rt->limits.max_sessions, what);
    else
        refuse(rt, &rt->accept_paused, shared, handshakes(rt), "maxHandshakes",
               rt->limits.max_handshakes, what);
    if (!was && rt->load)
        atomic_fetch_add_explicit(&rt->load->paused, 1, ORDER);
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
        atomic_load_explicit(&rt->load->paused, ORDER) > (unsigned)rt->accept_paused.on)
        rt->wake_workers(rt);
    if (!rt->accept_paused.on)
        return;
    rt->accept_paused.on = 0;
    if (rt->load)
        atomic_fetch_sub_explicit(&rt->load->paused, 1, ORDER);
    evp_debug("limits: accepting again (%zu sessions, %zu handshakes)", sessions(rt),
              handshakes(rt));
    if (rt->resume_accepting)
        rt->resume_accepting(rt);
}

int evp_admission_udp(evp_runtime *rt)
{
    size_t n = sessions(rt);
    return n < rt->limits.max_sessions ||
           refuse(rt, &rt->udp_full, rt->load ? &rt->load->udp_warned : NULL, n, "maxSessions", rt->limits.max_sessions,
                  "datagrams that need a new UDP session are dropped");
}

int evp_admission_assoc(evp_runtime *rt)
{
    size_t n = assocs(rt);
    return n < rt->limits.max_udp_assocs ||
           refuse(rt, &rt->assocs_full, rt->load ? &rt->load->assocs_warned : NULL, n,
                  "maxUdpAssociations", rt->limits.max_udp_assocs,
                  "new UDP associations are refused");
}
