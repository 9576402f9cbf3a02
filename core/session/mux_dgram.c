/* UDP sub-streams of a multiplexed connection: each datagram is one frame. A plain one (V2Ray's
 * Mux.Cool) goes to and comes from its target only. A full-cone one (Xray's XUDP: the New
 * frame names a Global ID) carries each datagram's far address both ways, in the records it
 * shares with its session (cone_record.h); the client side sends its New with the first
 * datagram, as Xray's client does, since the Global ID rides with data. */
#include "mux_conn_int.h"

#include "cone_record.h"
#include "session.h"
#include "xudp_ports.h"

#include <string.h>

/* The address a datagram goes to on s: its own, or the sub-stream's target. */
static const evp_addr *dest_of(const mux_sub *s, const evp_addr *peer)
{
    return peer && peer->type != EVP_ADDR_NONE ? peer : &s->target;
}

static int same_addr(const evp_addr *a, const evp_addr *b)
{
    return a->type == b->type && a->port == b->port && a->len == b->len &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

int evp_mux_wants_cone(const evp_mux_conn *c, const evp_mux_event *ev)
{
    if (!ev->has_global_id || !evp_xudp_id_set(ev->global_id))
        return 0;
    /* The session routes it alike; asked here so a route that cannot honour addresses gets a
     * plain sub-stream, as V2Ray's server gives every UDP one. */
    size_t k = evp_router_pick(c->origin.router, c->origin.in->tag, &ev->target, EVP_NET_UDP);
    const evp_instance *out = evp_router_outbound(c->origin.router, k);
    return out && (out->mux_carrier || (evp_outops(out)->flags & EVP_OUT_DATAGRAM));
}

int evp_mux_dgram_queue(mux_sub *s, const evp_addr *peer, const uint8_t *data, size_t len)
{
    const evp_addr *to = dest_of(s, peer);
    if (s->cone) {
        if (evp_cone_record_put(&s->wq, to, data, len) == 0)
            return 0;
        return len + EVP_CONE_ADDR_MAX > 65535 ? 0 : -1; /* too long to frame: lost */
    }
    if (!same_addr(to, &s->target))
        return 0; /* elsewhere than its target: a plain sub-stream cannot say where */
    uint8_t *p = evp_qbuf_room(&s->wq, len + 2);
    if (p == NULL)
        return -1;
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, data, len);
    s->wq.b.len += len + 2;
    return 0;
}

/* One datagram from s's session toward the client (peer: its far address on a full-cone
 * sub-stream, else NULL). */
static int frame_one(mux_sub *s, const evp_addr *peer, const uint8_t *data, size_t len)
{
    evp_mux_conn *c = s->c;
    evp_mux_event ev;
    if (len > c->ops->max_data)
        return 0; /* one the multiplexer cannot carry is lost, as UDP may lose it */
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_DATA;
    ev.id = s->id;
    ev.data = data;
    ev.len = len;
    if (peer)
        ev.peer = *peer;
    if (s->new_pending) { /* the client's first datagram opens the sub-stream */
        s->new_pending = 0;
        ev.kind = EVP_MUX_NEW;
        ev.network = EVP_NET_UDP;
        ev.target = peer ? *peer : s->target;
        ev.has_global_id = 1;
        memcpy(ev.global_id, s->xudp_id, sizeof ev.global_id);
        memset(&ev.peer, 0, sizeof ev.peer);
    }
    return evp_mux_emit_event(c, &ev);
}

int evp_mux_dgram_frame(mux_sub *s)
{
    while (evp_qbuf_len(&s->rq) >= 2) {
        const uint8_t *h = evp_qbuf_head(&s->rq);
        size_t rlen = ((size_t)h[0] << 8) | h[1];
        if (evp_qbuf_len(&s->rq) < 2 + rlen)
            break;
        int r = 0;
        if (s->cone) {
            evp_addr peer;
            size_t off;
            if (evp_cone_record_split(h + 2, rlen, &peer, &off) == 0)
                r = frame_one(s, &peer, h + 2 + off, rlen - off);
        } else {
            r = frame_one(s, NULL, h + 2, rlen);
        }
        if (r != 0)
            return -1;
        evp_qbuf_take(&s->rq, 2 + rlen);
    }
    evp_qbuf_trim(&s->rq);
    return 0;
}
