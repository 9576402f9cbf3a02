/* Mux.Cool's client side: an outbound with "mux" sends its sessions as sub-streams of shared
 * connections. Each worker keeps its own (a socket belongs to one event loop); a connection
 * takes at most the outbound's concurrency at once and 128 over its life, as V2Ray 4.34's
 * client, and closes once empty at a 16 s look. */
#include "mux_conn_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Client side: a connection that had no sub-stream since the last look closes, as V2Ray's
 * client checks every 16 s; one that has opened its lifetime's worth closes once empty. */
void evp_mux_client_idle(EV_P_ ev_timer *w, int revents)
{
    evp_mux_conn *c = (evp_mux_conn *)((char *)w - offsetof(evp_mux_conn, idle));
    if (c->n_subs == 0)
        evp_mux_conn_close(c, NULL);
}

/* ---- the client side ------------------------------------------------------------------- */

/* A new client connection for out: the multiplexer on one end of a socketpair, a session
 * carrying its stream to the server through out on the other. */
static evp_mux_conn *client_new(evp_runtime *rt, evp_instance *out, const evp_sub_origin *o)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == -1)
        return NULL;
    evp_mux_conn *c = evp_mux_conn_alloc(rt, pair[0], out->mux, NULL, o, NULL, 0);
    if (c == NULL) {
        close(pair[1]);
        return NULL;
    }
    c->client = 1;
    c->client_out = evp_instance_ref(out);
    c->concurrency = out->mux_concurrency;
    ev_timer_start(rt->loop, &c->idle);
    if (evp_session_mux_carrier(rt, pair[1], o, out, c->ops->target) == NULL) {
        evp_mux_conn_close(c, NULL);
        return NULL;
    }
    return c;
}

int evp_mux_client_join(evp_runtime *rt, evp_instance *out, const evp_sub_origin *o,
                        const evp_addr *target, uint8_t network, const uint8_t *xudp_id,
                        evp_sub_link **link)
{
    *link = NULL;
    evp_mux_conn *c;
    for (c = rt->muxes; c; c = c->next)
        if (c->client && !c->dead && c->client_out == out && c->n_subs < c->concurrency &&
            c->opened < CLIENT_SUBS_LIFE)
            break;
    if (c == NULL && (c = client_new(rt, out, o)) == NULL)
        return -1;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == -1)
        return -1;
    mux_sub *s = evp_mux_sub_attach(c, ++c->next_id, pair[1], network);
    if (s == NULL) {
        close(pair[0]);
        close(pair[1]);
        return -1;
    }
    c->opened++;
    evp_sub_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        close(pair[0]);
        evp_mux_sub_free(s);
        return -1;
    }
    l->carrier = s;
    l->ended = evp_mux_sub_ended;
    s->link = l;
    s->target = *target;
    evp_mux_sub_start(s);
    if (xudp_id && network == EVP_NET_UDP) {
        /* XUDP: the New goes with the first datagram (mux_dgram.c), which the Global ID
         * follows; Xray's server would send an empty New's "datagram" to the target. */
        s->cone = s->new_pending = 1;
        memcpy(s->xudp_id, xudp_id, sizeof s->xudp_id);
        *link = l;
        return pair[0];
    }
    evp_mux_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_NEW;
    ev.id = s->id;
    ev.network = network;
    ev.target = *target;
    if (c->ops->encode(c->conn, &ev, &c->wq.b) != EVP_OK) {
        close(pair[0]);
        evp_mux_sub_free(s);
        return -1;
    }
    evp_mux_conn_flush(c);
    *link = l;
    return pair[0];
}

