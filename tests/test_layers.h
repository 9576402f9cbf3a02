/* Transport layers for tests (header-only, static): "frame" prefixes each write with a BE16
 * length, has a one-round-trip handshake (the client sends "HELLO\n" first and holds its
 * data back until the server's "OK\n") and its own end marker (a frame of length 0); "xor"
 * flips every byte with 0x5A; "addr" (server side) reads a 7-byte header 'P' + IPv4 + BE16
 * port and names that address (EVP_TARGET), as a PROXY protocol front would. Settings
 * {"fail": true} make instance_new refuse. TL_PLUGIN(var, name, ops) makes a descriptor. */
#ifndef TEST_LAYERS_H
#define TEST_LAYERS_H

#include "evproxy/plugin.h"

#include <stdlib.h>
#include <string.h>

#define TL_HELLO "HELLO\n"
#define TL_OK "OK\n"
#define TL_MAX_FRAME 16384

typedef struct tl_inst {
    const evp_host *host;
    int server;
} tl_inst;

typedef struct tl_sess {
    tl_inst *inst;
    int greeted; /* client: OK came; server: HELLO came */
    int named;   /* addr: the header was read */
} tl_sess;

static inline void *tl_inst_new(const evp_host *h, const evp_transport_args *a, char *err, size_t n)
{
    if (strstr(a->settings_json, "\"fail\":true") != NULL) {
        strncpy(err, "fail: this test layer refuses", n - 1);
        return NULL;
    }
    tl_inst *i = calloc(1, sizeof *i);
    if (i) {
        i->host = h;
        i->server = a->server;
    }
    return i;
}
static inline void tl_inst_free(void *i)
{
    free(i);
}
static inline void *tl_sess_new(void *i, const evp_addr *peer)
{
    tl_sess *s = calloc(1, sizeof *s);
    if (s)
        s->inst = i;
    return s;
}
static inline void tl_sess_free(void *s)
{
    free(s);
}
static inline int tl_put(tl_sess *s, evp_buf *b, const void *p, size_t n)
{
    uint8_t *dst = s->inst->host->buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}
static inline int tl_fail(evp_io *io, const char *why, uint32_t drain)
{
    strncpy(io->reason, why, sizeof io->reason - 1);
    io->drain = drain;
    return EVP_ERR;
}

/* ---- xor ---- */
static inline int tl_xor(void *sess, evp_io *io)
{
    uint8_t *dst = ((tl_sess *)sess)->inst->host->buf_reserve(io->out, io->in_len + 1);
    if (dst == NULL)
        return tl_fail(io, "out of memory", 0);
    for (size_t i = 0; i < io->in_len; i++)
        dst[i] = io->in[i] ^ 0x5A;
    io->out->len += io->in_len;
    io->consumed = io->in_len;
    return EVP_OK;
}

/* ---- frame ---- */
static inline int tl_frame_decode(void *sess, evp_io *io)
{
    tl_sess *s = sess;
    const uint8_t *p = io->in;
    size_t left = io->in_len;
    const char *greet = s->inst->server ? TL_HELLO : TL_OK;
    if (!s->greeted) {
        size_t g = strlen(greet);
        if (left < g)
            return memcmp(p, greet, left) == 0 ? EVP_OK : tl_fail(io, "bad greeting", 7);
        if (memcmp(p, greet, g) != 0)
            return tl_fail(io, "bad greeting", 7);
        s->greeted = 1;
        if (s->inst->server && tl_put(s, io->back, TL_OK, strlen(TL_OK)) != 0)
            return tl_fail(io, "out of memory", 0);
        p += g;
        left -= g;
    }
    while (left >= 2) {
        size_t len = ((size_t)p[0] << 8) | p[1];
        if (len > TL_MAX_FRAME)
            return tl_fail(io, "frame too long", 5);
        if (len == 0) {
            io->consumed = io->in_len;
            return EVP_EOF;
        }
        if (left < 2 + len)
            break;
        if (tl_put(s, io->out, p + 2, len) != 0)
            return tl_fail(io, "out of memory", 0);
        p += 2 + len;
        left -= 2 + len;
    }
    io->consumed = io->in_len - left;
    return EVP_OK;
}
static inline int tl_frame_encode(void *sess, evp_io *io)
{
    tl_sess *s = sess;
    if (!s->inst->server && !s->greeted) {
        if (io->in_len == 0 && !io->in_eof && !s->named) { /* the first call: speak first */
            s->named = 1;
            return tl_put(s, io->out, TL_HELLO, strlen(TL_HELLO)) ? tl_fail(io, "oom", 0)
                                                                  : EVP_OK;
        }
        io->in_eof = 0; /* hold everything back until OK, the end too: it is not written */
        return EVP_OK;
    }
    size_t off = 0;
    while (off < io->in_len) {
        size_t len = io->in_len - off < TL_MAX_FRAME ? io->in_len - off : TL_MAX_FRAME;
        uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        if (tl_put(s, io->out, hdr, 2) || tl_put(s, io->out, io->in + off, len))
            return tl_fail(io, "out of memory", 0);
        off += len;
    }
    io->consumed = off;
    if (io->in_eof && tl_put(s, io->out, "\0\0", 2))
        return tl_fail(io, "out of memory", 0);
    return EVP_OK;
}

/* ---- addr ---- */
static inline int tl_addr_decode(void *sess, evp_io *io)
{
    tl_sess *s = sess;
    if (s->named) {
        if (tl_put(s, io->out, io->in, io->in_len) != 0)
            return tl_fail(io, "out of memory", 0);
        io->consumed = io->in_len;
        return EVP_OK;
    }
    if (io->in_len < 7)
        return EVP_OK;
    if (io->in[0] != 'P')
        return tl_fail(io, "no address header", 0);
    s->named = 1;
    io->target.type = EVP_ADDR_IPV4;
    io->target.len = 4;
    memcpy(io->target.bytes, io->in + 1, 4);
    io->target.port = (uint16_t)(io->in[5] << 8 | io->in[6]);
    io->consumed = 7;
    return EVP_TARGET;
}
static inline int tl_copy(void *sess, evp_io *io)
{
    if (tl_put(sess, io->out, io->in, io->in_len) != 0)
        return tl_fail(io, "out of memory", 0);
    io->consumed = io->in_len;
    return EVP_OK;
}

#define TL_OPS(var, dec, enc)                                                                  \
    static const evp_transport_ops var = {                                                     \
        .size = sizeof(evp_transport_ops), .instance_new = tl_inst_new,                        \
        .instance_free = tl_inst_free, .session_new = tl_sess_new,                             \
        .session_free = tl_sess_free, .decode = dec, .encode = enc}
#define TL_PLUGIN(var, layer_name, ops)                                                        \
    static const evp_plugin var = {.abi_major = EVP_ABI_MAJOR, .abi_minor = EVP_ABI_MINOR,     \
                                   .size = sizeof(evp_plugin), .name = layer_name,             \
                                   .version = "test", .transport = &ops}

#endif
