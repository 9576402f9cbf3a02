/* Quiet sessions: a relaying session with no byte read or written for QUIET_AFTER seconds
 * and nothing queued lets its codecs drop what they can rebuild (session_idle: expanded
 * cipher state), once per quiet spell; the next byte (evp_sess_touch) ends the spell. */
#include "session_int.h"

#include "instance.h"

#define QUIET_AFTER 2.0

static void tell_idle(evp_session *s)
{
    const evp_outbound_ops *out = s->out != NULL ? evp_outops(s->out) : NULL;
    if (s->inops->session_idle != NULL)
        s->inops->session_idle(s->ins);
    if (out != NULL && out->session_idle != NULL && s->outs != NULL)
        out->session_idle(s->outs);
    if (s->cl.stack)
        evp_tstack_idle(s->cl.stack);
    if (s->sv.stack)
        evp_tstack_idle(s->sv.stack);
    s->told_idle = 1;
}

void evp_sess_wake(evp_session *s)
{
    s->told_idle = 0;
    if (s->state != S_RELAY)
        return;
    ev_timer_stop(s->rt->loop, &s->timer);
    ev_timer_set(&s->timer, QUIET_AFTER, 0.);
    ev_timer_start(s->rt->loop, &s->timer);
}

double evp_sess_idle_check(evp_session *s, double idle, double next)
{
    if (s->state != S_RELAY || s->told_idle)
        return next;
    int queued = evp_qbuf_len(&s->cl.rbuf) || evp_qbuf_len(&s->cl.wbuf) ||
                 evp_qbuf_len(&s->sv.rbuf) || evp_qbuf_len(&s->sv.wbuf) ||
                 evp_qbuf_len(&s->plain) || (s->cl.stack && evp_tstack_held(s->cl.stack)) ||
                 (s->sv.stack && evp_tstack_held(s->sv.stack));
    if (idle >= QUIET_AFTER && !queued) {
        tell_idle(s);
        return next;
    }
    double quiet_in = idle < QUIET_AFTER ? QUIET_AFTER - idle : QUIET_AFTER;
    return quiet_in < next ? quiet_in : next;
}
