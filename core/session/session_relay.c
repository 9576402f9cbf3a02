/* The relay proper: both directions through both codecs, end-of-stream handling, and
 * writing with backpressure. */
#include "session_int.h"

#include "buf.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Writes what it can of ep->wbuf; -1 when the endpoint failed. */
static int flush_endpoint(evp_session *s, endpoint *ep)
{
    while (ep->wbuf.len > 0) {
        ssize_t n;
        if (ep->kind == EP_STREAM) {
            n = send(ep->fd, ep->wbuf.data, ep->wbuf.len, MSG_NOSIGNAL);
            if (n > 0) {
                evp_buf_consume(&ep->wbuf, (size_t)n);
                continue;
            }
        } else {
            /* records: BE16 length + datagram */
            if (ep->wbuf.len < 2)
                break;
            size_t dlen = ((size_t)ep->wbuf.data[0] << 8) | ep->wbuf.data[1];
            if (ep->wbuf.len < 2 + dlen)
                break;
            if (ep->kind == EP_DGRAM)
                n = send(ep->fd, ep->wbuf.data + 2, dlen, 0);
            else if (s->udp_owner && s->udp_owner->send)
                n = s->udp_owner->send(s->udp_owner, (struct sockaddr *)&s->peer, s->peer_len,
                                       &s->target, ep->wbuf.data + 2, dlen);
            else if (s->udp_owner)
                n = sendto(s->udp_owner->fd, ep->wbuf.data + 2, dlen, 0,
                           (struct sockaddr *)&s->peer, s->peer_len);
            else
                n = (ssize_t)dlen; /* the owner is gone: drop */
            if (n >= 0 || ep->kind == EP_PEER || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                evp_buf_consume(&ep->wbuf, 2 + dlen); /* a lost datagram is UDP's right */
                continue;
            }
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == -1 && errno == EINTR)
            continue;
        return -1;
    }
    if (ep->wbuf.len == 0) {
        evp_buf_trim(&ep->wbuf);
        if (ep->shut_pending && !ep->shut_done) {
            ep->shut_done = 1;
            if (ep->kind == EP_STREAM && ep->fd != -1)
                shutdown(ep->fd, SHUT_WR);
        }
    }
    return 0;
}

/* Ends the session when both directions are finished and everything is written. */
static int maybe_finish(evp_session *s)
{
    if (s->state == S_CLOSING && s->cl.wbuf.len == 0) {
        evp_sess_close(s, NULL);
        return 1;
    }
    if (s->state != S_RELAY || !s->up_done || !s->down_done)
        return 0;
    if (s->cl.wbuf.len == 0 && (s->sv.fd == -1 || s->sv.wbuf.len == 0)) {
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
    if (s->cl.fd != -1 || s->cl.kind == EP_PEER)
        if (flush_endpoint(s, &s->cl) == -1) {
            evp_sess_close_err(s, "client write failed", errno);
            return 1;
        }
    if (s->sv.fd != -1 && s->state == S_RELAY)
        if (flush_endpoint(s, &s->sv) == -1) {
            evp_sess_close_err(s, "server write failed", errno);
            return 1;
        }
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

/* Room in out for what reading would add: a side reads on until out passes HIGH_WATER, and
 * once stopped reads again only below LOW_WATER, so it does not flip on and off with every
 * write near the mark. */
static int room_in(const evp_buf *out, const ev_io *reader)
{
    return out->len < (ev_is_active(reader) ? HIGH_WATER : LOW_WATER);
}

void evp_sess_update_watchers(evp_session *s)
{
    if (s->state == S_DEAD)
        return;
    endpoint *cl = &s->cl, *sv = &s->sv;
    int relay = s->state == S_RELAY;
    if (cl->fd != -1) {
        int read_cl =
            !cl->eof && (s->state == S_HANDSHAKE || s->state == S_DRAIN || s->state == S_ASSOC ||
                         (relay && !s->up_done && room_in(&sv->wbuf, &cl->rio)));
        set_io(s, &cl->rio, read_cl);
        set_io(s, &cl->wio, cl->wbuf.len > 0);
    }
    if (sv->fd != -1) {
        int read_sv = relay && !sv->eof && room_in(&cl->wbuf, &sv->rio);
        set_io(s, &sv->rio, read_sv);
        set_io(s, &sv->wio, s->state == S_CONNECTING || (relay && sv->wbuf.len > 0));
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

/* Upstream ended: write the outbound's end marker, then FIN toward the server. */
static void finish_up(evp_session *s)
{
    if (s->up_done)
        return;
    s->up_done = 1;
    evp_io io;
    if (s->sv.fd != -1 || s->sv.kind == EP_DGRAM) {
        evp_sess_run_codec(evp_outops(s->out)->encode, s->outs, NULL, 0, 1, &s->sv.wbuf,
                           &s->cl.wbuf, &io);
        s->sv.shut_pending = 1;
    }
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
    evp_sess_run_codec(s->inops->encode, s->ins, NULL, 0, 1, &s->cl.wbuf, &s->sv.wbuf, &io);
    s->cl.shut_pending = 1;
}

/* Passes decoded plaintext in s->plain through the outbound encoder. */
static int encode_up(evp_session *s)
{
    if (s->plain.len == 0)
        return 0;
    evp_io io;
    int r = evp_sess_run_codec(evp_outops(s->out)->encode, s->outs, s->plain.data, s->plain.len, 0,
                               &s->sv.wbuf, &s->cl.wbuf, &io);
    s->bytes_up += io.consumed;
    evp_buf_consume(&s->plain, io.consumed);
    if (r == EVP_ERR) {
        evp_sess_close(s, io.reason[0] ? io.reason : "outbound encode failed");
        return -1;
    }
    return 0;
}

void evp_sess_pump_up(evp_session *s)
{
    endpoint *cl = &s->cl;
    while (s->state == S_RELAY && !s->up_done && cl->rbuf.len > 0 && s->sv.wbuf.len < HIGH_WATER) {
        evp_io io;
        int r = evp_sess_run_codec(s->inops->decode, s->ins, cl->rbuf.data, cl->rbuf.len, 0,
                                   &s->plain, &cl->wbuf, &io);
        evp_buf_consume(&cl->rbuf, io.consumed);
        if (r == EVP_ERR) {
            evp_sess_close(s, io.reason[0] ? io.reason : "inbound decode failed");
            return;
        }
        if (encode_up(s) != 0)
            return;
        if (r == EVP_EOF) {
            cl->rbuf.len = 0; /* nothing may follow the end marker */
            finish_up(s);
            break;
        }
        if (io.consumed == 0)
            break; /* the codec needs more bytes */
    }
    if (s->state == S_RELAY && cl->eof && !s->up_done && cl->rbuf.len == 0)
        finish_up(s);
    if (cl->rbuf.len == 0)
        evp_buf_trim(&cl->rbuf);
    if (s->plain.len == 0)
        evp_buf_trim(&s->plain);
}

void evp_sess_pump_down(evp_session *s)
{
    endpoint *sv = &s->sv;
    while (s->state == S_RELAY && !s->down_done && sv->rbuf.len > 0 &&
           s->cl.wbuf.len < HIGH_WATER) {
        evp_io io;
        int r = evp_sess_run_codec(evp_outops(s->out)->decode, s->outs, sv->rbuf.data, sv->rbuf.len,
                                   0, &s->plain, &sv->wbuf, &io);
        evp_buf_consume(&sv->rbuf, io.consumed);
        if (r == EVP_ERR) {
            evp_sess_close(s, io.reason[0] ? io.reason : "outbound decode failed");
            return;
        }
        if (s->plain.len) {
            evp_io eio;
            int e = evp_sess_run_codec(s->inops->encode, s->ins, s->plain.data, s->plain.len, 0,
                                       &s->cl.wbuf, &sv->wbuf, &eio);
            s->bytes_down += eio.consumed;
            evp_buf_consume(&s->plain, eio.consumed);
            if (e == EVP_ERR) {
                evp_sess_close(s, eio.reason[0] ? eio.reason : "inbound encode failed");
                return;
            }
        }
        if (r == EVP_EOF) {
            sv->rbuf.len = 0;
            finish_down(s);
            break;
        }
        if (io.consumed == 0)
            break;
    }
    if (s->state == S_RELAY && sv->eof && !s->down_done && sv->rbuf.len == 0)
        finish_down(s); /* a bare close ends the stream too (V2Ray does this, §8.6) */
    if (sv->rbuf.len == 0)
        evp_buf_trim(&sv->rbuf);
    if (s->plain.len == 0)
        evp_buf_trim(&s->plain);
}

/* Before its target is named a client has not authenticated: its bytes go into a buffer
 * that grows only as needed, so 10,000 connections that never finish a handshake do not
 * each hold a standard 64 KiB block. */
static int read_handshake(endpoint *ep)
{
    uint8_t tmp[HANDSHAKE_READ];
    ssize_t n = recv(ep->fd, tmp, sizeof tmp, 0);
    if (n > 0)
        return evp_buf_append_small(&ep->rbuf, tmp, (size_t)n) == 0 ? 1 : -1;
    if (n == 0)
        return 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 2 : -1;
}

/* Reads what is there into ep->rbuf: 1 data, 0 EOF, -1 error, 2 nothing now. */
int evp_sess_read_endpoint(endpoint *ep)
{
    int state = ep->s->state;
    if (ep == &ep->s->cl && ep->kind == EP_STREAM && (state == S_HANDSHAKE || state == S_DRAIN))
        return read_handshake(ep);
    uint8_t *p = evp_buf_reserve(&ep->rbuf, READ_CHUNK + 2);
    if (p == NULL)
        return -1;
    if (ep->kind == EP_DGRAM) {
        ssize_t n = recv(ep->fd, p + 2, MAX_DATAGRAM, 0);
        if (n == -1)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNREFUSED)
                       ? 2
                       : -1;
        p[0] = (uint8_t)(n >> 8);
        p[1] = (uint8_t)n;
        ep->rbuf.len += (size_t)n + 2;
        return 1;
    }
    ssize_t n = recv(ep->fd, p, READ_CHUNK, 0);
    if (n > 0) {
        ep->rbuf.len += (size_t)n;
        return 1;
    }
    if (n == 0)
        return 0;
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 2 : -1;
}
