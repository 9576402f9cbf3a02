/* Client and server sessions of the "h2" transport (loaded from the built h2.so) run against
 * each other in memory as the host runs them: each side's decode `back` and encode `out`
 * go into one queue toward the peer, in order; input encode leaves unconsumed is offered
 * again with what comes next; decode is called after its EVP_EOF and encode after in_eof
 * until it returns EVP_EOF (EVP_TR_CONN). Header-only (static), for tests/check_h2_*.c. */
#ifndef H2_FIXTURE_H
#define H2_FIXTURE_H

#include "test_host.h"
#include "transport_drive.h"

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H2_TEST_WINDOW (1024 * 1024) /* the window each side announces (plugin/h2) */

static inline const evp_plugin *h2_plugin(void)
{
    static void *so;
    if (so == NULL) {
        const char *build = getenv("EVP_BUILD");
        char path[512];
        snprintf(path, sizeof path, "%s/plugins/h2.so", build ? build : "build");
        so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(so != NULL, "%s", dlerror());
    }
    evp_plugin_entry_fn entry = (evp_plugin_entry_fn)dlsym(so, EVP_ENTRY_SYMBOL);
    ck_assert_ptr_nonnull(entry);
    return entry();
}

typedef struct h2_side {
    void *inst, *sess;
    evp_buf wire;    /* written toward the peer, not delivered yet */
    evp_buf above;   /* from the layer above, not taken by encode yet */
    int above_eof;   /* the layer above ended after `above` */
    int down_done;   /* encode returned EVP_EOF: the connection may end below */
    evp_buf up;      /* what decode passed up */
    size_t taken;    /* bytes encode took from above, in all */
    int up_status;   /* decode's last return */
    char reason[128]; /* the last EVP_ERR's */
} h2_side;

static inline void h2_side_open(h2_side *s, int server, const char *settings)
{
    memset(s, 0, sizeof *s);
    s->inst = tdrive_instance(h2_plugin(), server, settings);
    s->sess = h2_plugin()->transport->session_new(s->inst, NULL);
    ck_assert_ptr_nonnull(s->sess);
}

static inline void h2_side_close(h2_side *s)
{
    h2_plugin()->transport->session_free(s->sess);
    h2_plugin()->transport->instance_free(s->inst);
    test_buf_free(&s->wire);
    test_buf_free(&s->above);
    test_buf_free(&s->up);
}

/* One encode of what waits above (the host calls it while there is input or an end). */
static inline int h2_encode(h2_side *s)
{
    evp_buf scratch = {0};
    evp_io io;
    memset(&io, 0, sizeof io);
    io.in = s->above.data;
    io.in_len = s->above.len;
    io.in_eof = s->above_eof;
    io.out = &s->wire;
    io.back = &scratch;
    int r = h2_plugin()->transport->encode(s->sess, &io);
    ck_assert_uint_eq(scratch.len, 0);
    test_buf_free(&scratch);
    if (r == EVP_ERR) {
        snprintf(s->reason, sizeof s->reason, "%s", io.reason);
        return r;
    }
    ck_assert_uint_le(io.consumed, s->above.len);
    test_buf_consume(&s->above, io.consumed);
    s->taken += io.consumed;
    if (r == EVP_EOF) /* EVP_TR_CONN: the stream has ended both ways, so may the connection */
        s->down_done = 1;
    return r;
}

static inline int h2_decode(h2_side *s, const uint8_t *p, size_t n, int eof)
{
    evp_io io;
    memset(&io, 0, sizeof io);
    io.in = p;
    io.in_len = n;
    io.in_eof = eof;
    io.out = &s->up;
    io.back = &s->wire;
    int r = h2_plugin()->transport->decode(s->sess, &io);
    s->up_status = r;
    if (r == EVP_ERR)
        snprintf(s->reason, sizeof s->reason, "%s", io.reason);
    else
        ck_assert_uint_eq(io.consumed, n); /* nghttp2 takes everything */
    return r;
}

/* The client's connect-time encode (no input), as the host calls it. */
static inline void h2_start(h2_side *client)
{
    ck_assert_int_eq(h2_encode(client), EVP_OK);
}

/* Moves what `from` wrote to `to`'s decode in pieces of chunk bytes (0: at once); after each
 * piece the host's encode pass runs on `to`. Returns the last decode status. */
static inline int h2_deliver(h2_side *from, h2_side *to, size_t chunk)
{
    int r = to->up_status;
    size_t len = from->wire.len, off = 0;
    uint8_t *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, from->wire.data, len);
    from->wire.len = 0;
    while (off < len && r != EVP_ERR) {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        r = h2_decode(to, copy + off, n, 0);
        off += n;
        if (r != EVP_ERR && !to->down_done && (to->above.len > 0 || to->above_eof))
            r = h2_encode(to) == EVP_ERR ? EVP_ERR : r;
    }
    free(copy);
    return r;
}

/* Runs both sides until neither has anything to write; at most `rounds` exchanges. */
static inline void h2_pump(h2_side *c, h2_side *s, size_t chunk, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        if (!c->down_done && (c->above.len > 0 || c->above_eof))
            h2_encode(c);
        if (!s->down_done && (s->above.len > 0 || s->above_eof))
            h2_encode(s);
        if (c->wire.len == 0 && s->wire.len == 0)
            return;
        if (h2_deliver(c, s, chunk) == EVP_ERR || h2_deliver(s, c, chunk) == EVP_ERR)
            return;
    }
    ck_abort_msg("still exchanging after %d rounds", rounds);
}

/* The HTTP/2 frames in a buffer (after a client's preface): calls fn on each. */
typedef void (*h2_frame_fn)(void *ctx, uint8_t type, uint8_t flags, uint32_t stream,
                            const uint8_t *payload, size_t len);

static inline void h2_frames(const evp_buf *b, h2_frame_fn fn, void *ctx)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t off = 0;
    if (b->len >= 24 && memcmp(b->data, preface, 24) == 0)
        off = 24;
    while (off + 9 <= b->len) {
        const uint8_t *h = b->data + off;
        size_t len = ((size_t)h[0] << 16) | ((size_t)h[1] << 8) | h[2];
        uint32_t id = ((uint32_t)(h[5] & 0x7f) << 24) | ((uint32_t)h[6] << 16) |
                      ((uint32_t)h[7] << 8) | h[8];
        ck_assert_uint_le(off + 9 + len, b->len);
        fn(ctx, h[3], h[4], id, h + 9, len);
        off += 9 + len;
    }
    ck_assert_uint_eq(off, b->len);
}

#endif
