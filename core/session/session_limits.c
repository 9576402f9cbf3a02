/* Per-user limits on sessions (core/limits): once the inbound knows the user, a place is
 * taken for the session and its client address, or the session is refused; while it relays
 * its bytes are charged to the user's buckets (a direction in debt stops reading until a
 * timer says the tokens are back), and it is cut when the quota or the expiry passes.
 * A session of a user without limits carries a NULL pointer and costs one test. */
#include "session_int.h"

#include "log.h"
#include "user_limits.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRY_CHECK_MAX 3600.0 /* a session whose user expires later looks again this soon */

struct evp_sess_lim {
    ev_timer timer; /* first member: the callback finds the struct by a cast */
    evp_session *s;
    evp_user_limit *u;
    uint8_t addr[16];      /* the client address its place holds (IPv4 mapped) */
    uint8_t counted;       /* it holds a place against "sessions" */
    uint8_t hold[2];       /* reads paused: [0] from the client, [1] from the server */
    uint64_t charged[2];   /* bytes_up, bytes_down charged so far */
    char cut[160];         /* set: the session is to be cut for this reason */
};

/* The client address as 16 bytes, IPv4 mapped into IPv6 (all zero when unknown). */
static void client_addr16(evp_session *s, uint8_t out[16])
{
    struct sockaddr_storage ss;
    const struct sockaddr *sa = evp_sess_client_sockaddr(s, &ss);
    memset(out, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static void arm(evp_sess_lim *l, double after)
{
    struct ev_loop *loop = l->s->rt->loop;
    ev_timer_stop(loop, &l->timer);
    ev_timer_set(&l->timer, after, 0.);
    ev_timer_start(loop, &l->timer);
}

/* Re-arms the timer for what the session waits for now: the end of a pause, else the
 * user's expiry (none: stopped). */
static void schedule(evp_sess_lim *l, const double wait[2])
{
    double after = wait[0] > wait[1] ? wait[0] : wait[1];
    if (after > 0) {
        arm(l, after);
        return;
    }
    double left = evp_limit_expires_in(l->u, ev_now(l->s->rt->loop));
    if (left < 0)
        ev_timer_stop(l->s->rt->loop, &l->timer);
    else
        arm(l, left < EXPIRY_CHECK_MAX ? left : EXPIRY_CHECK_MAX);
}

/* Charges the bytes moved since the last charge; sets the pauses, or the cut. */
static void charge(evp_sess_lim *l)
{
    evp_session *s = l->s;
    uint64_t up = s->bytes_up - l->charged[0], down = s->bytes_down - l->charged[1];
    l->charged[0] = s->bytes_up;
    l->charged[1] = s->bytes_down;
    double wait[2];
    if (evp_limit_charge(l->u, up, down, ev_now(s->rt->loop), wait, l->cut, sizeof l->cut)) {
        arm(l, 0.); /* cut from the loop, not from under the caller */
        return;
    }
    int was = l->hold[0] | l->hold[1];
    l->hold[0] = wait[0] > 0;
    l->hold[1] = wait[1] > 0;
    if (l->hold[0] || l->hold[1] || was)
        schedule(l, wait);
}

static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_sess_lim *l = (evp_sess_lim *)w;
    evp_session *s = l->s;
    if (l->cut[0]) {
        evp_warn("%s cut: %s", s->label, l->cut);
        evp_sess_close(s, NULL);
        return;
    }
    charge(l); /* the pauses held re-arm the timer, or end */
    if (l->cut[0])
        return;
    if (!ev_is_active(&l->timer)) {
        const double none[2] = {0, 0};
        schedule(l, none); /* the expiry, looked at again */
    }
    evp_sess_update_watchers(s);
}

int evp_sess_limits_admit(evp_session *s)
{
    const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    evp_user_limit *u = user ? evp_limits_find(s->in->tag, user) : NULL;
    if (u == NULL)
        return 0;
    evp_sess_lim *l = calloc(1, sizeof *l);
    if (l == NULL) {
        evp_sess_rejected(s, "out of memory for the user's limits");
        evp_sess_close(s, NULL);
        return -1;
    }
    l->s = s;
    l->u = u;
    client_addr16(s, l->addr);
    char why[sizeof l->cut];
    if (!evp_limit_admit(u, l->addr, ev_now(s->rt->loop), why, sizeof why)) {
        free(l);
        evp_sess_rejected(s, why);
        evp_sess_close(s, NULL);
        return -1;
    }
    l->counted = 1;
    ev_timer_init(&l->timer, on_timer, 0., 0.);
    s->lim = l;
    const double none[2] = {0, 0};
    schedule(l, none); /* the expiry, if any */
    return 0;
}

void evp_sess_limits_account(evp_session *s)
{
    evp_sess_lim *l = s->lim;
    if (!s->carrier && l->cut[0] == '\0' &&
        (s->bytes_up != l->charged[0] || s->bytes_down != l->charged[1]))
        charge(l);
}

void evp_sess_limits_carrier(evp_session *s)
{
    if (s->lim && s->lim->counted) {
        s->lim->counted = 0;
        evp_limit_forget_session(s->lim->u);
    }
}

void evp_sess_limits_end(evp_session *s)
{
    evp_sess_lim *l = s->lim;
    s->lim = NULL;
    ev_timer_stop(s->rt->loop, &l->timer);
    double wait[2];
    char why[sizeof l->cut];
    if (!s->carrier) /* the bytes since the last charge count against the quota too */
        evp_limit_charge(l->u, s->bytes_up - l->charged[0], s->bytes_down - l->charged[1],
                         ev_now(s->rt->loop), wait, why, sizeof why);
    if (l->counted)
        evp_limit_forget_session(l->u);
    evp_limit_leave(l->u, l->addr, ev_now(s->rt->loop));
    free(l);
}

int evp_sess_limits_hold(const evp_session *s, int down)
{
    return s->lim != NULL && s->lim->hold[down];
}
