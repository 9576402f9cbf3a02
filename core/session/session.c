/* Sessions: lifecycle, the inbound's handshake, the io callbacks and timers. A session joins
 * a client endpoint (inbound codec) and a server endpoint (outbound codec); dialling is in
 * session_dial.c, the relay itself in session_relay.c.
 *
 * Up: client bytes -> inbound.decode -> plain -> outbound.encode -> server wbuf.
 * Down: server bytes -> outbound.decode -> plain -> inbound.encode -> client wbuf.
 * A side stops reading while the opposite wbuf holds its level's bufferSize and resumes
 * below a quarter of it (evp_sess_high, evp_sess_low). An end of stream (FIN or the
 * protocol's own marker) is passed on as the protocol's marker plus shutdown(SHUT_WR), so
 * half-closes are carried through. */
#include "session_int.h"

#include "admission.h"
#include "buf.h"
#include "log.h"
#include "mux_conn.h"
#include "stats.h"
#include "v2stats.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- the handshake and draining ------------------------------------------------------- */

/* The session no longer counts against limits.maxHandshakes. */
static void handshake_over(evp_session *s)
{
    if (!s->handshaking)
        return;
    s->handshaking = 0;
    evp_admission_handshake_done(s->rt);
    evp_admission_changed(s->rt);
}

void evp_sess_handshake(evp_session *s)
{
    endpoint *cl = &s->cl;
    evp_io io;
    int r = evp_sess_run_codec(s->inops->decode, s->ins, evp_qbuf_head(&cl->rbuf),
                               evp_qbuf_len(&cl->rbuf), cl->eof, &s->plain.b, &cl->wbuf.b, &io);
    evp_qbuf_take(&cl->rbuf, io.consumed);
    if (r == EVP_TARGET) {
        handshake_over(s);
        uint32_t level = s->inops->session_level ? s->inops->session_level(s->ins) : 0;
        s->level = (uint8_t)(level < EVP_POLICY_LEVELS ? level : EVP_POLICY_LEVELS);
        if (evp_sess_limits_admit(s) != 0)
            return; /* refused by its user's limits: closed */
        s->target = io.target;
        if (cl->kind == EP_STREAM && io.network == EVP_NET_UDP_RELAY) {
            evp_sess_start_assoc(s);
            return;
        }
        if (s->network == 0)
            s->network = io.network ? io.network : EVP_NET_TCP;
        evp_sess_open_outbound(s);
        return;
    }
    if (r == EVP_ERR) {
        evp_sess_rejected(s, io.reason[0] ? io.reason : "bad handshake");
        if (io.drain > 0 && !cl->eof) {
            /* Read and drop what a prober sends before closing, as V2Ray does. */
            s->state = S_DRAIN;
            size_t held = evp_qbuf_len(&cl->rbuf);
            s->drain_left = io.drain > held ? io.drain - (uint32_t)held : 0;
            evp_qbuf_free(&cl->rbuf);
            if (s->drain_left == 0)
                evp_sess_close(s, NULL);
            else
                evp_sess_flush_all(s);
            return;
        }
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
        evp_sess_flush_all(s);
        return;
    }
    if (cl->eof) {
        evp_sess_close(s, NULL); /* the client left before naming a target */
        return;
    }
    evp_sess_flush_all(s);
}

/* ---- callbacks ------------------------------------------------------------------------- */

static void on_client_read(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)w;
    evp_session *s = ep->s;
    int r = evp_sess_read_endpoint(ep);
    if (r == 2)
        return;
    if (r == -1 && s->state != S_DRAIN) {
        evp_sess_close_err(s, "client connection failed", errno);
        return;
    }
    evp_sess_touch(s);
    if (r <= 0)
        ep->eof = 1;
    switch (s->state) {
    case S_DRAIN:
        if (r <= 0 || evp_qbuf_len(&ep->rbuf) >= s->drain_left) {
            evp_sess_close(s, NULL);
            return;
        }
        s->drain_left -= (uint32_t)evp_qbuf_len(&ep->rbuf);
        evp_qbuf_free(&ep->rbuf);
        return;
    case S_HANDSHAKE:
        evp_sess_handshake(s);
        return;
    case S_SNIFF:
        evp_sess_sniff_input(s);
        return;
    case S_ASSOC:
        evp_qbuf_free(&ep->rbuf); /* nothing is expected on the control connection */
        if (ep->eof) {
            evp_sess_close(s, NULL); /* its end ends the UDP relay */
            return;
        }
        evp_sess_update_watchers(s);
        return;
    case S_RELAY:
        if (s->first_wait) {
            evp_sess_first_encode(s);
            return;
        }
        evp_sess_pump_up(s);
        if (s->state == S_RELAY)
            evp_sess_flush_all(s);
        return;
    default:
        evp_sess_update_watchers(s);
    }
}

static void on_server_read(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)w;
    evp_session *s = ep->s;
    int r = evp_sess_read_endpoint(ep);
    if (r == 2)
        return;
    if (r == 0 && s->sub_link && s->sub_link->failed) {
        r = -1; /* a Mux sub-stream the server ended with Error: cut, not complete */
        errno = ECONNRESET;
    }
    if (r == -1 && !s->up_done) {
        evp_sess_close_err(s, "server connection failed", errno);
        return;
    }
    if (r == -1) /* what came before still goes to the client, then a reset, not a FIN */
        s->down_err = errno ? errno : ECONNRESET;
    evp_sess_touch(s);
    if (r <= 0)
        ep->eof = 1;
    evp_sess_pump_down(s);
    if (s->state == S_RELAY)
        evp_sess_flush_all(s);
}

static void on_write(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)((char *)w - offsetof(endpoint, wio));
    evp_session *s = ep->s;
    if (s->state == S_CONNECTING && ep == &s->sv) {
        evp_sess_on_connected(s);
        return;
    }
    evp_sess_touch(s);
    int was_full = !evp_sess_below(evp_sess_pending(ep), evp_sess_low(s));
    if (evp_sess_flush_all(s))
        return;
    /* Room again: take the input that waited for it. */
    if (was_full && evp_sess_below(evp_sess_pending(ep), evp_sess_low(s)) &&
        s->state == S_RELAY) {
        if (ep == &s->sv)
            evp_sess_pump_up(s);
        else
            evp_sess_pump_down(s);
        if (s->state == S_RELAY)
            evp_sess_flush_all(s);
    }
}

/* The timeouts of s's user's level: level 0's are the runtime's fields; a level not
 * configured (or above 15) gets V2Ray's defaults (connIdle 300 s). */
static void level_policy(const evp_session *s, evp_level_policy *p)
{
    const evp_runtime *rt = s->rt;
    *p = (evp_level_policy){rt->idle_timeout, rt->uplink_only, rt->downlink_only};
    if (s->level == 0)
        return;
    if (s->level < EVP_POLICY_LEVELS && rt->levels[s->level].conn_idle > 0)
        *p = rt->levels[s->level];
    else
        *p = (evp_level_policy){300.0, 0, 0};
}

static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_session *s = (evp_session *)w;
    if (s->state == S_RESETTING) {
        evp_sess_reset_client(s);
        return;
    }
    if (s->state == S_SNIFF) {
        evp_sess_sniff_timeout(s); /* one wait for the first payload ran out */
        return;
    }
    if (s->first_wait) {
        evp_sess_first_encode(s); /* the client sent nothing: the header goes alone */
        if (s->state == S_RELAY)
            on_timer(EV_A_ w, revents); /* the idle timer again */
        return;
    }
    if (s->state == S_RELAY && evp_v2stats_enabled()) {
        const evp_inbound_ops *ops = s->inops;
        evp_sess_v2stats_flush(s, ops->session_user ? ops->session_user(s->ins) : NULL,
                               s->outs && !s->carrier);
    }
    evp_level_policy pol;
    level_policy(s, &pol);
    double limit = s->state == S_RELAY
                       ? (s->network == EVP_NET_UDP ? s->rt->udp_timeout : pol.conn_idle)
                   : s->state == S_CONNECTING || s->state == S_RESOLVING ? s->rt->connect_timeout
                                                                         : s->rt->handshake_timeout;
    /* V2Ray's policy: once one direction has ended the other gets its own limit. */
    if (s->state == S_RELAY && s->down_done && pol.uplink_only > 0)
        limit = pol.uplink_only;
    else if (s->state == S_RELAY && s->up_done && pol.downlink_only > 0)
        limit = pol.downlink_only;
    double idle = ev_now(EV_A) - s->last_active;
    /* The handshake deadline counts from the accept, as V2Ray's does: a client that drips a
     * byte now and then must not hold a session open forever. */
    if (s->state == S_HANDSHAKE || s->state == S_DRAIN)
        idle = ev_now(EV_A) - s->started;
    if (s->state == S_ASSOC) {
        /* Lives as long as its TCP connection, or until no datagram has crossed it for
         * limits.udpIdle. */
        limit = s->rt->limits.udp_idle;
        double last = s->companion->last_active(s->companion);
        idle = ev_now(EV_A) - (last > s->last_active ? last : s->last_active);
    }
    if (idle >= limit) {
        if (s->state == S_CONNECTING || s->state == S_RESOLVING)
            evp_sess_connect_failed(s, "connect timed out");
        else if (s->state == S_ASSOC)
            evp_sess_close(s, "no datagram for limits.udpIdle");
        else
            evp_sess_close(s, s->state == S_RELAY || s->state == S_DRAIN ? NULL
                                                                         : "handshake timed out");
        return;
    }
    ev_timer_set(w, evp_sess_idle_check(s, idle, limit - idle) + 0.01, 0.);
    ev_timer_start(EV_A, w);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void endpoint_init(endpoint *ep, evp_session *s, int fd, void (*read_cb)(EV_P_ ev_io *, int))
{
    ep->s = s;
    ep->fd = fd;
    ev_io_init(&ep->rio, read_cb, fd, EV_READ);
    ev_io_init(&ep->wio, on_write, fd, EV_WRITE);
}

/* The common part: ops/ins already made (ins == NULL: out of memory). */
static evp_session *sess_start(evp_session *s, evp_runtime *rt, int fd, evp_instance *in,
                               evp_router *router)
{
    if (s->ins == NULL || !evp_admission_enter(rt, fd != -1)) {
        if (s->ins) /* another worker took the last place under a cap */
            s->inops->session_free(s->ins);
        evp_instance_unref(s->in);
        evp_router_unref(s->router);
        free(s);
        return NULL;
    }
    s->handshaking = fd != -1;
    s->next = rt->sessions;
    if (rt->sessions)
        rt->sessions->prev = s;
    rt->sessions = s;
    ev_timer_init(&s->timer, on_timer, rt->handshake_timeout, 0.);
    evp_sess_touch(s);
    s->started = s->last_active;
    ev_timer_start(rt->loop, &s->timer);
    return s;
}

static evp_session *sess_alloc(evp_runtime *rt, int fd, evp_instance *in, evp_router *router)
{
    evp_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->rt = rt;
    s->in = evp_instance_ref(in);
    s->router = evp_router_ref(router);
    endpoint_init(&s->cl, s, fd, on_client_read);
    endpoint_init(&s->sv, s, -1, on_server_read);
    snprintf(s->label, sizeof s->label, "(handshake)");
    return s;
}

evp_session *evp_sess_new(evp_runtime *rt, int fd, evp_instance *in, evp_router *router)
{
    evp_session *s = sess_alloc(rt, fd, in, router);
    if (s == NULL)
        return NULL;
    s->inops = evp_inops(in);
    /* fd -1: a peer behind a UDP listener (session_udp.c). */
    evp_session_info info = {.size = sizeof info,
                             .network = fd == -1 ? EVP_NET_UDP : EVP_NET_TCP};
    s->ins = s->inops->session_open ? s->inops->session_open(in->inst, &info)
                                    : s->inops->session_new(in->inst);
    return sess_start(s, rt, fd, in, router);
}

evp_session *evp_sess_new_host_codec(evp_runtime *rt, int fd, evp_instance *in,
                                     evp_router *router, const evp_inbound_ops *ops)
{
    evp_session *s = sess_alloc(rt, fd, in, router);
    if (s == NULL)
        return NULL;
    s->inops = ops;
    s->ins = s;
    return sess_start(s, rt, fd, in, router);
}

evp_session *evp_session_tcp(evp_runtime *rt, int fd, evp_instance *in, evp_router *router)
{
    int one = 1;
    set_nonblock(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A connection whose top layer multiplexes (HTTP/2) carries the inbound's sessions. */
    evp_session *s = evp_sess_layer_mux(in) ? evp_sess_new_layer_carrier(rt, fd, in, router)
                                            : evp_sess_new(rt, fd, in, router);
    if (s == NULL) {
        close(fd);
        return NULL;
    }
    if (in->transports == NULL || (s->layer_mux && in->transports->n == 1)) {
        evp_sess_handshake(s); /* a protocol with a fixed target answers with no input */
        return s;
    }
    if (evp_sess_stack_server(s) != 0) {
        evp_sess_close(s, "out of memory");
        return NULL;
    }
    /* Behind layers the first handshake call waits for their first read, so that a fixed
     * target (dokodemo-door) is dialled and logged with the address a front named. */
    evp_sess_update_watchers(s);
    return s;
}

static void endpoint_free(evp_runtime *rt, endpoint *ep)
{
    ev_io_stop(rt->loop, &ep->rio);
    ev_io_stop(rt->loop, &ep->wio);
    if (ep->fd != -1)
        close(ep->fd);
    evp_qbuf_free(&ep->rbuf);
    evp_qbuf_free(&ep->wbuf);
    evp_tstack_free(ep->stack);
    ep->stack = NULL;
}

static void on_free(EV_P_ ev_timer *w, int revents)
{
    free(w);
}

/* The one teardown, whatever went wrong. The memory goes on the next loop turn, so a
 * caller up the stack can still read s->state (S_DEAD) and stop. */
void evp_sess_close(evp_session *s, const char *why)
{
    evp_runtime *rt = s->rt;
    if (s->state == S_DEAD)
        return;
    int was = s->state;
    s->state = S_DEAD;
    if (why)
        evp_info("%s closed: %s", s->label, why);
    ev_timer_stop(rt->loop, &s->timer);
    if (s->lim)
        evp_sess_limits_end(s);
    evp_resolve_cancel(s->resolving);
    free(s->dial);
    s->dial = NULL;
    free(s->access_to);
    s->access_to = NULL;
    int relayed = s->outs && was != S_DRAIN && !s->carrier;
    const char *user = NULL;
    if (relayed) {
        const evp_inbound_ops *ops = s->inops;
        user = ops->session_user ? ops->session_user(s->ins) : NULL;
        evp_stats_add(s->in->tag, s->out->tag, user, s->bytes_up, s->bytes_down);
    }
    /* As V2Ray, an inbound counts its connection whatever came of it (a refused handshake,
     * a Mux carrier), an outbound the connections it dialled (a Mux client's carrier too),
     * a user only the payload a routed session relayed. */
    evp_sess_v2stats_flush(s, user, relayed);
    if (s->cone)
        evp_sess_cone_end(s); /* before the socket closes: it may be kept */
    endpoint_free(rt, &s->cl);
    endpoint_free(rt, &s->sv);
    evp_qbuf_free(&s->plain);
    if (s->companion)
        s->companion->close(s->companion);
    s->companion = NULL;
    if (s->udp_owner)
        s->udp_owner->forget(s->udp_owner, s);
    if (s->outs)
        evp_outops(s->out)->session_free(s->outs);
    s->inops->session_free(s->ins);
    if (s->sub_link)
        evp_sess_sub_link_end(s);
    evp_instance_unref(s->in);
    evp_instance_unref(s->out);
    evp_instance_unref(s->forced_out);
    evp_router_unref(s->router);
    if (s->prev)
        s->prev->next = s->next;
    else
        rt->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    evp_admission_leave(rt, s->handshaking);
    s->handshaking = 0;
    evp_admission_changed(rt); /* room again: the listeners may resume */
    ev_timer_init(&s->timer, on_free, 0., 0.);
    ev_timer_start(rt->loop, &s->timer);
}

/* close() on fd sends a reset instead of a FIN. */
static void abort_on_close(int fd)
{
    static const struct linger now = {.l_onoff = 1, .l_linger = 0};
    if (fd != -1)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
}

void evp_sess_close_err(evp_session *s, const char *what, int err)
{
    char why[128];
    snprintf(why, sizeof why, "%s: %s", what, strerror(err));
    if (s->sub_link)
        s->sub_link->failed = 1; /* its carrier ends the sub-stream with Error */
    if (s->cl.kind == EP_STREAM)
        abort_on_close(s->cl.fd);
    if (s->sv.kind == EP_STREAM)
        abort_on_close(s->sv.fd);
    evp_sess_close(s, why);
}

/* How long a reset waits for the kernel to send the client what came before it. */
#define RESET_FLUSH_WAIT 5.0
#define RESET_POLL 0.02

/* The S_RESETTING step: 1 when the client's socket still holds unsent bytes. */
static int client_unsent(const evp_session *s)
{
    int queued = 0;
    return s->cl.kind == EP_STREAM && s->cl.fd != -1 &&
           ioctl(s->cl.fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

void evp_sess_reset_client(evp_session *s)
{
    if (s->state != S_RESETTING) {
        s->state = S_RESETTING;
        s->reset_since = ev_now(s->rt->loop);
        evp_sess_update_watchers(s);
    }
    if (client_unsent(s) && ev_now(s->rt->loop) - s->reset_since < RESET_FLUSH_WAIT) {
        ev_timer_stop(s->rt->loop, &s->timer);
        ev_timer_set(&s->timer, RESET_POLL, 0.);
        ev_timer_start(s->rt->loop, &s->timer);
        return;
    }
    evp_sess_close_err(s, "server connection failed after the client's end", s->down_err);
}

void evp_session_close_all(evp_runtime *rt)
{
    evp_mux_conn_close_all(rt);
    while (rt->sessions) {
        evp_session *s = rt->sessions;
        evp_sess_close(s, NULL);
        ev_timer_stop(rt->loop, &s->timer);
        free(s);
    }
}
