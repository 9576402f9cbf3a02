/* UDP sessions: peers behind a UDP listener (dokodemo-door), SOCKS UDP ASSOCIATE and its
 * per-destination sub-sessions, which pass datagrams through a built-in inbound. */
#include "session_int.h"

#include "admission.h"
#include "buf.h"
#include "cone_record.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The inbound asked for a UDP relay on this TCP connection: the runtime's opener makes it,
 * the session keeps it as its companion, and the inbound's connected hook tells the client
 * where it is (io->target = the bound address). */
void evp_sess_start_assoc(evp_session *s)
{
    evp_io io;
    memset(&io, 0, sizeof io);
    s->network = EVP_NET_UDP;
    snprintf(s->label, sizeof s->label, "udp-associate");
    evp_udp_relay_open_fn open = s->rt->open_udp_relay;
    s->companion = open ? open(s->rt, s->cl.fd, s->in, s->router, &io.target) : NULL;
    io.out = &s->plain.b;
    io.back = &s->cl.wbuf.b;
    int ok = s->companion != NULL;
    if (s->inops->connected)
        s->inops->connected(s->ins, ok, &io);
    if (!ok) {
        evp_warn("cannot open a UDP relay for a SOCKS client");
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
    } else {
        evp_info("udp-associate accepted [%s]", s->in->tag);
        s->state = S_ASSOC;
    }
    evp_qbuf_take(&s->plain, evp_qbuf_len(&s->plain));
    evp_sess_flush_all(s);
}

/* Pass-through inbound for SOCKS UDP sub-sessions: the target came with the datagram. */
static void pass_free(void *sess)
{
}

static const evp_inbound_ops pass_ops = {
    .size = sizeof(evp_inbound_ops),
    .session_free = pass_free,
    .decode = evp_sess_fixed_decode,
    .encode = evp_sess_fixed_encode,
};

evp_session *evp_session_udp(evp_runtime *rt, evp_udp_owner *owner, const struct sockaddr *peer,
                             socklen_t peer_len, evp_instance *in,
                             evp_router *router)
{
    if (peer_len > sizeof(((evp_session *)NULL)->peer) || !evp_admission_udp(rt))
        return NULL; /* the datagram is dropped, as a full queue would */
    evp_session *s = evp_sess_new(rt, -1, in, router);
    if (s == NULL)
        return NULL;
    s->cl.kind = EP_PEER;
    s->network = EVP_NET_UDP;
    s->udp_owner = owner;
    memcpy(&s->peer, peer, peer_len);
    s->peer_len = peer_len;
    return s; /* the handshake waits for the first datagram: see session.h */
}

evp_session *evp_session_udp_fixed(evp_runtime *rt, evp_udp_owner *owner,
                                   const struct sockaddr *peer, socklen_t peer_len,
                                   const evp_addr *target, evp_instance *in, evp_router *router)
{
    evp_session *s = evp_session_udp(rt, owner, peer, peer_len, in, router);
    if (s == NULL)
        return NULL;
    s->inops->session_free(s->ins); /* the instance's own session is not used */
    s->inops = &pass_ops;
    s->ins = s;
    s->target = *target;
    return s;
}

const evp_addr *evp_session_target(const evp_session *s)
{
    return &s->target;
}

int evp_session_udp_is(const evp_session *s, const struct sockaddr *peer, socklen_t peer_len)
{
    return s->peer_len == peer_len && memcmp(&s->peer, peer, peer_len) == 0;
}

/* A datagram was queued: the handshake or the relay takes it. */
static void after_input(evp_session *s)
{
    evp_sess_touch(s);
    if (s->state == S_HANDSHAKE)
        evp_sess_handshake(s);
    else if (s->state == S_RELAY) {
        evp_sess_pump_up(s);
        if (s->state == S_RELAY)
            evp_sess_flush_all(s);
    }
}

void evp_session_udp_input(evp_session *s, const uint8_t *data, size_t len)
{
    if (s->state == S_DEAD)
        return; /* owners forget a session as it ends; this is only a second line */
    s->cl.wire_in += len; /* read by its listener's socket (V2Ray's inbound counter) */
    if (s->cone) {
        if (evp_qbuf_len(&s->cl.rbuf) > UDP_QUEUE_MAX ||
            evp_cone_record_put(&s->cl.rbuf, &s->target, data, len) != 0)
            return;
        after_input(s);
        return;
    }
    uint8_t *p = evp_qbuf_room(&s->cl.rbuf, len + 2);
    if (p == NULL || evp_qbuf_len(&s->cl.rbuf) > UDP_QUEUE_MAX)
        return; /* over the limit: drop, as a full UDP queue would */
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, data, len);
    s->cl.rbuf.b.len += len + 2;
    after_input(s);
}

void evp_session_udp_orphan(evp_session *s)
{
    s->udp_owner = NULL;
    evp_sess_close(s, NULL);
}
