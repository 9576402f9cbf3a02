/* Admission against the global limits (global_limits.h). Past a cap, TCP listeners pause
 * rather than accept and close: the kernel's backlog holds new clients until a session ends. */
#include "admission.h"

#include "log.h"

#include <stdio.h>

#define WARN_EVERY 60.0 /* seconds between two warnings about one cap */

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
    return rt->n_sessions < rt->limits.max_sessions &&
           rt->n_handshakes < rt->limits.max_handshakes;
}

void evp_admission_pause(evp_runtime *rt)
{
    const char *what = "not accepting until one ends";
    if (rt->n_sessions >= rt->limits.max_sessions)
        refuse(rt, &rt->accept_paused, rt->n_sessions, "maxSessions", rt->limits.max_sessions,
               what);
    else
        refuse(rt, &rt->accept_paused, rt->n_handshakes, "maxHandshakes",
               rt->limits.max_handshakes, what);
}

void evp_admission_changed(evp_runtime *rt)
{
    if (rt->n_sessions < rt->limits.max_sessions)
        rt->udp_full.on = 0;
    if (rt->n_assocs < rt->limits.max_udp_assocs)
        rt->assocs_full.on = 0;
    if (!rt->accept_paused.on || !evp_admission_room(rt))
        return;
    rt->accept_paused.on = 0;
    evp_debug("limits: accepting again (%zu sessions, %zu handshakes)", rt->n_sessions,
              rt->n_handshakes);
    if (rt->resume_accepting)
        rt->resume_accepting(rt);
}

int evp_admission_udp(evp_runtime *rt)
{
    return rt->n_sessions < rt->limits.max_sessions ||
           refuse(rt, &rt->udp_full, rt->n_sessions, "maxSessions", rt->limits.max_sessions,
                  "datagrams that need a new UDP session are dropped");
}

int evp_admission_assoc(evp_runtime *rt)
{
    return rt->n_assocs < rt->limits.max_udp_assocs ||
           refuse(rt, &rt->assocs_full, rt->n_assocs, "maxUdpAssociations",
                  rt->limits.max_udp_assocs, "new UDP associations are refused");
}
