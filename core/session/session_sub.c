/* Multiplexed sessions, the session side: a session whose target names a multiplexer becomes
 * its carrier (its server side is a socketpair to a mux_conn.c that serves the multiplexer),
 * and each sub-stream the client opens is a session of its own whose client side is a
 * socketpair end mux_conn.c feeds. A sub-stream's session is an ordinary one from there on:
 * routed, dialled, logged, counted, backpressured and timed out by the code every session
 * runs; what is particular to it is its host codec (the target came in the New frame) and
 * its link to the carrier, which hears how it ended. */
#include "session_int.h"

#include "log.h"
#include "mux_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Set from the carrier's before the handshake reads it (evp_session_sub). */
static uint32_t sub_level(void *sess)
{
    return ((evp_session *)sess)->level;
}

static void sub_free(void *sess);

/* ---- the carrier ----------------------------------------------------------------------- */

/* Where the carrier's client is, for its sub-streams' access log lines. */
static void origin_of(const evp_session *s, evp_sub_origin *o)
{
    memset(o, 0, sizeof *o);
    o->in = s->in;
    o->router = s->router;
    o->level = s->level;
    if (s->peer_len) {
        memcpy(&o->from, &s->peer, s->peer_len);
        o->from_len = s->peer_len;
        return;
    }
    socklen_t len = sizeof o->from;
    if (s->cl.fd != -1 && getpeername(s->cl.fd, (struct sockaddr *)&o->from, &len) == 0)
        o->from_len = len;
}

void evp_sess_start_demux(evp_session *s, evp_module *mux, void *conn_inst)
{
    char err[256] = "";
    evp_addr dial;
    int pair[2];
    evp_instance *carrier = evp_router_carrier(s->router);
    if (carrier == NULL) {
        evp_sess_connect_failed(s, "cannot serve the multiplexer: no carrier");
        return;
    }
    s->out = evp_instance_ref(carrier);
    s->outs = evp_outops(carrier)->session_new(carrier->inst, &s->target, (uint8_t)s->network,
                                               &dial, err, sizeof err);
    if (s->outs == NULL) {
        evp_sess_connect_failed(s, err[0] ? err : "the multiplexer refused the session");
        return;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == -1) {
        snprintf(err, sizeof err, "cannot serve the multiplexer: %s", strerror(errno));
        evp_sess_connect_failed(s, err);
        return;
    }
    evp_sub_origin o;
    origin_of(s, &o);
    const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    if (evp_mux_conn_new(s->rt, pair[1], mux, conn_inst, &o, user) == NULL) {
        close(pair[0]);
        evp_sess_connect_failed(s, "cannot serve the multiplexer: out of memory");
        return;
    }
    s->carrier = 1;
    evp_sess_limits_carrier(s); /* its sub-streams count against "sessions" */
    s->sv.fd = pair[0];
    s->sv.kind = EP_STREAM;
    ev_io_set(&s->sv.rio, pair[0], EV_READ);
    ev_io_set(&s->sv.wio, pair[0], EV_WRITE);
    evp_sess_start_relay(s);
}

const evp_tlayer *evp_sess_layer_mux(const evp_instance *in)
{
    const evp_transports *t = in->transports;
    if (t == NULL || !t->server || t->n == 0)
        return NULL;
    const evp_tlayer *top = &t->layer[t->n - 1];
    return evp_module_muxops(top->mod) ? top : NULL;
}

evp_session *evp_sess_new_layer_carrier(evp_runtime *rt, int fd, evp_instance *in,
                                        evp_router *router)
{
    evp_session *s = evp_sess_new_host_codec(rt, fd, in, router, &evp_sess_fixed_ops);
    if (s != NULL) {
        s->layer_mux = 1;
        s->network = EVP_NET_TCP; /* the target stays none: the requests name theirs */
    }
    return s;
}

/* ---- a sub-stream's session ------------------------------------------------------------ */

static const char *sub_user(void *sess)
{
    evp_session *s = sess;
    return s->sub_link ? s->sub_link->user : NULL;
}

static void sub_free(void *sess)
{
}

/* The session ends: its carrier hears how, then the link goes. */
void evp_sess_sub_link_end(evp_session *s)
{
    evp_sub_link *l = s->sub_link;
    s->sub_link = NULL;
    if (l->carrier && l->ended)
        l->ended(l->carrier, l->failed);
    free(l->user);
    free(l);
}

static const evp_inbound_ops sub_ops = {
    .size = sizeof(evp_inbound_ops),
    .session_free = sub_free,
    .decode = evp_sess_fixed_decode,
    .encode = evp_sess_fixed_encode,
    .session_user = sub_user,
    .session_level = sub_level,
    .flags = EVP_IN_PASS,
};

evp_session *evp_session_sub(evp_runtime *rt, int fd, const evp_sub_origin *o,
                             const evp_addr *target, uint8_t network, evp_sub_link *link)
{
    /* No target: the sub-stream is a connection of the inbound's protocol (HTTP/2). */
    evp_session *s = target->type == EVP_ADDR_NONE
                         ? evp_sess_new(rt, fd, o->in, o->router)
                         : evp_sess_new_host_codec(rt, fd, o->in, o->router, &sub_ops);
    if (s == NULL) {
        close(fd);
        free(link->user);
        free(link);
        return NULL;
    }
    s->sub_link = link;
    s->level = o->level;
    link->carries_protocol = target->type == EVP_ADDR_NONE;
    if (link->cone && network == EVP_NET_UDP && !link->carries_protocol &&
        evp_sess_cone_begin(s, link->xudp_id) != 0) {
        evp_sess_close(s, "out of memory");
        return NULL;
    }
    if (!link->carries_protocol) {
        s->target = *target;
        s->network = network;
    }
    if (o->from_len && o->from_len <= sizeof s->peer) {
        memcpy(&s->peer, &o->from, o->from_len);
        s->peer_len = o->from_len;
    }
    evp_sess_handshake(s);
    return s;
}

/* ---- the client side ------------------------------------------------------------------- */

void evp_sess_join_mux(evp_session *s)
{
    char err[256] = "";
    evp_addr dial;
    evp_sub_origin o;
    evp_instance *out = s->out;
    origin_of(s, &o);
    evp_sess_cone_for_mux(s);
    int fd = evp_mux_client_join(s->rt, out, &o, &s->target, (uint8_t)s->network,
                                 s->cone ? s->cone->id : NULL, &s->sub_link);
    if (fd == -1) {
        evp_sess_connect_failed(s, "cannot open a Mux sub-stream");
        return;
    }
    s->out = evp_instance_ref(out->mux_carrier); /* logged under out's tag */
    evp_instance_unref(out);
    s->outs = evp_outops(s->out)->session_new(s->out->inst, &s->target, (uint8_t)s->network,
                                              &dial, err, sizeof err);
    s->sv.fd = fd;
    s->sv.kind = EP_STREAM;
    ev_io_set(&s->sv.rio, fd, EV_READ);
    ev_io_set(&s->sv.wio, fd, EV_WRITE);
    if (s->outs == NULL) {
        evp_sess_connect_failed(s, err[0] ? err : "cannot open a Mux sub-stream");
        return;
    }
    evp_sess_start_relay(s);
}

evp_session *evp_session_mux_carrier(evp_runtime *rt, int fd, const evp_sub_origin *o,
                                     evp_instance *out, const char *target_name)
{
    evp_session *s = evp_sess_new_host_codec(rt, fd, o->in, o->router, &sub_ops);
    if (s == NULL) {
        close(fd);
        return NULL;
    }
    s->carrier = 1;
    s->forced_out = evp_instance_ref(out);
    s->network = EVP_NET_TCP;
    size_t n = target_name ? strlen(target_name) : 0;
    if (n > 0 && n < sizeof s->target.bytes) {
        s->target.type = EVP_ADDR_DOMAIN;
        s->target.len = (uint8_t)n;
        memcpy(s->target.bytes, target_name, n + 1);
    }
    if (o->from_len && o->from_len <= sizeof s->peer) {
        memcpy(&s->peer, &o->from, o->from_len);
        s->peer_len = o->from_len;
    }
    evp_sess_handshake(s);
    return s;
}
