/* The relay: client endpoint <-> inbound codec <-> outbound codec <-> server endpoint.
 *
 * Up: client bytes -> inbound.decode -> plain -> outbound.encode -> server wbuf.
 * Down: server bytes -> outbound.decode -> plain -> inbound.encode -> client wbuf.
 * A side stops reading while the opposite wbuf is above HIGH_WATER and resumes below
 * LOW_WATER. An end of stream (FIN or the protocol's own marker) is passed on as the
 * protocol's marker plus shutdown(SHUT_WR), so half-closes are carried through. */
#include "session.h"

#include "buf.h"
#include "log.h"
#include "stats.h"
#include "udp_assoc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define HIGH_WATER (512 * 1024)
#define LOW_WATER (128 * 1024)
#define MAX_DATAGRAM 65535

enum ep_kind {
    EP_STREAM, /* a TCP socket */
    EP_DGRAM, /* a connected UDP socket: each record is one datagram */
    EP_PEER, /* a peer behind a UDP listener: datagrams are pushed in, sent with sendto */
};

typedef struct endpoint {
    ev_io rio; /* first member: read callbacks find the endpoint by a cast */
    ev_io wio;
    struct evp_session *s;
    int kind;
    int fd;
    evp_buf rbuf; /* read, not yet taken by the codec */
    evp_buf wbuf; /* waiting to be written */
    int eof; /* nothing more will be read */
    int shut_pending; /* shut the write side once wbuf is flushed */
    int shut_done;
} endpoint;

enum state {
    S_HANDSHAKE, /* the inbound has not named a target yet */
    S_RESOLVING,
    S_CONNECTING,
    S_RELAY,
    S_DRAIN, /* a rejected client: swallow some bytes, then close */
    S_CLOSING, /* write what is queued for the client, then close */
    S_ASSOC, /* a SOCKS UDP ASSOCIATE control connection: it lives as long as the TCP one */
    S_DEAD, /* torn down; the struct is freed from the loop, so callers may still look */
};

struct evp_session {
    ev_timer timer; /* first member */
    evp_runtime *rt;
    evp_session *prev, *next;
    endpoint cl, sv;
    evp_instance *in, *out;
    const evp_inbound_ops *inops; /* in's, or pass-through for a SOCKS UDP sub-session */
    void *ins, *outs;
    evp_buf plain; /* scratch between the two codecs */
    int state;
    int network;
    int up_done, down_done;
    uint32_t drain_left;
    evp_resolve_req *resolving;
    evp_addr target, dial;
    double last_active;
    uint64_t bytes_up, bytes_down; /* plaintext relayed, for the stats */
    evp_udp_owner *udp_owner;
    evp_assoc *assoc; /* S_ASSOC: the UDP relay this control connection keeps alive */
    int target_named; /* pass-through inbound: EVP_TARGET given */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char label[96]; /* "tcp:host:port" for logs */
};

static void session_close(evp_session *s, const char *why);
static void pump_up(evp_session *s);
static void pump_down(evp_session *s);
static void update_watchers(evp_session *s);

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void addr_label(const evp_addr *a, int network, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *net = network == EVP_NET_UDP ? "udp" : "tcp";
    if (a->type == EVP_ADDR_IPV4) {
        inet_ntop(AF_INET, a->bytes, host, sizeof host);
        snprintf(out, n, "%s:%s:%u", net, host, a->port);
    } else if (a->type == EVP_ADDR_IPV6) {
        inet_ntop(AF_INET6, a->bytes, host, sizeof host);
        snprintf(out, n, "%s:[%s]:%u", net, host, a->port);
    } else if (a->type == EVP_ADDR_DOMAIN) {
        snprintf(out, n, "%s:%.*s:%u", net, a->len, (const char *)a->bytes, a->port);
    } else {
        snprintf(out, n, "%s:-", net);
    }
}

static void touch(evp_session *s)
{
    s->last_active = ev_now(s->rt->loop);
}

/* ---- writing ---------------------------------------------------------------------- */

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
        session_close(s, NULL);
        return 1;
    }
    if (s->state != S_RELAY || !s->up_done || !s->down_done)
        return 0;
    if (s->cl.wbuf.len == 0 && (s->sv.fd == -1 || s->sv.wbuf.len == 0)) {
        session_close(s, NULL);
        return 1;
    }
    return 0;
}

static void on_write(EV_P_ ev_io *w, int revents);

/* Flushes both endpoints, then re-arms watchers; returns 1 when the session is gone. */
static int flush_all(evp_session *s)
{
    if (s->state == S_DEAD)
        return 1;
    if (s->cl.fd != -1 || s->cl.kind == EP_PEER)
        if (flush_endpoint(s, &s->cl) == -1) {
            session_close(s, "client write failed");
            return 1;
        }
    if (s->sv.fd != -1 && s->state == S_RELAY)
        if (flush_endpoint(s, &s->sv) == -1) {
            session_close(s, "server write failed");
            return 1;
        }
    if (maybe_finish(s))
        return 1;
    update_watchers(s);
    return 0;
}

static void set_io(evp_session *s, ev_io *w, int want)
{
    if (want && !ev_is_active(w))
        ev_io_start(s->rt->loop, w);
    else if (!want && ev_is_active(w))
        ev_io_stop(s->rt->loop, w);
}

static void update_watchers(evp_session *s)
{
    if (s->state == S_DEAD)
        return;
    endpoint *cl = &s->cl, *sv = &s->sv;
    int relay = s->state == S_RELAY;
    if (cl->fd != -1) {
        int read_cl = !cl->eof && (s->state == S_HANDSHAKE || s->state == S_DRAIN ||
                                   s->state == S_ASSOC ||
                                   (relay && !s->up_done && sv->wbuf.len < HIGH_WATER));
        set_io(s, &cl->rio, read_cl);
        set_io(s, &cl->wio, cl->wbuf.len > 0);
    }
    if (sv->fd != -1) {
        int read_sv = relay && !sv->eof && cl->wbuf.len < HIGH_WATER;
        set_io(s, &sv->rio, read_sv);
        set_io(s, &sv->wio, s->state == S_CONNECTING || (relay && sv->wbuf.len > 0));
    }
}

/* ---- the two directions ------------------------------------------------------------- */

static int run_codec(int (*fn)(void *, evp_io *), void *sess, const uint8_t *in, size_t len,
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
        run_codec(evp_outops(s->out)->encode, s->outs, NULL, 0, 1, &s->sv.wbuf, &s->cl.wbuf,
                  &io);
        s->sv.shut_pending = 1;
    }
}

/* Downstream ended: write the inbound's end marker, then FIN toward the client. */
static void finish_down(evp_session *s)
{
    if (s->down_done)
        return;
    s->down_done = 1;
    evp_io io;
    run_codec(s->inops->encode, s->ins, NULL, 0, 1, &s->cl.wbuf, &s->sv.wbuf, &io);
    s->cl.shut_pending = 1;
}

/* Passes decoded plaintext in s->plain through the outbound encoder. */
static int encode_up(evp_session *s)
{
    if (s->plain.len == 0)
        return 0;
    evp_io io;
    int r = run_codec(evp_outops(s->out)->encode, s->outs, s->plain.data, s->plain.len, 0,
                      &s->sv.wbuf, &s->cl.wbuf, &io);
    s->bytes_up += io.consumed;
    evp_buf_consume(&s->plain, io.consumed);
    if (r == EVP_ERR) {
        session_close(s, io.reason[0] ? io.reason : "outbound encode failed");
        return -1;
    }
    return 0;
}

static void pump_up(evp_session *s)
{
    endpoint *cl = &s->cl;
    while (s->state == S_RELAY && !s->up_done && cl->rbuf.len > 0 &&
           s->sv.wbuf.len < HIGH_WATER) {
        evp_io io;
        int r = run_codec(s->inops->decode, s->ins, cl->rbuf.data, cl->rbuf.len, 0,
                          &s->plain, &cl->wbuf, &io);
        evp_buf_consume(&cl->rbuf, io.consumed);
        if (r == EVP_ERR) {
            session_close(s, io.reason[0] ? io.reason : "inbound decode failed");
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

static void pump_down(evp_session *s)
{
    endpoint *sv = &s->sv;
    while (s->state == S_RELAY && !s->down_done && sv->rbuf.len > 0 &&
           s->cl.wbuf.len < HIGH_WATER) {
        evp_io io;
        int r = run_codec(evp_outops(s->out)->decode, s->outs, sv->rbuf.data, sv->rbuf.len, 0,
                          &s->plain, &sv->wbuf, &io);
        evp_buf_consume(&sv->rbuf, io.consumed);
        if (r == EVP_ERR) {
            session_close(s, io.reason[0] ? io.reason : "outbound decode failed");
            return;
        }
        if (s->plain.len) {
            evp_io eio;
            int e = run_codec(s->inops->encode, s->ins, s->plain.data, s->plain.len, 0,
                              &s->cl.wbuf, &sv->wbuf, &eio);
            s->bytes_down += eio.consumed;
            evp_buf_consume(&s->plain, eio.consumed);
            if (e == EVP_ERR) {
                session_close(s, eio.reason[0] ? eio.reason : "inbound encode failed");
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

/* ---- connecting ----------------------------------------------------------------------- */

/* One line in the access log: who, to where, through which inbound and outbound. */
static void access_line(evp_session *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN], from[INET6_ADDRSTRLEN + 16] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    if (s->peer_len) {
        sa = (const struct sockaddr *)&s->peer;
    } else if (s->cl.fd == -1 || getpeername(s->cl.fd, (struct sockaddr *)&ss, &len) == -1) {
        sa = NULL;
    }
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(from, sizeof from, "%s:%u", host, ntohs(in4->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(from, sizeof from, "[%s]:%u", host, ntohs(in6->sin6_port));
    }
    const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    evp_access_log(from, s->label, s->in->tag, s->out->tag, user);
}

static void start_relay(evp_session *s)
{
    evp_io io;
    s->state = S_RELAY;
    touch(s);
    const evp_inbound_ops *in = s->inops;
    if (in->connected) {
        memset(&io, 0, sizeof io);
        io.out = &s->plain;
        io.back = &s->cl.wbuf;
        if (in->connected(s->ins, 1, &io) == EVP_ERR) {
            session_close(s, io.reason[0] ? io.reason : "inbound refused");
            return;
        }
    }
    /* The outbound may write its header now (in_len 0). */
    if (run_codec(evp_outops(s->out)->encode, s->outs, NULL, 0, 0, &s->sv.wbuf, &s->cl.wbuf,
                  &io) == EVP_ERR) {
        session_close(s, io.reason[0] ? io.reason : "outbound refused");
        return;
    }
    access_line(s);
    if (evp_log_enabled(EVP_LOG_INFO)) {
        const evp_plugin *ind = s->in->mod->desc, *outd = s->out->mod->desc;
        evp_info("%s accepted [%s -> %s] (%s %s, %s %s)", s->label, s->in->tag, s->out->tag,
                 ind->name, ind->version ? ind->version : "?", outd->name,
                 outd->version ? outd->version : "?");
    }
    pump_up(s);
    if (s->state == S_RELAY)
        flush_all(s);
}

static void connect_failed(evp_session *s, const char *why)
{
    const evp_inbound_ops *in = s->inops;
    evp_warn("%s: %s", s->label, why);
    if (in->connected) {
        evp_io io;
        memset(&io, 0, sizeof io);
        io.out = &s->plain;
        io.back = &s->cl.wbuf;
        in->connected(s->ins, 0, &io);
    }
    if (s->sv.fd != -1) {
        ev_io_stop(s->rt->loop, &s->sv.rio);
        ev_io_stop(s->rt->loop, &s->sv.wio);
        close(s->sv.fd);
        s->sv.fd = -1;
    }
    s->state = S_CLOSING;
    s->cl.shut_pending = 1;
    flush_all(s);
}

static void on_connected(evp_session *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->sv.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err) {
        char why[160];
        snprintf(why, sizeof why, "connect failed: %s", strerror(err));
        connect_failed(s, why);
        return;
    }
    start_relay(s);
}

static void dial_sockaddr(evp_session *s, const struct sockaddr *sa, socklen_t len)
{
    int dgram = s->network == EVP_NET_UDP && (evp_outops(s->out)->flags & EVP_OUT_DATAGRAM);
    int fd = socket(sa->sa_family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd == -1 || set_nonblock(fd) == -1) {
        if (fd != -1)
            close(fd);
        connect_failed(s, "cannot create socket");
        return;
    }
    if (!dgram) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->sv.fd = fd;
    s->sv.kind = dgram ? EP_DGRAM : EP_STREAM;
    ev_io_set(&s->sv.rio, fd, EV_READ);
    ev_io_set(&s->sv.wio, fd, EV_WRITE);
    if (connect(fd, sa, len) == 0) {
        start_relay(s);
        return;
    }
    if (errno != EINPROGRESS) {
        char why[160];
        snprintf(why, sizeof why, "connect failed: %s", strerror(errno));
        connect_failed(s, why);
        return;
    }
    s->state = S_CONNECTING;
    touch(s);
    update_watchers(s);
}

static void on_resolved(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    evp_session *s = arg;
    s->resolving = NULL;
    if (sa == NULL) {
        char why[400];
        snprintf(why, sizeof why, "cannot resolve %s: %s", (const char *)s->dial.bytes,
                 err ? err : "no address");
        connect_failed(s, why);
        return;
    }
    dial_sockaddr(s, sa, len);
}

/* The inbound named its target: ask the outbound where to go and go there. */
static void open_outbound(evp_session *s)
{
    char err[256] = "";
    addr_label(&s->target, s->network, s->label, sizeof s->label);
    memset(&s->dial, 0, sizeof s->dial);
    s->outs = evp_outops(s->out)->session_new(s->out->inst, &s->target, (uint8_t)s->network,
                                              &s->dial, err, sizeof err);
    if (s->outs == NULL) {
        connect_failed(s, err[0] ? err : "outbound refused the session");
        return;
    }
    s->state = S_RESOLVING;
    update_watchers(s);
    if (s->dial.type == EVP_ADDR_NONE) {
        /* Nowhere to dial (blackhole): let the outbound answer, then close. */
        evp_io io;
        s->state = S_RELAY;
        if (s->inops->connected) {
            /* V2Ray answers success first, then the blackhole's response. */
            memset(&io, 0, sizeof io);
            io.out = &s->plain;
            io.back = &s->cl.wbuf;
            s->inops->connected(s->ins, 1, &io);
            s->plain.len = 0;
        }
        run_codec(evp_outops(s->out)->decode, s->outs, NULL, 0, 1, &s->plain, &s->sv.wbuf, &io);
        if (s->plain.len)
            run_codec(s->inops->encode, s->ins, s->plain.data, s->plain.len, 0,
                      &s->cl.wbuf, &s->sv.wbuf, &io);
        s->plain.len = 0;
        evp_info("%s blocked [%s -> %s]", s->label, s->in->tag, s->out->tag);
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
        flush_all(s);
        return;
    }
    if (s->dial.type == EVP_ADDR_IPV4) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(s->dial.port)};
        memcpy(&sin.sin_addr, s->dial.bytes, 4);
        dial_sockaddr(s, (struct sockaddr *)&sin, sizeof sin);
    } else if (s->dial.type == EVP_ADDR_IPV6) {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(s->dial.port)};
        memcpy(&sin6.sin6_addr, s->dial.bytes, 16);
        dial_sockaddr(s, (struct sockaddr *)&sin6, sizeof sin6);
    } else {
        s->dial.bytes[s->dial.len] = '\0';
        s->resolving = evp_resolve(s->rt->resolver, (const char *)s->dial.bytes, s->dial.port,
                                   on_resolved, s);
        if (s->resolving == NULL)
            connect_failed(s, "cannot start name resolution");
    }
}

/* ---- SOCKS UDP ASSOCIATE ---------------------------------------------------------------- */

/* The inbound asked for a UDP relay on this TCP connection: open it and tell the client
 * where (the inbound's connected hook writes the reply with io->target = the bound address). */
static void start_assoc(evp_session *s)
{
    evp_io io;
    memset(&io, 0, sizeof io);
    s->network = EVP_NET_UDP;
    snprintf(s->label, sizeof s->label, "udp-associate");
    s->assoc = evp_assoc_new(s->rt, s->cl.fd, s->in, s->out, &io.target);
    io.out = &s->plain;
    io.back = &s->cl.wbuf;
    int ok = s->assoc != NULL;
    if (s->inops->connected)
        s->inops->connected(s->ins, ok, &io);
    if (!ok) {
        evp_warn("cannot open a UDP relay for a SOCKS client");
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
    } else {
        evp_info("udp-associate accepted [%s -> %s]", s->in->tag, s->out->tag);
        s->state = S_ASSOC;
    }
    s->plain.len = 0;
    flush_all(s);
}

/* Pass-through inbound for SOCKS UDP sub-sessions: the target came with the datagram. */
static int pass_decode(void *sess, evp_io *io)
{
    evp_session *s = sess;
    if (!s->target_named) {
        s->target_named = 1;
        io->target = s->target;
        io->network = EVP_NET_UDP;
        return EVP_TARGET;
    }
    if (io->in_len && evp_buf_append(io->out, io->in, io->in_len) != 0)
        return EVP_ERR;
    io->consumed = io->in_len;
    return EVP_OK;
}

static int pass_encode(void *sess, evp_io *io)
{
    if (io->in_len && evp_buf_append(io->out, io->in, io->in_len) != 0)
        return EVP_ERR;
    io->consumed = io->in_len;
    return EVP_OK;
}

static void pass_free(void *sess)
{
}

static const evp_inbound_ops pass_ops = {
    .size = sizeof(evp_inbound_ops),
    .session_free = pass_free,
    .decode = pass_decode,
    .encode = pass_encode,
};

/* ---- the handshake and draining ------------------------------------------------------- */

static void handshake(evp_session *s)
{
    endpoint *cl = &s->cl;
    evp_io io;
    int r = run_codec(s->inops->decode, s->ins, cl->rbuf.data, cl->rbuf.len, cl->eof,
                      &s->plain, &cl->wbuf, &io);
    evp_buf_consume(&cl->rbuf, io.consumed);
    if (r == EVP_TARGET) {
        s->target = io.target;
        if (cl->kind == EP_STREAM && io.network == EVP_NET_UDP_RELAY) {
            start_assoc(s);
            return;
        }
        if (s->network == 0)
            s->network = io.network ? io.network : EVP_NET_TCP;
        open_outbound(s);
        return;
    }
    if (r == EVP_ERR) {
        evp_warn("rejected a client on [%s]: %s", s->in->tag,
                 io.reason[0] ? io.reason : "bad handshake");
        if (io.drain > 0 && !cl->eof) {
            /* Read and drop what a prober sends before closing, as V2Ray does. */
            s->state = S_DRAIN;
            s->drain_left = io.drain > cl->rbuf.len ? io.drain - (uint32_t)cl->rbuf.len : 0;
            cl->rbuf.len = 0;
            if (s->drain_left == 0)
                session_close(s, NULL);
            else
                flush_all(s);
            return;
        }
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
        flush_all(s);
        return;
    }
    if (cl->eof) {
        session_close(s, NULL); /* the client left before naming a target */
        return;
    }
    flush_all(s);
}

/* ---- callbacks ------------------------------------------------------------------------- */

/* Reads what is there into ep->rbuf: 1 data, 0 EOF, -1 error, 2 nothing now. */
static int read_endpoint(endpoint *ep)
{
    uint8_t *p = evp_buf_reserve(&ep->rbuf, READ_CHUNK + 2);
    if (p == NULL)
        return -1;
    if (ep->kind == EP_DGRAM) {
        ssize_t n = recv(ep->fd, p + 2, MAX_DATAGRAM, 0);
        if (n == -1)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                    errno == ECONNREFUSED) ? 2 : -1;
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

static void on_client_read(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)w;
    evp_session *s = ep->s;
    int r = read_endpoint(ep);
    if (r == 2)
        return;
    if (r == -1 && s->state != S_DRAIN) {
        session_close(s, NULL);
        return;
    }
    touch(s);
    if (r <= 0)
        ep->eof = 1;
    switch (s->state) {
    case S_DRAIN:
        if (r <= 0 || ep->rbuf.len >= s->drain_left) {
            session_close(s, NULL);
            return;
        }
        s->drain_left -= (uint32_t)ep->rbuf.len;
        ep->rbuf.len = 0;
        return;
    case S_HANDSHAKE:
        handshake(s);
        return;
    case S_ASSOC:
        ep->rbuf.len = 0; /* nothing is expected on the control connection */
        if (ep->eof) {
            session_close(s, NULL); /* its end ends the UDP relay */
            return;
        }
        update_watchers(s);
        return;
    case S_RELAY:
        pump_up(s);
        if (s->state == S_RELAY)
            flush_all(s);
        return;
    default:
        update_watchers(s);
    }
}

static void on_server_read(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)w;
    evp_session *s = ep->s;
    int r = read_endpoint(ep);
    if (r == 2)
        return;
    if (r == -1 && !s->up_done) {
        session_close(s, "server connection failed");
        return;
    }
    touch(s);
    if (r <= 0)
        ep->eof = 1;
    pump_down(s);
    if (s->state == S_RELAY)
        flush_all(s);
}

static void on_write(EV_P_ ev_io *w, int revents)
{
    endpoint *ep = (endpoint *)((char *)w - offsetof(endpoint, wio));
    evp_session *s = ep->s;
    if (s->state == S_CONNECTING && ep == &s->sv) {
        on_connected(s);
        return;
    }
    touch(s);
    int was_full = ep->wbuf.len >= LOW_WATER;
    if (flush_all(s))
        return;
    /* Room again: take the input that waited for it. */
    if (was_full && ep->wbuf.len < LOW_WATER && s->state == S_RELAY) {
        if (ep == &s->sv)
            pump_up(s);
        else
            pump_down(s);
        if (s->state == S_RELAY)
            flush_all(s);
    }
}

static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_session *s = (evp_session *)w;
    double limit = s->state == S_RELAY ? (s->network == EVP_NET_UDP ? s->rt->udp_timeout
                                                                      : s->rt->idle_timeout)
                 : s->state == S_CONNECTING || s->state == S_RESOLVING ? s->rt->connect_timeout
                                                                        : s->rt->handshake_timeout;
    /* V2Ray's policy: once one direction has ended the other gets its own limit. */
    if (s->state == S_RELAY && s->down_done && s->rt->uplink_only > 0)
        limit = s->rt->uplink_only;
    else if (s->state == S_RELAY && s->up_done && s->rt->downlink_only > 0)
        limit = s->rt->downlink_only;
    double idle = ev_now(EV_A) - s->last_active;
    if (s->state == S_ASSOC)
        idle = 0; /* lives as long as its TCP connection */
    if (idle >= limit) {
        if (s->state == S_CONNECTING || s->state == S_RESOLVING)
            connect_failed(s, "connect timed out");
        else
            session_close(s, s->state == S_RELAY || s->state == S_DRAIN ? NULL
                                                                         : "handshake timed out");
        return;
    }
    ev_timer_set(w, limit - idle + 0.01, 0.);
    ev_timer_start(EV_A, w);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void endpoint_init(endpoint *ep, evp_session *s, int fd,
                          void (*read_cb)(EV_P_ ev_io *, int))
{
    ep->s = s;
    ep->fd = fd;
    ev_io_init(&ep->rio, read_cb, fd, EV_READ);
    ev_io_init(&ep->wio, on_write, fd, EV_WRITE);
}

static evp_session *session_new(evp_runtime *rt, int fd, evp_instance *in, evp_instance *out)
{
    evp_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->rt = rt;
    s->in = evp_instance_ref(in);
    s->out = evp_instance_ref(out);
    endpoint_init(&s->cl, s, fd, on_client_read);
    endpoint_init(&s->sv, s, -1, on_server_read);
    snprintf(s->label, sizeof s->label, "(handshake)");
    s->inops = evp_inops(in);
    s->ins = s->inops->session_new(in->inst);
    if (s->ins == NULL) {
        evp_instance_unref(s->in);
        evp_instance_unref(s->out);
        free(s);
        return NULL;
    }
    s->next = rt->sessions;
    if (rt->sessions)
        rt->sessions->prev = s;
    rt->sessions = s;
    rt->n_sessions++;
    ev_timer_init(&s->timer, on_timer, rt->handshake_timeout, 0.);
    touch(s);
    ev_timer_start(rt->loop, &s->timer);
    return s;
}

evp_session *evp_session_tcp(evp_runtime *rt, int fd, evp_instance *in, evp_instance *out)
{
    int one = 1;
    set_nonblock(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evp_session *s = session_new(rt, fd, in, out);
    if (s == NULL) {
        close(fd);
        return NULL;
    }
    handshake(s); /* a protocol with a fixed target answers with no input */
    return s;
}

evp_session *evp_session_udp(evp_runtime *rt, evp_udp_owner *owner,
                             const struct sockaddr *peer, socklen_t peer_len, evp_instance *in,
                             evp_instance *out)
{
    evp_session *s = session_new(rt, -1, in, out);
    if (s == NULL)
        return NULL;
    s->cl.kind = EP_PEER;
    s->network = EVP_NET_UDP;
    s->udp_owner = owner;
    memcpy(&s->peer, peer, peer_len);
    s->peer_len = peer_len;
    handshake(s);
    return s;
}

evp_session *evp_session_udp_fixed(evp_runtime *rt, evp_udp_owner *owner,
                                   const struct sockaddr *peer, socklen_t peer_len,
                                   const evp_addr *target, evp_instance *in, evp_instance *out)
{
    evp_session *s = session_new(rt, -1, in, out);
    if (s == NULL)
        return NULL;
    s->inops->session_free(s->ins); /* the instance's own session is not used */
    s->inops = &pass_ops;
    s->ins = s;
    s->target = *target;
    s->cl.kind = EP_PEER;
    s->network = EVP_NET_UDP;
    s->udp_owner = owner;
    memcpy(&s->peer, peer, peer_len);
    s->peer_len = peer_len;
    handshake(s);
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

void evp_session_udp_input(evp_session *s, const uint8_t *data, size_t len)
{
    uint8_t *p = evp_buf_reserve(&s->cl.rbuf, len + 2);
    if (p == NULL || s->cl.rbuf.len > HIGH_WATER)
        return; /* over the limit: drop, as a full UDP queue would */
    p[0] = (uint8_t)(len >> 8);
    p[1] = (uint8_t)len;
    memcpy(p + 2, data, len);
    s->cl.rbuf.len += len + 2;
    touch(s);
    if (s->state == S_HANDSHAKE)
        handshake(s);
    else if (s->state == S_RELAY) {
        pump_up(s);
        if (s->state == S_RELAY)
            flush_all(s);
    }
}

static void endpoint_free(evp_runtime *rt, endpoint *ep)
{
    ev_io_stop(rt->loop, &ep->rio);
    ev_io_stop(rt->loop, &ep->wio);
    if (ep->fd != -1)
        close(ep->fd);
    evp_buf_free(&ep->rbuf);
    evp_buf_free(&ep->wbuf);
}

static void on_free(EV_P_ ev_timer *w, int revents)
{
    free(w);
}

/* The one teardown, whatever went wrong. The memory goes on the next loop turn, so a
 * caller up the stack can still read s->state (S_DEAD) and stop. */
static void session_close(evp_session *s, const char *why)
{
    evp_runtime *rt = s->rt;
    if (s->state == S_DEAD)
        return;
    int was = s->state;
    s->state = S_DEAD;
    if (why)
        evp_info("%s closed: %s", s->label, why);
    ev_timer_stop(rt->loop, &s->timer);
    evp_resolve_cancel(s->resolving);
    if (s->outs && was != S_DRAIN) {
        const evp_inbound_ops *ops = s->inops;
        const char *user = ops->session_user ? ops->session_user(s->ins) : NULL;
        evp_stats_add(s->in->tag, user, s->bytes_up, s->bytes_down, 1);
    }
    endpoint_free(rt, &s->cl);
    endpoint_free(rt, &s->sv);
    evp_buf_free(&s->plain);
    evp_assoc_free(s->assoc);
    s->assoc = NULL;
    if (s->udp_owner)
        s->udp_owner->forget(s->udp_owner, s);
    if (s->outs)
        evp_outops(s->out)->session_free(s->outs);
    s->inops->session_free(s->ins);
    evp_instance_unref(s->in);
    evp_instance_unref(s->out);
    if (s->prev)
        s->prev->next = s->next;
    else
        rt->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    rt->n_sessions--;
    ev_timer_init(&s->timer, on_free, 0., 0.);
    ev_timer_start(rt->loop, &s->timer);
}

void evp_session_udp_orphan(evp_session *s)
{
    s->udp_owner = NULL;
    session_close(s, NULL);
}

void evp_session_close_all(evp_runtime *rt)
{
    while (rt->sessions) {
        evp_session *s = rt->sessions;
        session_close(s, NULL);
        ev_timer_stop(rt->loop, &s->timer);
        free(s);
    }
}

void evp_session_each_inbound(evp_runtime *rt, void (*fn)(evp_instance *, void *), void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next)
        fn(s->in, arg);
}

void evp_session_each_traffic(evp_runtime *rt,
                              void (*fn)(const char *inbound, const char *user, uint64_t up,
                                         uint64_t down, void *arg),
                              void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next) {
        if (s->state != S_RELAY || s->outs == NULL)
            continue;
        const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
        fn(s->in->tag, user, s->bytes_up, s->bytes_down, arg);
    }
}
