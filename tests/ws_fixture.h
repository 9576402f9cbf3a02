/* Drives ws layer sessions in memory for tests/check_ws_*.c: a client and a server joined
 * by two byte queues (the "wire"), each with the bytes its layer above wants to send and
 * those its decode sent up, fed in odd pieces, as a host stack with nothing below would.
 * Header-only (static functions), like test_host.h. */
#ifndef WS_FIXTURE_H
#define WS_FIXTURE_H

#include <check.h>
#include <string.h>

#include "../plugin/ws/b64.h"
#include "../plugin/ws/ws_int.h"
#include "evproxy/plugin.h"
#include "test_host.h"

static inline void *ws_inst_try(int server, const char *settings, const char *stream, char *err,
                                size_t errlen)
{
    evp_transport_args a = {sizeof(a), server, "t", settings, stream ? stream : "{}"};
    return ws_transport_ops.instance_new(test_host_get(), &a, err, errlen);
}

static inline void *ws_inst(int server, const char *settings)
{
    char err[256] = "";
    void *inst = ws_inst_try(server, settings, NULL, err, sizeof(err));
    ck_assert_msg(inst != NULL, "ws settings %s: %s", settings, err);
    return inst;
}

static inline evp_addr ws_ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    evp_addr x = {.type = EVP_ADDR_IPV4, .len = 4, .port = port};
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

/* One end: its session, what its layer above sends and what came up to it. */
typedef struct ws_end {
    void *sess;
    evp_buf send;  /* bytes from above not yet consumed by encode */
    int send_eof;  /* the layer above ended */
    int eof_given; /* encode was given that end with nothing left */
    evp_buf got;   /* bytes decode sent up */
    int got_eof;   /* decode returned EVP_EOF */
    int err;       /* a hook returned EVP_ERR */
    char reason[128];
    int targets; /* EVP_TARGET returns */
    evp_addr target;
} ws_end;

typedef struct ws_link {
    void *cinst, *sinst;
    ws_end cli, srv;
    evp_buf c2s, s2c;     /* the wire, each way */
    int c2s_eof, s2c_eof; /* that way's socket ended (a test says so) */
    uint32_t seed;        /* picks the piece sizes */
    size_t max_piece;     /* 0: whole buffers */
} ws_link;

static inline void ws_put_bytes(evp_buf *b, const void *p, size_t n)
{
    uint8_t *dst = test_host_buf_reserve(b, n);
    ck_assert_ptr_nonnull(dst);
    if (n > 0)
        memcpy(dst, p, n);
    b->len += n;
}

/* The next piece size in 1..max (odd sizes, deterministic per link). */
static inline size_t ws_piece(ws_link *l, size_t avail)
{
    if (l->max_piece == 0 || avail <= 1)
        return avail;
    l->seed = l->seed * 1103515245u + 12345u;
    size_t n = 1 + (l->seed >> 8) % l->max_piece;
    return n < avail ? n : avail;
}

/* encode on one end with (a piece of) what it has to send; out onto its wire. */
static inline int ws_step_encode(ws_link *l, ws_end *e, evp_buf *wire, int force)
{
    if (e->sess == NULL || e->err || (e->send.len == 0 && !force && (!e->send_eof || e->eof_given)))
        return 0;
    size_t n = ws_piece(l, e->send.len);
    evp_buf back = {0};
    evp_io io = {.in = e->send.data,
                 .in_len = n,
                 .in_eof = e->send_eof && n == e->send.len,
                 .out = wire,
                 .back = &back};
    size_t before = wire->len;
    int r = ws_transport_ops.encode(e->sess, &io);
    ck_assert_uint_eq(back.len, 0); /* encode never writes back */
    test_buf_free(&back);
    ck_assert_uint_le(io.consumed, n);
    if (r == EVP_ERR) {
        e->err = 1;
        memcpy(e->reason, io.reason, sizeof(e->reason));
        return 1;
    }
    ck_assert_int_eq(r, EVP_OK);
    test_buf_consume(&e->send, io.consumed);
    int progress = io.consumed > 0 || wire->len != before;
    if (io.in_eof && io.consumed == n && !e->eof_given) {
        e->eof_given = 1;
        progress = 1;
    }
    return progress;
}

/* decode on one end with (a piece of) its incoming wire; back onto its outgoing wire. */
static inline int ws_step_decode(ws_link *l, ws_end *e, evp_buf *in, int in_eof, evp_buf *out)
{
    if (e->sess == NULL || e->err || e->got_eof || (in->len == 0 && !in_eof))
        return 0;
    size_t n = ws_piece(l, in->len);
    evp_io io = {
        .in = in->data, .in_len = n, .in_eof = in_eof && n == in->len, .out = &e->got, .back = out};
    size_t up = e->got.len, down = out->len;
    int r = ws_transport_ops.decode(e->sess, &io);
    ck_assert_uint_le(io.consumed, n);
    test_buf_consume(in, io.consumed);
    switch (r) {
    case EVP_ERR:
        e->err = 1;
        memcpy(e->reason, io.reason, sizeof(e->reason));
        return 1;
    case EVP_TARGET:
        e->targets++;
        e->target = io.target;
        return 1;
    case EVP_EOF:
        e->got_eof = 1;
        return 1;
    default:
        ck_assert_int_eq(r, EVP_OK);
        return io.consumed > 0 || e->got.len != up || out->len != down;
    }
}

/* Runs both ends until nothing moves (bounded by count). */
static inline void ws_pump(ws_link *l)
{
    for (int i = 0; i < 1000000; i++) {
        int moved = ws_step_encode(l, &l->cli, &l->c2s, 0);
        moved |= ws_step_encode(l, &l->srv, &l->s2c, 0);
        moved |= ws_step_decode(l, &l->srv, &l->c2s, l->c2s_eof, &l->s2c);
        moved |= ws_step_decode(l, &l->cli, &l->s2c, l->s2c_eof, &l->c2s);
        if (!moved)
            return;
    }
    ck_abort_msg("ws_pump: still moving after 1000000 rounds");
}

/* A link between new sessions of the two instances; the client's first encode (in_len 0,
 * as the host calls it once connected) is made. */
static inline void ws_link_open(ws_link *l, void *cinst, void *sinst, const evp_addr *dialled,
                                const evp_addr *client_addr)
{
    memset(l, 0, sizeof(*l));
    l->cinst = cinst;
    l->sinst = sinst;
    l->seed = 7;
    evp_addr d = dialled ? *dialled : ws_ip4(127, 0, 0, 1, 10086);
    evp_addr c = client_addr ? *client_addr : ws_ip4(127, 0, 0, 1, 40000);
    if (cinst != NULL) {
        l->cli.sess = ws_transport_ops.session_new(cinst, &d);
        ck_assert_ptr_nonnull(l->cli.sess);
        ws_step_encode(l, &l->cli, &l->c2s, 1);
    }
    if (sinst != NULL) {
        l->srv.sess = ws_transport_ops.session_new(sinst, &c);
        ck_assert_ptr_nonnull(l->srv.sess);
    }
}

static inline void ws_end_free(ws_end *e)
{
    ws_transport_ops.session_free(e->sess);
    test_buf_free(&e->send);
    test_buf_free(&e->got);
}

static inline void ws_link_close(ws_link *l)
{
    ws_end_free(&l->cli);
    ws_end_free(&l->srv);
    test_buf_free(&l->c2s);
    test_buf_free(&l->s2c);
}

/* A link between new client and server instances of these settings (freed by
 * ws_pair_close). */
static inline void ws_pair_open(ws_link *l, const char *client_json, const char *server_json)
{
    ws_link_open(l, ws_inst(0, client_json), ws_inst(1, server_json), NULL, NULL);
}

static inline void ws_pair_close(ws_link *l)
{
    void *cinst = l->cinst, *sinst = l->sinst;
    ws_link_close(l);
    if (cinst != NULL)
        ws_transport_ops.instance_free(cinst);
    if (sinst != NULL)
        ws_transport_ops.instance_free(sinst);
}

/* The head (through the blank line) at the start of b, as a NUL-terminated copy. */
static inline char *ws_head_text(const evp_buf *b)
{
    static char text[16384];
    size_t n = 0;
    while (n + 3 < b->len && memcmp(b->data + n, "\r\n\r\n", 4) != 0)
        n++;
    n = n + 4 <= b->len ? n + 4 : b->len;
    ck_assert_uint_lt(n, sizeof(text));
    memcpy(text, b->data, n);
    text[n] = '\0';
    return text;
}

/* A frame as a client sends it (masked with mask) or a server does (mask NULL). */
static inline void ws_frame(evp_buf *b, uint8_t first, const void *payload, size_t n,
                            const uint8_t *mask)
{
    uint8_t h[14];
    size_t hl = 2;
    h[0] = first;
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        h[1] = (uint8_t)(m | n);
    } else if (n < 65536) {
        h[1] = m | 126;
        h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = m | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    if (mask) {
        memcpy(h + hl, mask, 4);
        hl += 4;
    }
    ws_put_bytes(b, h, hl);
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = mask ? (uint8_t)(p[i] ^ mask[i % 4]) : p[i];
        ws_put_bytes(b, &c, 1);
    }
}

#endif
