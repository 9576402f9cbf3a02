/* The server side of a multiplexer (ABI 1.7) for one carrying session. Its stream arrives on
 * a socketpair end whose other end is the carrying session's server side, so the carrier
 * decrypts, backpressures and times out as any session does; each sub-stream gets a session
 * of its own on another socketpair (session_sub.c), which routes, dials, logs and counts it.
 *
 * Mux.Cool has no flow window per sub-stream. Toward a sub-stream whose target reads slowly
 * the bytes queue here; past SUB_HIGH the connection stops reading, as V2Ray's does (its
 * pipes block the connection's reader), so a large upload to a slow target still completes.
 * A sub-stream that holds the connection so for SUB_STALL seconds is ended with Error and
 * reading goes on, so one dead target does not stall its siblings for good. The other way,
 * sub-streams stop being read while the bytes queued toward the client pass OUT_HIGH.
 * An End from the client ends the sub-stream's upload (a FIN to its target) and its download
 * goes on until the target ends, as a half-close does; a second End (V2Ray's client answers
 * our Keep for a sub-stream it closed with one) ends it for good. */
#include "mux_conn_int.h"

#include "buf.h"
#include "log.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_decode(evp_mux_conn *c);

/* ---- sub-streams ----------------------------------------------------------------------- */

static mux_sub *sub_find(evp_mux_conn *c, uint32_t id)
{
    for (mux_sub *s = c->subs; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

void evp_mux_sub_free(mux_sub *s)
{
    evp_mux_conn *c = s->c;
    ev_io_stop(c->rt->loop, &s->rio);
    ev_io_stop(c->rt->loop, &s->wio);
    close(s->fd);
    evp_qbuf_free(&s->wq);
    evp_qbuf_free(&s->rq);
    if (s->link)
        s->link->carrier = NULL;
    for (mux_sub **p = &c->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    c->n_subs--;
    if (c->blocker == s)
        c->blocker = NULL;
    free(s);
}

/* The link's callback: the sub-stream's session ended (its socket end is closed too). */
void evp_mux_sub_ended(void *carrier, int failed)
{
    mux_sub *s = carrier;
    s->link = NULL;
    s->failed |= (uint8_t)failed;
}

int evp_mux_emit_event(evp_mux_conn *c, const evp_mux_event *ev)
{
    if (c->ops->encode(c->conn, ev, &c->wq.b) != EVP_OK) {
        evp_mux_conn_close(c, "cannot write a frame (out of memory)");
        return -1;
    }
    return 0;
}

/* Appends one event to the client's queue; 0, or -1 when the connection was closed. */
int evp_mux_emit(evp_mux_conn *c, uint8_t kind, uint32_t id, int error, const uint8_t *data,
                size_t len)
{
    evp_mux_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.id = id;
    ev.error = (uint8_t)(error != 0);
    ev.data = data;
    ev.len = len;
    return evp_mux_emit_event(c, &ev);
}

/* Ends sub-stream s toward the client (End, with Error when it failed) and forgets it. */
static int sub_end(mux_sub *s, int error)
{
    evp_mux_conn *c = s->c;
    uint32_t id = s->id;
    evp_mux_sub_free(s);
    if (evp_mux_emit(c, EVP_MUX_END, id, error, NULL, 0) != 0)
        return -1;
    evp_mux_conn_flush(c);
    return c->dead ? -1 : 0;
}

/* The reading stopped for a full sub-stream and it has room again (or is gone): go on. */
static void unblock(evp_mux_conn *c)
{
    c->blocker = NULL;
    ev_timer_stop(c->rt->loop, &c->timer);
    if (c->decoding)
        return; /* the decoding loop goes on by itself */
    conn_decode(c);
    if (!c->dead && c->blocker == NULL && !c->eof)
        ev_io_start(c->rt->loop, &c->rio);
}

/* Writes what it can of s->wq to its session; shuts the write side after the client's End. */
static void sub_flush(mux_sub *s)
{
    evp_mux_conn *c = s->c;
    while (!s->shut && evp_qbuf_len(&s->wq) > 0) {
        ssize_t n = send(s->fd, evp_qbuf_head(&s->wq), evp_qbuf_len(&s->wq), MSG_NOSIGNAL);
        if (n > 0) {
            evp_qbuf_take(&s->wq, (size_t)n);
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        s->shut = 1; /* the session stopped reading (it ended): what it would get is dropped */
        evp_qbuf_free(&s->wq);
    }
    if (evp_qbuf_len(&s->wq) == 0) {
        evp_qbuf_trim(&s->wq);
        if (s->peer_ended && !s->shut) {
            s->shut = 1;
            shutdown(s->fd, SHUT_WR);
        }
        if (s->shut && s->read_done) { /* client side: both ways over */
            evp_mux_sub_free(s);
            return;
        }
    }
    if (evp_qbuf_len(&s->wq) > 0)
        ev_io_start(c->rt->loop, &s->wio);
    else
        ev_io_stop(c->rt->loop, &s->wio);
    if (c->blocker == s && evp_qbuf_len(&s->wq) <= SUB_HIGH / 2)
        unblock(c);
}

static void on_sub_write(EV_P_ ev_io *w, int revents)
{
    sub_flush((mux_sub *)((char *)w - offsetof(mux_sub, wio)));
}

/* Client side: the session's upload ended. End goes to the server, as V2Ray's client sends
 * it; the sub-stream stays for the download until the server's End. */
static void upload_end(mux_sub *s)
{
    evp_mux_conn *c = s->c;
    s->read_done = 1;
    ev_io_stop(c->rt->loop, &s->rio);
    if (s->shut) { /* the download is over too */
        evp_mux_sub_free(s);
        return;
    }
    if (evp_mux_emit(c, EVP_MUX_END, s->id, s->failed, NULL, 0) == 0)
        evp_mux_conn_flush(c);
}

/* Bytes from a sub-stream's session: TCP bytes go as they come, UDP records one datagram a
 * frame. Its end (or failure) ends the sub-stream. */
static void on_sub_read(EV_P_ ev_io *w, int revents)
{
    mux_sub *s = (mux_sub *)w;
    evp_mux_conn *c = s->c;
    size_t cap = c->ops->max_data < SUB_CHUNK ? c->ops->max_data : SUB_CHUNK;
    if (s->network == EVP_NET_UDP) {
        uint8_t *p = evp_qbuf_room(&s->rq, SUB_CHUNK);
        ssize_t n = p ? recv(s->fd, p, SUB_CHUNK, 0) : -1;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n == 0 && c->client) {
            upload_end(s);
            return;
        }
        if (n <= 0) {
            sub_end(s, n < 0 || s->failed);
            return;
        }
        s->rq.b.len += (size_t)n;
        if (evp_mux_dgram_frame(s) != 0)
            return;
    } else {
        uint8_t buf[SUB_CHUNK];
        ssize_t n = recv(s->fd, buf, cap, 0);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n == 0 && c->client) {
            upload_end(s); /* the download goes on until the server's End */
            return;
        }
        if (n <= 0) {
            sub_end(s, n < 0 || s->failed);
            return;
        }
        if (evp_mux_emit(c, EVP_MUX_DATA, s->id, 0, buf, (size_t)n) != 0)
            return;
    }
    evp_mux_conn_flush(c);
}

/* Starts sub-stream id toward target: its socketpair and its session. */
/* A sub-stream record on our end (fd) of its socketpair, filed in c; NULL out of memory (fd
 * left open). Reading starts with evp_mux_sub_start. */
mux_sub *evp_mux_sub_attach(evp_mux_conn *c, uint32_t id, int fd, uint8_t network)
{
    mux_sub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->c = c;
    s->id = id;
    s->fd = fd;
    s->network = network;
    ev_io_init(&s->rio, on_sub_read, s->fd, EV_READ);
    ev_io_init(&s->wio, on_sub_write, s->fd, EV_WRITE);
    s->next = c->subs;
    c->subs = s;
    c->n_subs++;
    return s;
}

void evp_mux_sub_start(mux_sub *s)
{
    if (!s->c->subs_paused)
        ev_io_start(s->c->rt->loop, &s->rio);
}

/* Server side: starts sub-stream id toward target, its socketpair and its session. */
static mux_sub *sub_open(evp_mux_conn *c, const evp_mux_event *ev)
{
    uint32_t id = ev->id;
    const evp_addr *target = &ev->target;
    uint8_t network = ev->network;
    int pair[2];
    evp_sub_link *link = calloc(1, sizeof *link);
    if (link == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair)) {
        free(link);
        return NULL;
    }
    mux_sub *s = evp_mux_sub_attach(c, id, pair[0], network);
    if (s == NULL) {
        close(pair[0]);
        close(pair[1]);
        free(link);
        return NULL;
    }
    link->carrier = s;
    link->ended = evp_mux_sub_ended;
    link->user = c->user ? strdup(c->user) : NULL;
    s->link = link;
    s->target = *target;
    if (network == EVP_NET_UDP && evp_mux_wants_cone(c, ev)) {
        s->cone = link->cone = 1;
        memcpy(link->xudp_id, ev->global_id, sizeof link->xudp_id);
    }
    if (evp_session_sub(c->rt, pair[1], &c->origin, target, network, link) == NULL) {
        s->link = NULL; /* freed with the session that could not start */
        evp_mux_sub_free(s);
        return NULL;
    }
    evp_mux_sub_start(s);
    return s;
}

/* Queues data for s's session (a record on UDP, to peer or its target); 0, or -1 out of
 * memory. */
static int sub_queue(mux_sub *s, const evp_addr *peer, const uint8_t *data, size_t len)
{
    if (s->shut || s->peer_ended)
        return 0; /* its session stopped reading, or the client ended it: dropped */
    if (s->network == EVP_NET_UDP)
        return evp_mux_dgram_queue(s, peer, data, len);
    uint8_t *p = evp_qbuf_room(&s->wq, len);
    if (p == NULL)
        return -1;
    memcpy(p, data, len);
    s->wq.b.len += len;
    return 0;
}

/* ---- the multiplexed stream ------------------------------------------------------------ */

static void on_new(evp_mux_conn *c, const evp_mux_event *ev)
{
    mux_sub *old = sub_find(c, ev->id);
    if (old && sub_end(old, 1) != 0) /* a New for an open id: the old one cannot go on */
        return;
    if (c->n_subs >= SUBS_MAX) {
        if (!c->warned_cap)
            evp_warn("mux [%s]: more than %d sub-streams at once: the extra ones are refused",
                     c->origin.in->tag, SUBS_MAX);
        c->warned_cap = 1;
        evp_mux_emit(c, EVP_MUX_END, ev->id, 1, NULL, 0);
        return;
    }
    mux_sub *s = sub_open(c, ev);
    if (s == NULL) {
        evp_mux_emit(c, EVP_MUX_END, ev->id, 1, NULL, 0);
        return;
    }
    if (ev->len && sub_queue(s, NULL, ev->data, ev->len) != 0) {
        sub_end(s, 1);
        return;
    }
    sub_flush(s);
}

/* One event from the client; the connection may be closed after it. */
static void on_event(evp_mux_conn *c, const evp_mux_event *ev)
{
    mux_sub *s;
    switch (ev->kind) {
    case EVP_MUX_NEW:
        if (!c->client) /* a server opens nothing on the client */
            on_new(c, ev);
        return;
    case EVP_MUX_DATA:
        s = sub_find(c, ev->id);
        if (s == NULL) { /* gone: tell the client, as V2Ray does, and drop the data */
            evp_mux_emit(c, EVP_MUX_END, ev->id, 0, NULL, 0);
            return;
        }
        if (sub_queue(s, &ev->peer, ev->data, ev->len) != 0) {
            sub_end(s, 1);
            return;
        }
        sub_flush(s);
        if (evp_qbuf_len(&s->wq) > SUB_HIGH && c->blocker == NULL) {
            c->blocker = s;
            c->blocked_since = ev_now(c->rt->loop);
            ev_timer_stop(c->rt->loop, &c->timer);
            ev_timer_set(&c->timer, SUB_STALL, 0.);
            ev_timer_start(c->rt->loop, &c->timer);
        }
        return;
    case EVP_MUX_END:
        s = sub_find(c, ev->id);
        if (s == NULL)
            return;
        if (ev->error || s->peer_ended) {
            if (ev->error && s->link) /* its session resets its own peer: a cut stream */
                s->link->failed = 1;
            evp_mux_sub_free(s); /* its session sees the end and finishes alone */
            return;
        }
        s->peer_ended = 1;
        sub_flush(s);
        return;
    default:
        return;
    }
}

/* Decodes what was read until it is used up or a full sub-stream stops it. */
static void conn_decode(evp_mux_conn *c)
{
    c->decoding = 1;
    while (!c->dead && c->blocker == NULL) {
        evp_io io;
        evp_mux_event ev;
        memset(&io, 0, sizeof io);
        memset(&ev, 0, sizeof ev); /* a plugin built before 1.8 leaves the XUDP fields */
        io.in = evp_qbuf_head(&c->rq);
        io.in_len = evp_qbuf_len(&c->rq);
        io.in_eof = c->eof;
        io.back = &c->wq.b; /* the multiplexer's own frames (HTTP/2 acks, window updates) */
        int r = c->ops->decode(c->conn, &io, &ev);
        if (r != EVP_OK) {
            c->decoding = 0;
            evp_mux_conn_close(c, io.reason[0] ? io.reason : "malformed stream");
            return;
        }
        if (ev.kind != EVP_MUX_NONE)
            on_event(c, &ev); /* ev.data points into rq: taken only after */
        if (c->dead)
            break;
        evp_qbuf_take(&c->rq, io.consumed);
        if (io.consumed == 0 && ev.kind == EVP_MUX_NONE)
            break; /* needs more input */
    }
    c->decoding = 0;
    if (c->dead)
        return;
    evp_qbuf_trim(&c->rq);
    evp_mux_conn_flush(c);
    if (!c->dead && c->eof && evp_qbuf_len(&c->rq) == 0)
        evp_mux_conn_close(c, NULL); /* the carrying session ended the stream */
}

static void on_conn_read(EV_P_ ev_io *w, int revents)
{
    evp_mux_conn *c = (evp_mux_conn *)w;
    uint8_t *p = evp_qbuf_room(&c->rq, IN_CHUNK);
    if (p == NULL) {
        evp_mux_conn_close(c, "out of memory");
        return;
    }
    ssize_t n = recv(c->fd, p, IN_CHUNK, 0);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        evp_mux_conn_close(c, strerror(errno));
        return;
    }
    if (n == 0) {
        c->eof = 1;
        ev_io_stop(EV_A, w);
    }
    c->rq.b.len += (size_t)n;
    conn_decode(c);
    if (!c->dead && c->blocker)
        ev_io_stop(EV_A, w); /* read again once the full sub-stream has room */
}

/* Sub-streams are read only while the client's queue has room. */
static void subs_pause(evp_mux_conn *c, int pause)
{
    if (c->subs_paused == pause)
        return;
    c->subs_paused = (uint8_t)pause;
    for (mux_sub *s = c->subs; s; s = s->next) {
        if (pause)
            ev_io_stop(c->rt->loop, &s->rio);
        else if (!s->read_done)
            ev_io_start(c->rt->loop, &s->rio);
    }
}

void evp_mux_conn_flush(evp_mux_conn *c)
{
    while (evp_qbuf_len(&c->wq) > 0) {
        ssize_t n = send(c->fd, evp_qbuf_head(&c->wq), evp_qbuf_len(&c->wq), MSG_NOSIGNAL);
        if (n > 0) {
            evp_qbuf_take(&c->wq, (size_t)n);
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        evp_mux_conn_close(c, NULL); /* the carrying session is gone */
        return;
    }
    size_t left = evp_qbuf_len(&c->wq);
    if (left == 0)
        evp_qbuf_trim(&c->wq);
    if (left > 0)
        ev_io_start(c->rt->loop, &c->wio);
    else
        ev_io_stop(c->rt->loop, &c->wio);
    if (c->ops->conn_held) /* taken and held for a flow window: queued all the same */
        left += c->ops->conn_held(c->conn);
    if (left > OUT_HIGH)
        subs_pause(c, 1);
    else if (left < OUT_LOW)
        subs_pause(c, 0);
}

static void on_conn_write(EV_P_ ev_io *w, int revents)
{
    evp_mux_conn_flush((evp_mux_conn *)((char *)w - offsetof(evp_mux_conn, wio)));
}

/* The stall watch: a sub-stream held the reading for SUB_STALL seconds. */
static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_mux_conn *c = (evp_mux_conn *)((char *)w - offsetof(evp_mux_conn, timer));
    mux_sub *s = c->blocker;
    if (s == NULL)
        return;
    evp_warn("mux [%s]: sub-stream %u read nothing for %.0f s with %zu bytes queued: ended "
             "with Error so the others go on", c->origin.in->tag, s->id, SUB_STALL,
             evp_qbuf_len(&s->wq));
    if (sub_end(s, 1) == 0)
        unblock(c);
}

/* ---- lifetime -------------------------------------------------------------------------- */

static void on_free(EV_P_ ev_timer *w, int revents)
{
    free((char *)w - offsetof(evp_mux_conn, timer));
}

static void conn_teardown(evp_mux_conn *c)
{
    ev_io_stop(c->rt->loop, &c->rio);
    ev_io_stop(c->rt->loop, &c->wio);
    ev_timer_stop(c->rt->loop, &c->timer);
    ev_timer_stop(c->rt->loop, &c->idle);
    evp_instance_unref(c->client_out);
    while (c->subs)
        evp_mux_sub_free(c->subs); /* each session sees its client end and finishes alone */
    close(c->fd);
    evp_qbuf_free(&c->rq);
    evp_qbuf_free(&c->wq);
    c->ops->conn_free(c->conn);
    evp_module_unref(c->mux);
    evp_instance_unref(c->origin.in);
    evp_router_unref(c->origin.router);
    free(c->user);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->rt->muxes = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* Ends the connection and its sub-streams; the memory goes on the next loop turn, so a
 * caller up the stack may still read c->dead. */
void evp_mux_conn_close(evp_mux_conn *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = 1;
    if (why)
        evp_warn("mux [%s]: %s: the connection and its %zu sub-streams end", c->origin.in->tag,
                 why, c->n_subs);
    /* A client connection ends with sub-streams open when its server went away: each
     * session resets its own client rather than end a cut download cleanly. */
    for (mux_sub *s = c->subs; s && c->client; s = s->next)
        if (s->link)
            s->link->failed = 1;
    conn_teardown(c);
    ev_timer_init(&c->timer, on_free, 0., 0.);
    ev_timer_start(c->rt->loop, &c->timer);
}

evp_mux_conn *evp_mux_conn_alloc(evp_runtime *rt, int fd, evp_module *mux, void *conn_inst,
                                const evp_sub_origin *o, const char *user, int server)
{
    evp_mux_conn *c = calloc(1, sizeof *c);
    const evp_mux_ops *ops = evp_module_muxops(mux);
    void *conn = c ? ops->conn_new(conn_inst, server) : NULL;
    char *u = user && c ? strdup(user) : NULL;
    if (conn == NULL || (user && u == NULL)) {
        if (conn)
            ops->conn_free(conn);
        free(u);
        free(c);
        close(fd);
        return NULL;
    }
    c->rt = rt;
    c->fd = fd;
    c->mux = evp_module_ref(mux);
    c->ops = ops;
    c->conn = conn;
    c->origin = *o;
    evp_instance_ref(o->in);
    evp_router_ref(o->router);
    c->user = u;
    ev_io_init(&c->rio, on_conn_read, fd, EV_READ);
    ev_io_init(&c->wio, on_conn_write, fd, EV_WRITE);
    ev_timer_init(&c->timer, on_timer, SUB_STALL, 0.);
    ev_timer_init(&c->idle, evp_mux_client_idle, CLIENT_IDLE, CLIENT_IDLE);
    c->next = rt->muxes;
    if (rt->muxes)
        rt->muxes->prev = c;
    rt->muxes = c;
    ev_io_start(rt->loop, &c->rio);
    return c;
}

evp_mux_conn *evp_mux_conn_new(evp_runtime *rt, int fd, evp_module *mux, void *conn_inst,
                               const evp_sub_origin *o, const char *user)
{
    return evp_mux_conn_alloc(rt, fd, mux, conn_inst, o, user, 1);
}

void evp_mux_conn_close_all(evp_runtime *rt)
{
    while (rt->muxes) {
        evp_mux_conn *c = rt->muxes;
        c->dead = 1;
        conn_teardown(c);
        free(c);
    }
}
