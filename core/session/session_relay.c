/* The relay proper: its start (the first payload with the outbound's header), both
 * directions through both codecs, end-of-stream handling, and writing with backpressure. */
#include "session_int.h"

#include "buf.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes what it can of ep->wbuf (through its layers, if any); -1 when the endpoint failed,
 * -2 when one of its layers did. A stream's waiting bytes
 * are contiguous, so one send takes whatever the codecs produced since the last write. */
static int flush_endpoint(evp_session *s, endpoint *ep)
{
    evp_qbuf *q = ep->stack ? evp_sess_stack_encode(ep) : &ep->wbuf;
    if (q == NULL)
        return -2; /* a layer failed */
    while (evp_qbuf_len(q) > 0) {
        const uint8_t *head = evp_qbuf_head(q);
        size_t len = evp_qbuf_len(q);
        ssize_t n;
        if (ep->kind == EP_STREAM) {
            n = send(ep->fd, head, len, MSG_NOSIGNAL);
            if (n > 0) {
                ep->wire_out += (uint64_t)n;
                evp_qbuf_take(q, (size_t)n);
                continue;
            }
        } else {
            /* records: BE16 length + datagram */
            if (len < 2)
                break;
            size_t dlen = ((size_t)head[0] << 8) | head[1];
            if (len < 2 + dlen)
                break;
            if (ep->kind == EP_DGRAM)
                n = s->cone ? evp_sess_cone_send(s, head + 2, dlen) : send(ep->fd, head + 2, dlen, 0);
            else if (s->cone && s->udp_owner && s->udp_owner->send)
                n = evp_sess_cone_send_peer(s, head + 2, dlen);
            else if (s->udp_owner && s->udp_owner->send)
                n = s->udp_owner->send(s->udp_owner, (struct sockaddr *)&s->peer, s->peer_len,
                                       &s->target, head + 2, dlen);
            else if (s->udp_owner)
                n = sendto(s->udp_owner->fd, head + 2, dlen, 0, (struct sockaddr *)&s->peer,
                           s->peer_len);
            else
                n = (ssize_t)dlen; /* the owner is gone: drop */
            if (n >= 0 || ep->kind == EP_PEER || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                ep->wire_out += n > 0 ? (uint64_t)n : 0;
                evp_qbuf_take(q, 2 + dlen); /* a lost datagram is UDP's right */
                continue;
            }
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == -1 && errno == EINTR)
            continue;
        return -1;
    }
    if (evp_qbuf_len(q) == 0) {
        evp_qbuf_trim(q);
        if (ep->shut_pending && !ep->shut_done &&
            (ep->stack == NULL || evp_tstack_down_ended(ep->stack))) {
            ep->shut_done = 1;
            if (ep->kind == EP_STREAM && ep->fd != -1)
                shutdown(ep->fd, SHUT_WR);
        }
    }
    return 0;
}

/* ep's end is written: no layer still holds one it could not write yet (a TLS handshake
 * not done, an HTTP/2 END_STREAM waiting): closing now would cut its last bytes. */
static int end_written(const endpoint *ep)
{
    return ep->stack == NULL || !ep->shut_pending || evp_tstack_down_ended(ep->stack);
}

/* Ends the session when both directions are finished and everything is written. */
static int maybe_finish(evp_session *s)
{
    if (s->state == S_CLOSING && evp_sess_pending(&s->cl) == 0) {
        evp_sess_close(s, NULL);
        return 1;
    }
    if (s->state != S_RELAY || !s->up_done || !s->down_done)
        return 0;
    int cl_done = evp_sess_pending(&s->cl) == 0 && (s->down_err || end_written(&s->cl));
    if (cl_done && (s->sv.fd == -1 || (evp_sess_pending(&s->sv) == 0 && end_written(&s->sv)))) {
        if (s->down_err)
            evp_sess_reset_client(s);
        else
            evp_sess_close(s, NULL);
        return 1;
    }
    return 0;
}

/* Flushes both endpoints, then re-arms watchers; returns 1 when the session is gone. */
int evp_sess_flush_all(evp_session *s)
{
    if (s->state == S_DEAD)
        return 1;
    int r = s->cl.fd != -1 || s->cl.kind == EP_PEER ? flush_endpoint(s, &s->cl) : 0;
    if (r == -1)
        evp_sess_close_err(s, "client write failed", errno);
    else if (r == -2)
        evp_sess_stack_failed(s, &s->cl);
    if (r != 0)
        return 1;
    r = s->sv.fd != -1 && s->state == S_RELAY ? flush_endpoint(s, &s->sv) : 0;
    if (r == -1)
        evp_sess_close_err(s, "server write failed", errno);
    else if (r == -2)
        evp_sess_stack_failed(s, &s->sv);
    if (r != 0)
        return 1;
    if (maybe_finish(s))
        return 1;
    evp_sess_update_watchers(s);
    return 0;
}

static void set_io(evp_session *s, ev_io *w, int want)
{
    if (want && !ev_is_active(w))
        ev_io_start(s->rt->loop, w);
    else if (!want && ev_is_active(w))
        ev_io_stop(s->rt->loop, w);
}

/* A local outbound's replies the client has not taken yet hold back its requests. */
static int local_reply_full(const evp_session *s)
{
    return s->local_out && !evp_sess_below(evp_qbuf_len(&s->sv.rbuf), evp_sess_high(s));
}

/* Room in out for what reading would add (evp_sess_high, evp_sess_low). */
static int room_in(const evp_session *s, const endpoint *out, const ev_io *reader)
{
    return evp_sess_below(evp_sess_pending(out),
                          ev_is_active(reader) ? evp_sess_high(s) : evp_sess_low(s));
}

void evp_sess_update_watchers(evp_session *s)
{
    if (s->state == S_DEAD)
        return;
    endpoint *cl = &s->cl, *sv = &s->sv;
    int relay = s->state == S_RELAY;
    if (s->lim)
        evp_sess_limits_account(s);
    if (cl->fd != -1) {
        int read_cl =
            (!cl->eof && (s->state == S_HANDSHAKE || s->state == S_SNIFF || s->state == S_DRAIN ||
                          s->state == S_ASSOC ||
                          (relay && !s->up_done && room_in(s, sv, &cl->rio) &&
                           !local_reply_full(s)))) ||
            (relay && cl->stack && evp_tstack_reading(cl->stack));
        set_io(s, &cl->rio, read_cl && !(relay && evp_sess_limits_hold(s, 0)));
        set_io(s, &cl->wio, evp_sess_pending(cl) > 0);
    }
    if (sv->fd != -1) {
        int read_sv = relay && !evp_sess_limits_hold(s, 1) &&
                      ((!sv->eof && room_in(s, cl, &sv->rio)) ||
                       (sv->stack && evp_tstack_reading(sv->stack)));
        set_io(s, &sv->rio, read_sv);
        set_io(s, &sv->wio, s->state == S_CONNECTING || (relay && evp_sess_pending(sv) > 0));
    }
}

int evp_sess_run_codec(int (*fn)(void *, evp_io *), void *sess, const uint8_t *in, size_t len,
                       int eof, evp_buf *out, evp_buf *back, evp_io *io)
{
    memset(io, 0, sizeof *io);
    io->in = in;
    io->in_len = len;
    io->in_eof = eof;
    io->out = out;
    io->back = back;
    return fn(sess, io);
}

/* q's evp_buf for a codec's output from len bytes of input, with room made first so that
 * the codec's own reserve need not grow a buffer whose front is free. */
static evp_buf *out_for(evp_qbuf *q, size_t len)
{
    if (len > 0)
        evp_qbuf_room(q, len + len / 64 + 1024); /* a failure shows in the codec's reserve */
    return &q->b;
}

int evp_sess_encode_out(evp_session *s, const uint8_t *in, size_t len, int eof, evp_io *io)
{
    s->out_started = 1;
    evp_buf *back = s->local_out ? &s->sv.rbuf.b : &s->cl.wbuf.b; /* its reply: a server's */
    return evp_sess_run_codec(evp_outops(s->out)->encode, s->outs, in, len, eof,
                              out_for(&s->sv.wbuf, len), back, io);
}

/* A local outbound's reply goes down as a server's bytes would; once the client has ended
 * (and the outbound was told), so has the reply. */
static void local_reply(evp_session *s)
{
    if (!s->local_out || s->state != S_RELAY)
        return;
    if (s->up_done)
        s->sv.eof = 1;
    evp_sess_pump_down(s);
}

static void finish_down(evp_session *s);

/* Upstream ended: write the outbound's end marker, then FIN toward the server. */
static void finish_up(evp_session *s)
{
    if (s->up_done)
        return;
    s->up_done = 1;
    evp_io io;
    if (s->sv.fd != -1 || s->sv.kind == EP_DGRAM) {
        evp_sess_encode_out(s, NULL, 0, 1, &io);
        s->sv.shut_pending = 1;
    }
    /* A UDP sub-stream whose carrier ended it (End, or the connection gone) is over both
     * ways, as V2Ray's server closes it: its socket would only wait for the idle timeout
     * (and a full-cone one could not be kept for its Global ID's next connection). */
    if (s->sub_link != NULL && s->sv.kind == EP_DGRAM && s->network == EVP_NET_UDP)
        finish_down(s);
}

/* Downstream ended: write the inbound's end marker, then FIN toward the client. A server
 * that failed instead of ending gets neither: the client is reset (evp_sess_reset_client). */
static void finish_down(evp_session *s)
{
    if (s->down_done)
        return;
    s->down_done = 1;
    if (s->down_err)
        return;
    evp_io io;
    evp_sess_run_codec(s->inops->encode, s->ins, NULL, 0, 1, &s->cl.wbuf.b, &s->sv.wbuf.b, &io);
    s->cl.shut_pending = 1;
}

/* ---- starting ----------------------------------------------------------------------- */

static int send_early(evp_session *s);

/* The outbound's first encode, with the client's first bytes if they came: V2Ray's client
 * sends its request header together with the first payload (proxy/vmess/outbound:
 * CopyOnceTimeout, 100 ms), so a one-request protocol costs one segment, not two. */
void evp_sess_first_encode(evp_session *s)
{
    evp_io io;
    s->first_wait = 0;
    if (send_early(s) != 0)
        return;
    evp_sess_pump_up(s);
    if (s->state == S_RELAY && !s->out_started &&
        evp_sess_encode_out(s, NULL, 0, 0, &io) == EVP_ERR) {
        evp_sess_close(s, io.reason[0] ? io.reason : "outbound refused");
        return;
    }
    local_reply(s);
    if (s->state == S_RELAY)
        evp_sess_flush_all(s);
}

/* Which codecs pass bytes through from now on: the host then moves TCP bytes itself. */
static uint8_t passing(const evp_session *s)
{
    if (s->cl.kind != EP_STREAM || s->sv.kind != EP_STREAM)
        return 0;
    return (uint8_t)((s->inops->flags & EVP_IN_PASS ? PASS_IN : 0) |
                     (evp_outops(s->out)->flags & EVP_OUT_PASS ? PASS_OUT : 0));
}

void evp_sess_start_relay(evp_session *s)
{
    evp_io io;
    s->state = S_RELAY;
    if (s->sv.stack && evp_sess_stack_start(s) != 0)
        return;
    evp_sess_wake(s); /* the timer now watches for quiet spells (session_idle) */
    evp_sess_touch(s);
    const evp_inbound_ops *in = s->inops;
    if (in->connected && !s->answered) {
        memset(&io, 0, sizeof io);
        io.out = &s->plain.b;
        io.back = &s->cl.wbuf.b;
        if (in->connected(s->ins, 1, &io) == EVP_ERR) {
            evp_sess_close(s, io.reason[0] ? io.reason : "inbound refused");
            return;
        }
    }
    s->pass = passing(s);
    if (!s->layer_mux) /* a connection of requests: each request's session is logged */
        evp_sess_access_line(s);
    if (evp_log_enabled(EVP_LOG_INFO)) {
        const evp_plugin *ind = s->in->mod->desc, *outd = s->out->mod->desc;
        evp_info("%s accepted [%s -> %s] (%s %s, %s %s)", s->label, s->in->tag, s->out->tag,
                 ind->name, ind->version ? ind->version : "?", outd->name,
                 outd->version ? outd->version : "?");
    }
    if (evp_qbuf_len(&s->cl.rbuf) == 0 && evp_qbuf_len(&s->plain) == 0 && !s->cl.eof &&
        s->cl.kind == EP_STREAM && !(s->pass & PASS_OUT)) {
        /* Nothing from the client yet: its first bytes, its end or the timer ends the wait
         * (a protocol whose server speaks first waits at most this long). An outbound that
         * passes bytes through has no header to wait with. */
        s->first_wait = 1;
        ev_timer_stop(s->rt->loop, &s->timer);
        ev_timer_set(&s->timer, FIRST_PAYLOAD_WAIT, 0.);
        ev_timer_start(s->rt->loop, &s->timer);
        evp_sess_flush_all(s);
        return;
    }
    evp_sess_first_encode(s);
}

/* ---- the two directions --------------------------------------------------------------- */

/* One direction of the relay: from's bytes through the decoder, then the encoder, into
 * to's write buffer. A codec that passes bytes through is skipped: the decoder's input is
 * then the plaintext, or the decoder writes straight into to's write buffer. */
typedef struct direction {
    endpoint *from, *to;
    int (*decode)(void *, evp_io *);
    void *dec_sess;
    int dec_pass, enc_pass;
    uint64_t *bytes; /* plaintext relayed */
    uint8_t *done;
    void (*finish)(evp_session *);
    const char *dec_fail, *enc_fail;
    const char *cut; /* from ended inside a record the decoder still waits to complete */
} direction;

static direction dir_up(evp_session *s)
{
    return (direction){&s->cl, &s->sv, s->inops->decode, s->ins, s->pass & PASS_IN,
                       s->pass & PASS_OUT, &s->bytes_up, &s->up_done, finish_up,
                       "inbound decode failed", "outbound encode failed",
                       "client ended mid-record"};
}

static direction dir_down(evp_session *s)
{
    return (direction){&s->sv, &s->cl, evp_outops(s->out)->decode, s->outs, s->pass & PASS_OUT,
                       s->pass & PASS_IN, &s->bytes_down, &s->down_done, finish_down,
                       "outbound decode failed", "inbound encode failed",
                       "server ended mid-record"};
}

/* Encodes the plaintext waiting in q into d's output; -1 when the session was closed. */
static int encode_from(evp_session *s, const direction *d, evp_qbuf *q)
{
    size_t len = evp_qbuf_len(q);
    if (len == 0)
        return 0;
    evp_io io;
    int r = d->to == &s->sv ? evp_sess_encode_out(s, evp_qbuf_head(q), len, 0, &io)
                            : evp_sess_run_codec(s->inops->encode, s->ins, evp_qbuf_head(q),
                                                 len, 0, out_for(&s->cl.wbuf, len),
                                                 &s->sv.wbuf.b, &io);
    *d->bytes += io.consumed;
    evp_qbuf_take(q, io.consumed);
    if (r == EVP_ERR) {
        evp_sess_close(s, io.reason[0] ? io.reason : d->enc_fail);
        return -1;
    }
    return 0;
}

/* Decodes what from holds; the codec's status, or EVP_ERR once the session is closed. */
static int decode_step(evp_session *s, const direction *d, size_t *consumed)
{
    evp_qbuf *in = &d->from->rbuf;
    size_t len = evp_qbuf_len(in);
    evp_qbuf *dst = d->enc_pass ? &d->to->wbuf : &s->plain;
    size_t before = evp_qbuf_len(dst);
    evp_io io;
    int r = evp_sess_run_codec(d->decode, d->dec_sess, evp_qbuf_head(in), len, 0,
                               out_for(dst, len), &d->from->wbuf.b, &io);
    *consumed = io.consumed;
    evp_qbuf_take(in, io.consumed);
    if (r == EVP_ERR) {
        evp_sess_close(s, io.reason[0] ? io.reason : d->dec_fail);
        return EVP_ERR;
    }
    if (d->enc_pass)
        *d->bytes += evp_qbuf_len(dst) - before;
    else if (encode_from(s, d, &s->plain) != 0)
        return EVP_ERR;
    return r;
}

static void pump(evp_session *s, const direction *d)
{
    endpoint *from = d->from;
    int waiting = 0;
    while (s->state == S_RELAY && !*d->done && evp_qbuf_len(&from->rbuf) > 0 &&
           evp_sess_below(evp_sess_pending(d->to), evp_sess_high(s))) {
        size_t consumed = 0;
        int r = EVP_OK;
        if (d->dec_pass) { /* the bytes read are the plaintext */
            size_t before = evp_qbuf_len(&from->rbuf);
            if (encode_from(s, d, &from->rbuf) != 0)
                return;
            consumed = before - evp_qbuf_len(&from->rbuf);
        } else if ((r = decode_step(s, d, &consumed)) == EVP_ERR) {
            return;
        }
        if (r == EVP_EOF) {
            evp_qbuf_take(&from->rbuf, evp_qbuf_len(&from->rbuf)); /* nothing may follow */
            d->finish(s);
            break;
        }
        if (consumed == 0) {
            waiting = 1; /* the codec needs more bytes */
            break;
        }
    }
    if (s->state == S_RELAY && from->eof && !*d->done && evp_qbuf_len(&from->rbuf) == 0)
        d->finish(s); /* a bare close ends the stream too (V2Ray does this, §8.6) */
    else if (s->state == S_RELAY && from->eof && !*d->done && waiting) {
        /* The rest of the record will never come: a truncated stream is an error, as in
         * V2Ray (io.ErrUnexpectedEOF), not an end to hold the session open on. */
        evp_sess_close(s, d->cut);
        return;
    }
    evp_qbuf_trim(&from->rbuf);
    evp_qbuf_trim(&s->plain);
}

/* What the client sent before there was an outbound (read while sniffing) goes first. When
 * both sides pass bytes through, or the outbound does and they are decoded already, the
 * buffer holding them becomes the server's write buffer: moved, not copied. 0, or -1 when
 * the session was closed. */
static int send_early(evp_session *s)
{
    int both = s->pass == (PASS_IN | PASS_OUT);
    evp_qbuf *q = both ? &s->cl.rbuf : &s->plain;
    size_t len = evp_qbuf_len(q);
    if (len == 0 || s->up_done)
        return 0;
    if ((s->pass & PASS_OUT) && evp_qbuf_len(&s->sv.wbuf) == 0) {
        evp_qbuf empty = s->sv.wbuf;
        s->sv.wbuf = *q;
        *q = empty;
        s->bytes_up += len;
        return 0;
    }
    if (both)
        return 0; /* the pump takes them from the read buffer */
    direction d = dir_up(s);
    return encode_from(s, &d, &s->plain);
}

void evp_sess_pump_up(evp_session *s)
{
    if (s->state != S_RELAY || s->first_wait)
        return;
    direction d = dir_up(s);
    pump(s, &d);
    local_reply(s);
}

void evp_sess_pump_down(evp_session *s)
{
    if (s->state != S_RELAY)
        return;
    direction d = dir_down(s);
    pump(s, &d);
}

/* Before its target is named a client has not authenticated: its bytes go into a buffer
 * that grows only as needed, so 10,000 connections that never finish a handshake do not
 * each hold a standard 64 KiB block. */
static int read_handshake(endpoint *ep)
{
    uint8_t tmp[HANDSHAKE_READ];
    ssize_t n = recv(ep->fd, tmp, sizeof tmp, 0);
    ep->wire_in += n > 0 ? (uint64_t)n : 0;
    if (n > 0)
        return evp_buf_append_small(&ep->rbuf.b, tmp, (size_t)n) == 0 ? 1 : -1;
    if (n == 0)
        return 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 2 : -1;
}

/* Where a relay read goes: ep's rbuf, or, when both codecs pass through and nothing waits
 * in rbuf, straight into the other side's write buffer, so the bytes are never copied. */
static evp_qbuf *read_dest(endpoint *ep)
{
    evp_session *s = ep->s;
    int up = ep == &s->cl;
    if (s->pass != (PASS_IN | PASS_OUT) || s->state != S_RELAY || s->first_wait ||
        evp_qbuf_len(&ep->rbuf) > 0 || (up ? s->up_done : s->down_done))
        return &ep->rbuf;
    return up ? &s->sv.wbuf : &s->cl.wbuf;
}

/* Reads what is there into ep->rbuf: 1 data, 0 EOF, -1 error, 2 nothing now. */
int evp_sess_read_endpoint(endpoint *ep)
{
    evp_session *s = ep->s;
    if (ep->stack && s->state != S_DRAIN) /* a drained client's bytes are dropped unread */
        return evp_sess_read_stacked(ep);
    if (ep == &s->cl && ep->kind == EP_STREAM && (s->state == S_HANDSHAKE || s->state == S_DRAIN))
        return read_handshake(ep);
    evp_qbuf *q = ep->kind == EP_STREAM ? read_dest(ep) : &ep->rbuf;
    uint8_t *p = evp_qbuf_room(q, READ_CHUNK + 2);
    if (p == NULL)
        return -1;
    if (ep->kind == EP_DGRAM && s->cone)
        return evp_sess_cone_recv(s, q);
    if (ep->kind == EP_DGRAM) {
        ssize_t n = recv(ep->fd, p + 2, MAX_DATAGRAM, 0);
        if (n == -1)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNREFUSED)
                       ? 2
                       : -1;
        ep->wire_in += (uint64_t)n;
        p[0] = (uint8_t)(n >> 8);
        p[1] = (uint8_t)n;
        q->b.len += (size_t)n + 2;
        return 1;
    }
    /* All the room there is (at least READ_CHUNK), at most a block: one large read. */
    size_t room = q->b.cap - q->b.len;
    ssize_t n = recv(ep->fd, p, room < EVP_BUF_BLOCK ? room : EVP_BUF_BLOCK, 0);
    if (n > 0) {
        q->b.len += (size_t)n;
        ep->wire_in += (uint64_t)n;
        if (q != &ep->rbuf)
            *(ep == &s->cl ? &s->bytes_up : &s->bytes_down) += (uint64_t)n;
        return 1;
    }
    if (n == 0)
        return 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 2 : -1;
}
