/* Helpers shared by the Mux.Cool frame codec's suites (check_vmess_mux_*.c): hex with spaces,
 * a parser fed in pieces that records every event, frame builders and comparisons, and the
 * stream V2Ray's own test writes. Header-only, static inline. */
#ifndef MUX_FIXTURE_H
#define MUX_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugin/vmess/mux_frame.h"
#include "buf.h"
#include "host.h"

static inline const evp_host *H(void)
{
    return evp_host_services();
}

/* Hex digits into out, spaces skipped; returns the bytes written. */
static inline size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ')
            continue;
        unsigned v;
        ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s++;
    }
    return n;
}

/* What a parse produced: events in order, their data concatenated in data. */
typedef struct rec {
    int kind;
    vmess_mux_frame frame;
    size_t off, len;
} rec;

typedef struct recs {
    rec r[64];
    size_t n;
    evp_buf data;
    int rc;       /* the last call's result: VMESS_MUX_MORE or VMESS_MUX_ERR */
    char why[80]; /* after VMESS_MUX_ERR */
    int boundary; /* at the end: between frames */
} recs;

static inline void recs_free(recs *o)
{
    evp_buf_free(&o->data);
}

/* Feeds in[0..len) in pieces of `piece` bytes (0: whole) to a fresh parser. */
static inline void parse_pieces(const uint8_t *in, size_t len, size_t piece, recs *o)
{
    vmess_mux_parser p;
    memset(o, 0, sizeof *o);
    vmess_mux_parser_init(&p, H());
    size_t at = 0;
    o->rc = VMESS_MUX_MORE;
    while (at < len && o->rc != VMESS_MUX_ERR) {
        size_t n = piece == 0 || len - at < piece ? len - at : piece;
        /* Each piece is a fresh copy, so borrowed data must be used before the next one. */
        uint8_t *copy = malloc(n);
        memcpy(copy, in + at, n);
        size_t off = 0;
        for (;;) {
            vmess_mux_event ev;
            size_t used = 0;
            o->rc = vmess_mux_parse(&p, copy + off, n - off, &used, &ev);
            ck_assert_uint_le(used, n - off);
            off += used;
            if (o->rc != VMESS_MUX_EVENT)
                break;
            ck_assert_uint_lt(o->n, sizeof o->r / sizeof o->r[0]);
            rec *r = &o->r[o->n++];
            r->kind = ev.kind;
            r->frame = *ev.frame;
            r->off = o->data.len;
            r->len = ev.len;
            if (ev.len > 0)
                ck_assert_int_eq(evp_buf_append(&o->data, ev.data, ev.len), 0);
        }
        if (o->rc == VMESS_MUX_MORE)
            ck_assert_uint_eq(off, n); /* MORE means all of it was taken */
        free(copy);
        at += n;
    }
    if (o->rc == VMESS_MUX_ERR) {
        ck_assert_ptr_nonnull(p.why);
        snprintf(o->why, sizeof o->why, "%s", p.why);
    }
    o->boundary = vmess_mux_parser_at_boundary(&p);
    vmess_mux_parser_free(&p);
}

static inline void assert_same(const recs *a, const recs *b)
{
    ck_assert_int_eq(a->rc, b->rc);
    ck_assert_str_eq(a->why, b->why);
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->r[i].kind, b->r[i].kind);
        ck_assert_mem_eq(&a->r[i].frame, &b->r[i].frame, sizeof a->r[i].frame);
        ck_assert_uint_eq(a->r[i].len, b->r[i].len);
        if (a->r[i].len > 0)
            ck_assert_mem_eq(a->data.data + a->r[i].off, b->data.data + b->r[i].off, a->r[i].len);
    }
}

static inline vmess_mux_frame frame(uint16_t id, uint8_t status, uint8_t option, uint8_t network)
{
    vmess_mux_frame f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.status = status;
    f.option = option;
    f.network = network;
    return f;
}

static inline void set_domain(vmess_mux_frame *f, const char *d, uint16_t port)
{
    f->addr.type = EVP_ADDR_DOMAIN;
    f->addr.len = (uint8_t)strlen(d);
    memcpy(f->addr.bytes, d, f->addr.len + 1);
    f->addr.port = port;
}

static inline void set_ip(vmess_mux_frame *f, const char *hex, uint16_t port)
{
    f->addr.len = (uint8_t)unhex(hex, f->addr.bytes);
    f->addr.type = f->addr.len == 4 ? EVP_ADDR_IPV4 : EVP_ADDR_IPV6;
    f->addr.port = port;
}

/* Asserts event i of o is a frame equal to want, and (data != NULL) event i+1 its data. */
static inline void assert_frame(const recs *o, size_t i, const vmess_mux_frame *want,
                                const char *data)
{
    ck_assert_uint_lt(i, o->n);
    ck_assert_int_eq(o->r[i].kind, VMESS_MUX_EV_FRAME);
    ck_assert_mem_eq(&o->r[i].frame, want, sizeof *want);
    if (data == NULL)
        return;
    ck_assert_uint_lt(i + 1, o->n);
    ck_assert_int_eq(o->r[i + 1].kind, VMESS_MUX_EV_DATA);
    ck_assert_uint_eq(o->r[i + 1].frame.id, want->id);
    ck_assert_uint_eq(o->r[i + 1].len, strlen(data));
    ck_assert_mem_eq(o->data.data + o->r[i + 1].off, data, strlen(data));
}

/* Writes every frame of o, with its data, into out. */
static inline void write_events(const recs *o, evp_buf *out)
{
    for (size_t i = 0; i < o->n; i++) {
        const rec *r = &o->r[i];
        if (r->kind != VMESS_MUX_EV_FRAME)
            continue;
        const rec *d = i + 1 < o->n && o->r[i + 1].kind == VMESS_MUX_EV_DATA ? &o->r[i + 1] : NULL;
        const uint8_t *bytes = d && d->len ? o->data.data + d->off : NULL;
        ck_assert_int_eq(vmess_mux_write(H(), out, &r->frame, bytes, d ? d->len : 0), EVP_OK);
    }
}

/* Asserts that our writer sends exactly in[0..n) for the frames o holds. */
static inline void assert_rewrites(const recs *o, const uint8_t *in, size_t n)
{
    evp_buf out = {0};
    write_events(o, &out);
    ck_assert_uint_eq(out.len, n);
    ck_assert_mem_eq(out.data, in, n);
    evp_buf_free(&out);
}

/* Writes f (and data) and asserts the bytes are hex. */
static inline void assert_writes(const vmess_mux_frame *f, const char *data, const char *hex)
{
    evp_buf out = {0};
    uint8_t want[600];
    size_t n = unhex(hex, want);
    ck_assert_int_eq(vmess_mux_write(H(), &out, f, (const uint8_t *)data, data ? strlen(data) : 0),
                     EVP_OK);
    ck_assert_uint_eq(out.len, n);
    ck_assert_mem_eq(out.data, want, n);
    evp_buf_free(&out);
}

/* ---- vectors ---- */

/* v2fly/v2ray-core v4.34.0 common/mux/mux_test.go TestReaderWriter: writers for session 1
 * (tcp:v2ray.com:80), 2 (tcp:127.0.0.1:443) and 3 (tcp:[::1]:18374) write, in this order,
 * "abcd" on 1, nothing on 2 (a New frame without data), "efgh" on 1, "x" on 3, close 1 and
 * 3, "y" on 2, close 2. One frame per hex line (metadata length first). */
static const char *const v2ray_frames[] = {
    "0012 0001 01 01 01 0050 02 09 76327261792e636f6d 0004 61626364",
    "000c 0002 01 00 01 01bb 01 7f000001",
    "0004 0001 02 01 0004 65666768",
    "0018 0003 01 01 01 47c6 03 00000000000000000000000000000001 0001 78",
    "0004 0001 03 00",
    "0004 0003 03 00",
    "0004 0002 02 01 0001 79",
    "0004 0002 03 00",
};
#define N_V2RAY_FRAMES (sizeof v2ray_frames / sizeof v2ray_frames[0])

/* The whole stream into buf; frame ends (byte offsets) into ends when not NULL. */
static inline size_t v2ray_stream(uint8_t *buf, size_t *ends)
{
    size_t n = 0;
    for (size_t i = 0; i < N_V2RAY_FRAMES; i++) {
        n += unhex(v2ray_frames[i], buf + n);
        if (ends)
            ends[i] = n;
    }
    return n;
}

/* What TestReaderWriter expects to read: the metadata and data of each frame. */
static inline void assert_v2ray_events(const recs *o, const char *domain)
{
    vmess_mux_frame f1 = frame(1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP);
    set_domain(&f1, domain, 80);
    vmess_mux_frame f2 = frame(2, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP);
    set_ip(&f2, "7f000001", 443);
    vmess_mux_frame k1 = frame(1, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    vmess_mux_frame f3 = frame(3, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP);
    set_ip(&f3, "00000000000000000000000000000001", 18374);
    vmess_mux_frame e1 = frame(1, VMESS_MUX_END, 0, 0);
    vmess_mux_frame e3 = frame(3, VMESS_MUX_END, 0, 0);
    vmess_mux_frame k2 = frame(2, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    vmess_mux_frame e2 = frame(2, VMESS_MUX_END, 0, 0);
    ck_assert_int_eq(o->rc, VMESS_MUX_MORE);
    ck_assert_uint_eq(o->n, 12);
    assert_frame(o, 0, &f1, "abcd");
    assert_frame(o, 2, &f2, NULL);
    assert_frame(o, 3, &k1, "efgh");
    assert_frame(o, 5, &f3, "x");
    assert_frame(o, 7, &e1, NULL);
    assert_frame(o, 8, &e3, NULL);
    assert_frame(o, 9, &k2, "y");
    assert_frame(o, 11, &e2, NULL);
    ck_assert(o->boundary);
}

#endif
