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

/* ---- the carrier ----------------------------------------------------------------------- */

/* Where the carrier's client is, for its sub-streams' access log lines. */
static void origin_of(const evp_session *s, evp_sub_origin *o)
{
    memset(o, 0, sizeof *o);
    o->in = s->in;
    o->router = s->router;
    if (s->peer_len) {
        memcpy(&o->from, &s->peer, s->peer_len);
        o->from_len = s->peer_len;
        return;
    }
    socklen_t len = sizeof o->from;
    if (s->cl.fd != -1 && getpeername(s->cl.fd, (struct sockaddr *)&o->from, &len) == 0)
        o->from_len = len;
}

void evp_sess_start_demux(evp_session *s, evp_instance *mux)
{
    char err[256] = "";
    evp_addr dial;
    int pair[2];
    s->out = evp_instance_ref(mux);
    s->outs = evp_outops(mux)->session_new(mux->inst, &s->target, (uint8_t)s->network, &dial,
                                           err, sizeof err);
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
    if (evp_mux_conn_new(s->rt, pair[1], mux, &o, user) == NULL) {
        close(pair[0]);
        evp_sess_connect_failed(s, "cannot serve the multiplexer: out of memory");
        return;
    }
    s->carrier = 1;
    s->sv.fd = pair[0];
    s->sv.kind = EP_STREAM;
    ev_io_set(&s->sv.rio, pair[0], EV_READ);
    ev_io_set(&s->sv.wio, pair[0], EV_WRITE);
    evp_sess_start_relay(s);
}

/* ---- a sub-stream's session ------------------------------------------------------------ */

static int sub_connected(void *sess, int ok, evp_io *io)
{
    evp_session *s = sess;
    if (!ok && s->sub_link)
        s->sub_link->failed = 1;
    return EVP_OK;
}

static const char *sub_user(void *sess)
{
    evp_session *s = sess;
    return s->sub_link ? s->sub_link->user : NULL;
}

/* The session ends: the carrier hears how, then the link goes. */
static void sub_free(void *sess)
{
    evp_session *s = sess;
    evp_sub_link *l = s->sub_link;
    s->sub_link = NULL;
    if (l == NULL)
        return;
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
    .connected = sub_connected,
    .session_user = sub_user,
    .flags = EVP_IN_PASS,
};

evp_session *evp_session_sub(evp_runtime *rt, int fd, const evp_sub_origin *o,
                             const evp_addr *target, uint8_t network, evp_sub_link *link)
{
    evp_session *s = evp_sess_new_host_codec(rt, fd, o->in, o->router, &sub_ops);
    if (s == NULL) {
        close(fd);
        free(link->user);
        free(link);
        return NULL;
    }
    s->sub_link = link;
    s->target = *target;
    s->network = network;
    if (o->from_len && o->from_len <= sizeof s->peer) {
        memcpy(&s->peer, &o->from, o->from_len);
        s->peer_len = o->from_len;
    }
    evp_sess_handshake(s);
    return s;
}
