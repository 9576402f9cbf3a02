/* Sessions over transport layers (streamSettings): an endpoint with a stack reads the
 * socket into the stack and decodes up into rbuf, and writes what the stack encoded from
 * wbuf; everything else in the session sees rbuf/wbuf as without one. Endpoints without a
 * stack never come here. */
#include "session_int.h"

#include "ip_literal.h"
#include "log.h"
#include "transport_stack.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int evp_sess_stack_server(evp_session *s)
{
    evp_addr peer;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&peer, 0, sizeof peer);
    if (getpeername(s->cl.fd, (struct sockaddr *)&ss, &len) == 0)
        evp_addr_from_sockaddr((struct sockaddr *)&ss, &peer);
    /* Below a multiplexing top layer, which the carrier serves apart (session_sub.c). */
    s->cl.stack = evp_tstack_new_n(s->in->transports, s->in->transports->n - s->layer_mux,
                                   &peer);
    return s->cl.stack ? 0 : -1;
}

int evp_sess_stack_client(evp_session *s, const evp_addr *dial)
{
    s->sv.stack = evp_tstack_new(s->out->transports, dial);
    return s->sv.stack ? 0 : -1;
}

/* Ends the server side of a session whose client is rejected after its target was named
 * (a protocol with a fixed target names it at once). */
static void drop_server_side(evp_session *s)
{
    evp_resolve_cancel(s->resolving);
    s->resolving = NULL;
    s->first_wait = 0;
    if (s->sv.fd != -1) {
        ev_io_stop(s->rt->loop, &s->sv.rio);
        ev_io_stop(s->rt->loop, &s->sv.wio);
        close(s->sv.fd);
        s->sv.fd = -1;
    }
    ev_timer_stop(s->rt->loop, &s->timer); /* the handshake deadline bounds the drain */
    ev_timer_set(&s->timer, s->rt->handshake_timeout, 0.);
    ev_timer_start(s->rt->loop, &s->timer);
}

/* A layer failed: one line naming it. A server-side (inbound) layer's failure is a
 * rejection of the client, as a protocol's is: drained when the layer asks (as against
 * probes), then closed. */
void evp_sess_stack_failed(evp_session *s, endpoint *ep)
{
    const char *layer;
    uint32_t drain;
    const char *reason = evp_tstack_error(ep->stack, &layer, &drain);
    char why[200];
    snprintf(why, sizeof why, "%stransport %s: %s", ep != &s->cl ? "outbound " : "", layer,
             reason);
    if (ep != &s->cl) {
        evp_sess_close(s, why);
        return;
    }
    evp_sess_rejected(s, why);
    if (s->state != S_HANDSHAKE)
        drop_server_side(s);
    evp_qbuf_free(&ep->rbuf);
    if (drain > 0 && !ep->eof) {
        s->state = S_DRAIN;
        s->drain_left = drain;
    } else {
        s->state = S_CLOSING;
        ep->shut_pending = 1;
    }
    evp_sess_flush_all(s);
}

int evp_sess_stack_start(evp_session *s)
{
    if (evp_tstack_start(s->sv.stack) == EVP_OK)
        return 0;
    evp_sess_stack_failed(s, &s->sv);
    return -1;
}

/* The client's address a trusted front named (PROXY protocol, X-Forwarded-For): the one
 * the access log shows from now on. */
static void take_peer(evp_session *s)
{
    evp_addr a;
    struct sockaddr_storage ss;
    if (!evp_tstack_peer(s->cl.stack, &a))
        return;
    socklen_t len = evp_addr_to_sockaddr(&a, &ss);
    if (len == 0 || len > sizeof s->peer)
        return;
    memcpy(&s->peer, &ss, len);
    s->peer_len = len;
}

/* One recv into q: a small one while the client has not authenticated (see
 * read_handshake in session_relay.c). 1 data, 0 EOF, -1 error, 2 nothing now. */
static int recv_raw(endpoint *ep, evp_qbuf *q, int small)
{
    uint8_t tmp[HANDSHAKE_READ];
    uint8_t *p = small ? tmp : evp_qbuf_room(q, READ_CHUNK);
    if (p == NULL)
        return -1;
    size_t room = small ? sizeof tmp : q->b.cap - q->b.len;
    ssize_t n = recv(ep->fd, p, room < EVP_BUF_BLOCK ? room : EVP_BUF_BLOCK, 0);
    ep->wire_in += n > 0 ? (uint64_t)n : 0;
    if (n > 0 && small)
        return evp_buf_append_small(&q->b, tmp, (size_t)n) == 0 ? 1 : -1;
    if (n > 0)
        q->b.len += (size_t)n;
    if (n >= 0)
        return n > 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 2 : -1;
}

int evp_sess_read_stacked(endpoint *ep)
{
    evp_session *s = ep->s;
    int r = recv_raw(ep, evp_tstack_raw_in(ep->stack), s->state == S_HANDSHAKE);
    if (r == 2 || r == -1)
        return r;
    if (r == 0)
        evp_tstack_raw_eof(ep->stack);
    if (evp_tstack_decode(ep->stack, &ep->rbuf, &ep->wbuf, ep->shut_pending) != EVP_OK) {
        evp_sess_stack_failed(s, ep);
        return 2; /* handled: the session is closed or draining */
    }
    if (ep == &s->cl)
        take_peer(s);
    return evp_tstack_top_eof(ep->stack) ? 0 : 1;
}

evp_qbuf *evp_sess_stack_encode(endpoint *ep)
{
    if (evp_tstack_encode(ep->stack, &ep->wbuf, ep->shut_pending) != EVP_OK)
        return NULL;
    return evp_tstack_raw_out(ep->stack);
}
