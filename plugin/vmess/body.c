/* The VMess body codec for one direction (vmess-protocol.md §8): chunk writer and reader
 * for aes-128-gcm, chacha20-poly1305, legacy aes-128-cfb and none, with ChunkMasking,
 * GlobalPadding and AuthenticatedLength, in stream (TCP) and packet (UDP) mode. */
#include "body.h"

#include "body_cipher.h"
#include "fnv1a.h"
#include "nonkey_random.h"

#include <sodium.h>
#include <string.h>

enum body_mode {
    MODE_CHUNK = 1, /* §8.1: LenField ‖ Seal(D) ‖ padding */
    MODE_SIMPLE,    /* none + TCP + ChunkStream: LenField ‖ D, split at 8192 */
    MODE_RAW,       /* no ChunkStream: raw bytes (legacy: raw CFB) */
    MODE_FAILED,    /* a reader that returned EVP_ERR stays failed */
};

#define TAG_SIZE 16
#define MAX_PADDING 64

static void be16_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t be16_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static void be32_put(uint8_t *p, uint32_t v)
{
    be16_put(p, v >> 16);
    be16_put(p + 2, v & 0xffff);
}

/* N_c = BE16(c) ‖ iv[2:12]. */
static void chunk_nonce(uint8_t nonce[12], uint16_t c, const uint8_t iv[16])
{
    be16_put(nonce, c);
    memcpy(nonce + 2, iv + 2, 10);
}

static int uses_padding(const vmess_body *b)
{
    return b->mode == MODE_CHUNK && (b->option & VMESS_OPT_GLOBAL_PADDING);
}

static int uses_auth_len(const vmess_body *b)
{
    return b->len_size == 2 + TAG_SIZE;
}

static int uses_mask(const vmess_body *b)
{
    return (b->option & VMESS_OPT_CHUNK_MASKING) && !uses_auth_len(b);
}

/* Padding is drawn before the mask, both from the same SHAKE stream (§8.3). */
static uint32_t next_padding(vmess_body *b)
{
    return uses_padding(b) ? vmess_shake128_next16(&b->shake) % MAX_PADDING : 0;
}

int vmess_body_init(vmess_body *b, const vmess_body_params *p)
{
    memset(b, 0, sizeof *b);
    b->security = p->security == VMESS_SEC_UNKNOWN ? VMESS_SEC_LEGACY : p->security;
    b->option = p->option;
    b->udp = p->udp != 0;
    b->len_size = 2;
    /* V2Ray draws padding from the masking SHAKE only: padding alone is refused (§6). */
    if ((p->option & VMESS_OPT_GLOBAL_PADDING) && !(p->option & VMESS_OPT_CHUNK_MASKING))
        return -1;
    int chunked = (p->option & VMESS_OPT_CHUNK_STREAM) != 0;
    switch (b->security) {
    case VMESS_SEC_GCM:
    case VMESS_SEC_CHACHA:
        /* AEAD bodies are chunked whatever the ChunkStream bit says, as in V2Ray. */
        b->mode = MODE_CHUNK;
        b->overhead = TAG_SIZE;
        if (p->option & VMESS_OPT_AUTH_LENGTH) {
            b->len_size = 2 + TAG_SIZE;
            memcpy(b->len_iv, p->len_iv, 16);
        }
        break;
    case VMESS_SEC_LEGACY:
        b->mode = chunked ? MODE_CHUNK : MODE_RAW;
        b->overhead = 4;
        break;
    case VMESS_SEC_NONE:
        b->mode = !chunked ? MODE_RAW : b->udp ? MODE_CHUNK : MODE_SIMPLE;
        break;
    default:
        return -1;
    }
    body_keys_set(b, p);
    memcpy(b->iv, p->iv, 16);
    if (p->option & VMESS_OPT_CHUNK_MASKING)
        vmess_shake128_init(&b->shake, p->iv, 16);
    size_t chunk_buf = b->udp ? VMESS_BODY_CHUNK_BUF : VMESS_BODY_STREAM_CHUNK_BUF;
    b->max_payload = (uint16_t)(chunk_buf - b->overhead - b->len_size -
                                (uses_padding(b) ? MAX_PADDING : 0));
    return 0;
}

/* ---- writer ---- */

/* Bytes of chunk framing around each payload, at most. */
static size_t chunk_extra(const vmess_body *b)
{
    return b->len_size + b->overhead + (uses_padding(b) ? MAX_PADDING : 0);
}

/* Bytes a TCP writer may need for len bytes of payload. */
static size_t seal_bound(const vmess_body *b, size_t len)
{
    size_t per = b->mode == MODE_SIMPLE ? VMESS_BODY_SIMPLE_MAX : b->max_payload;
    if (b->mode == MODE_RAW)
        return len;
    return len + (len / per + 1) * chunk_extra(b);
}

/* Appends one §8.1 chunk carrying d[0..n) (n == 0: the end marker). out has room. */
static void put_chunk(vmess_body *b, const uint8_t *d, size_t n, evp_buf *out)
{
    uint8_t *dst = out->data + out->len;
    uint32_t pad = next_padding(b);
    uint32_t s = (uint32_t)n + b->overhead + pad;
    uint8_t *body = dst + b->len_size;

    if (uses_auth_len(b)) {
        uint8_t nonce[12];
        chunk_nonce(nonce, b->len_count++, b->len_iv);
        be16_put(dst, s - TAG_SIZE);
        body_aead_seal(b, BODY_KEY_LENGTH, nonce, dst, dst, 2);
    } else {
        uint32_t mask = uses_mask(b) ? vmess_shake128_next16(&b->shake) : 0;
        be16_put(dst, s ^ mask);
    }
    if (b->security == VMESS_SEC_LEGACY) {
        be32_put(body, vmess_fnv1a32(d, n));
        if (n)
            memcpy(body + 4, d, n);
    } else if (b->overhead) {
        uint8_t nonce[12];
        chunk_nonce(nonce, b->count, b->iv);
        body_aead_seal(b, BODY_KEY_PAYLOAD, nonce, body, d, n); /* no copy of d first */
    } else if (n) {
        memcpy(body, d, n);
    }
    b->count++;
    if (pad)
        vmess_nonkey_random(body + b->overhead + n, pad);
    if (b->security == VMESS_SEC_LEGACY)
        vmess_cfb_encrypt(body_cfb(b), dst, b->len_size + s);
    out->len += b->len_size + s;
}

/* Appends one none+TCP simple chunk: LenField ‖ d[0..n). out has room. */
static void put_simple(vmess_body *b, const uint8_t *d, size_t n, evp_buf *out)
{
    uint8_t *dst = out->data + out->len;
    uint32_t mask = uses_mask(b) ? vmess_shake128_next16(&b->shake) : 0;
    be16_put(dst, (uint32_t)n ^ mask);
    if (n)
        memcpy(dst + 2, d, n);
    out->len += 2 + n;
}

/* Appends raw bytes (legacy: through the CFB stream). out has room. */
static void put_raw(vmess_body *b, const uint8_t *d, size_t n, evp_buf *out)
{
    uint8_t *dst = out->data + out->len;
    memcpy(dst, d, n);
    if (b->security == VMESS_SEC_LEGACY)
        vmess_cfb_encrypt(body_cfb(b), dst, n);
    out->len += n;
}

static void seal_stream(vmess_body *b, const uint8_t *in, size_t len, evp_buf *out)
{
    if (b->mode == MODE_RAW) {
        put_raw(b, in, len, out);
        return;
    }
    size_t per = b->mode == MODE_SIMPLE ? VMESS_BODY_SIMPLE_MAX : b->max_payload;
    while (len > 0) {
        size_t n = len < per ? len : per;
        if (b->mode == MODE_SIMPLE)
            put_simple(b, in, n, out);
        else
            put_chunk(b, in, n, out);
        in += n;
        len -= n;
    }
}

/* The next whole record of in[*off..len): its datagram in *d and *n, *off moved past it.
 * 0 when no whole record is left. */
static int next_record(const uint8_t *in, size_t len, size_t *off, const uint8_t **d, size_t *n)
{
    if (len - *off < 2)
        return 0;
    size_t m = be16_get(in + *off);
    if (len - *off - 2 < m)
        return 0;
    *d = in + *off + 2;
    *n = m;
    *off += 2 + m;
    return 1;
}

/* Whether a datagram of n bytes is sent. An empty one is skipped: as a chunk it would read
 * as the end marker. One too big for a 2048-byte chunk is dropped, as V2Ray's packet writer
 * does; the check uses the largest padding so that no SHAKE byte is drawn for a dropped
 * datagram, which would put the reader out of step. Without framing V2Ray sends the bytes as
 * they are. */
static int packet_sent(const vmess_body *b, size_t n)
{
    return n > 0 && (b->mode == MODE_RAW || n <= b->max_payload);
}

/* Bytes the packet writer appends for the whole records of in[0..len): counted from the
 * record headers, since a bound for tiny datagrams would be many times len. */
static size_t packets_size(const vmess_body *b, const uint8_t *in, size_t len)
{
    size_t off = 0, need = 0, n;
    const uint8_t *d;
    while (next_record(in, len, &off, &d, &n))
        if (packet_sent(b, n))
            need += (b->mode == MODE_RAW ? 0 : chunk_extra(b)) + n;
    return need;
}

/* Seals the whole records of in[0..len) into out, which has room (packets_size); returns the
 * bytes of in used. */
static size_t seal_packets(vmess_body *b, const uint8_t *in, size_t len, evp_buf *out)
{
    size_t off = 0, n;
    const uint8_t *d;
    while (next_record(in, len, &off, &d, &n)) {
        if (!packet_sent(b, n))
            continue;
        if (b->mode == MODE_RAW)
            put_raw(b, d, n, out);
        else
            put_chunk(b, d, n, out);
    }
    return off;
}

int vmess_body_seal(vmess_body *b, const evp_host *h, const uint8_t *in, size_t len,
                    size_t *consumed, evp_buf *out)
{
    *consumed = 0;
    if (len == 0)
        return EVP_OK;
    if (b->done) {
        b->why = "body write after the end of the stream";
        return EVP_ERR;
    }
    /* One reservation for every chunk of the call. */
    size_t need = b->udp ? packets_size(b, in, len) : seal_bound(b, len);
    if (body_warm(b, h) != 0 || (need > 0 && h->buf_reserve(out, need) == NULL)) {
        b->why = "out of memory";
        return EVP_ERR;
    }
    if (b->udp) {
        *consumed = seal_packets(b, in, len, out);
        return EVP_OK;
    }
    seal_stream(b, in, len, out);
    *consumed = len;
    return EVP_OK;
}

int vmess_body_seal_eof(vmess_body *b, const evp_host *h, evp_buf *out)
{
    if (b->done)
        return EVP_OK;
    b->done = 1;
    if (b->mode == MODE_RAW)
        return EVP_OK; /* the end is the transport's close */
    if (body_warm(b, h) != 0 || h->buf_reserve(out, seal_bound(b, 0)) == NULL) {
        b->why = "out of memory";
        return EVP_ERR;
    }
    if (b->mode == MODE_CHUNK)
        put_chunk(b, NULL, 0, out);
    else
        put_simple(b, NULL, 0, out);
    return EVP_OK;
}

/* ---- reader ---- */

static int fail(vmess_body *b, const char *why)
{
    b->why = why;
    b->mode = MODE_FAILED;
    return EVP_ERR;
}

/* Decodes a LenField (already through the CFB for legacy) into b->size and b->pad.
 * EVP_OK, or EVP_ERR. The end marker is a chunk like any other here: it is only the end
 * once take_chunk has checked its tag (or checksum). */
static int take_len(vmess_body *b, uint8_t *field)
{
    uint32_t pad = next_padding(b);
    uint32_t s;
    if (uses_auth_len(b)) {
        uint8_t nonce[12], plain[2];
        chunk_nonce(nonce, b->len_count++, b->len_iv);
        if (body_aead_open(b, BODY_KEY_LENGTH, nonce, plain, field, 2) != 0)
            return fail(b, "chunk length failed authentication");
        s = be16_get(plain) + TAG_SIZE;
    } else {
        uint32_t mask = uses_mask(b) ? vmess_shake128_next16(&b->shake) : 0;
        s = be16_get(field) ^ mask;
    }
    if (s < b->overhead + pad)
        return fail(b, "chunk shorter than its tag and padding");
    b->size = s;
    b->pad = pad;
    b->have_len = 1;
    return EVP_OK;
}

/* Opens the awaited chunk from src[0..b->size) and appends its payload to out, which has
 * room (open_bound). EVP_OK, EVP_EOF for an authentic empty chunk (the end marker), or
 * EVP_ERR. */
static int take_chunk(vmess_body *b, const uint8_t *src, evp_buf *out)
{
    size_t n = b->size - b->pad - b->overhead;
    size_t hdr = b->udp ? 2 : 0;
    uint8_t *dst = out->data + out->len;
    if (b->security == VMESS_SEC_LEGACY) {
        uint8_t sum[4], pad[MAX_PADDING];
        vmess_cfb *cfb = body_cfb(b);
        memcpy(sum, src, 4);
        vmess_cfb_decrypt(cfb, sum, 4);
        memcpy(dst + hdr, src + 4, n);
        vmess_cfb_decrypt(cfb, dst + hdr, n);
        memcpy(pad, src + 4 + n, b->pad);
        vmess_cfb_decrypt(cfb, pad, b->pad); /* keeps the stream in step */
        if (vmess_fnv1a32(dst + hdr, n) != (be16_get(sum) << 16 | be16_get(sum + 2)))
            return fail(b, "chunk checksum mismatch");
    } else if (b->overhead) {
        uint8_t nonce[12];
        chunk_nonce(nonce, b->count, b->iv);
        if (body_aead_open(b, BODY_KEY_PAYLOAD, nonce, dst + hdr, src, n) != 0)
            return fail(b, "chunk failed authentication");
    } else {
        memcpy(dst + hdr, src, n);
    }
    b->count++;
    b->have_len = 0;
    if (n == 0) {
        b->done = 1;
        return EVP_EOF;
    }
    if (hdr)
        be16_put(dst, (uint32_t)n);
    out->len += hdr + n;
    return EVP_OK;
}

static int open_chunks(vmess_body *b, const uint8_t *in, size_t len, size_t *consumed,
                       evp_buf *out)
{
    size_t off = 0;
    int rc = EVP_OK;
    for (;;) {
        if (!b->have_len) {
            uint8_t field[2 + TAG_SIZE];
            if (len - off < b->len_size)
                break;
            memcpy(field, in + off, b->len_size);
            if (b->security == VMESS_SEC_LEGACY)
                vmess_cfb_decrypt(body_cfb(b), field, b->len_size);
            off += b->len_size;
            rc = take_len(b, field);
            if (rc != EVP_OK)
                break;
        }
        if (len - off < b->size)
            break;
        rc = take_chunk(b, in + off, out);
        if (rc == EVP_ERR)
            break;
        off += b->size;
        if (rc == EVP_EOF)
            break;
    }
    *consumed = off;
    return rc;
}

/* none + TCP: payload is passed on as it arrives, no need to wait for whole chunks. */
static int open_simple(vmess_body *b, const uint8_t *in, size_t len, size_t *consumed,
                       evp_buf *out)
{
    size_t off = 0;
    int rc = EVP_OK;
    while (off < len) {
        if (!b->have_len) {
            if (len - off < 2)
                break;
            uint32_t mask = uses_mask(b) ? vmess_shake128_next16(&b->shake) : 0;
            b->size = be16_get(in + off) ^ mask;
            off += 2;
            if (b->size == 0) {
                b->done = 1;
                rc = EVP_EOF;
                break;
            }
            b->have_len = 1;
            if (off == len)
                break;
        }
        size_t n = len - off < b->size ? len - off : b->size;
        memcpy(out->data + out->len, in + off, n);
        out->len += n;
        off += n;
        b->size -= (uint32_t)n;
        if (b->size == 0)
            b->have_len = 0;
    }
    *consumed = off;
    return rc;
}

static int open_raw(vmess_body *b, const uint8_t *in, size_t len, size_t *consumed,
                    evp_buf *out)
{
    size_t off = 0;
    /* UDP without framing: each piece becomes one datagram, as V2Ray's buffers do. */
    size_t per = b->udp ? VMESS_BODY_CHUNK_BUF : len;
    while (off < len) {
        size_t n = len - off < per ? len - off : per;
        size_t hdr = b->udp ? 2 : 0;
        uint8_t *dst = out->data + out->len;
        if (hdr)
            be16_put(dst, (uint32_t)n);
        memcpy(dst + hdr, in + off, n);
        if (b->security == VMESS_SEC_LEGACY)
            vmess_cfb_decrypt(body_cfb(b), dst + hdr, n);
        out->len += hdr + n;
        off += n;
    }
    *consumed = off;
    return EVP_OK;
}

/* Plaintext bytes len bytes of input can yield at most: a chunk's payload is shorter than
 * the chunk, and its UDP record header (2) is no longer than its LenField; only unframed UDP
 * adds a header per 2048-byte piece. */
static size_t open_bound(const vmess_body *b, size_t len)
{
    if (b->udp && b->mode == MODE_RAW)
        return len + 2 * (len / VMESS_BODY_CHUNK_BUF + 1);
    return len;
}

int vmess_body_open(vmess_body *b, const evp_host *h, const uint8_t *in, size_t len,
                    size_t *consumed, evp_buf *out)
{
    *consumed = 0;
    if (b->mode == MODE_FAILED)
        return EVP_ERR;
    if (b->done) {
        *consumed = len; /* the marker's own bytes, and anything after it */
        return EVP_EOF;
    }
    if (len == 0)
        return EVP_OK;
    /* One reservation for every chunk in the input. */
    if (body_warm(b, h) != 0 || h->buf_reserve(out, open_bound(b, len)) == NULL)
        return fail(b, "out of memory");
    switch (b->mode) {
    case MODE_CHUNK:
        return open_chunks(b, in, len, consumed, out);
    case MODE_SIMPLE:
        return open_simple(b, in, len, consumed, out);
    default:
        return open_raw(b, in, len, consumed, out);
    }
}

int vmess_body_at_boundary(const vmess_body *b)
{
    return b->mode != MODE_FAILED && !b->have_len;
}

void vmess_body_wipe(vmess_body *b)
{
    vmess_body_idle(b);
    sodium_memzero(b, sizeof *b);
}

void vmess_body_idle_pair(vmess_body *a, vmess_body *b)
{
    vmess_body_idle(a);
    vmess_body_idle(b);
}

void vmess_body_wipe_pair(vmess_body *a, vmess_body *b)
{
    vmess_body_wipe(a);
    vmess_body_wipe(b);
}
