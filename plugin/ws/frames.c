/* WebSocket frames (see frames.h): the RFC 6455 rules a receiver checks (masking, reserved
 * bits, opcodes, fragmentation, control frame sizes, shortest lengths), pings answered,
 * one Close each way. Text frames carry the stream like binary ones, as V2Ray reads them. */
#include "frames.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

int ws_fail(evp_io *io, const char *fmt, ...)
{
    static const char prefix[] = "websocket: ";
    memcpy(io->reason, prefix, sizeof(prefix));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->reason + sizeof(prefix) - 1, sizeof(io->reason) - sizeof(prefix) + 1, fmt, ap);
    va_end(ap);
    return EVP_ERR;
}

int ws_frames_open(ws_frames *f, const evp_host *host, int server)
{
    memset(f, 0, sizeof(*f));
    f->host = host;
    f->server = (uint8_t)(server != 0);
    f->open = 1;
    return 0;
}

void ws_frames_close(ws_frames *f)
{
    f->open = 0;
}

/* dst = src XOR the mask, whose byte 0 lines up with payload offset off: eight bytes at a
 * time (the mask repeats every 4, so a doubled word fits any 8-byte step). */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4],
                      uint64_t off)
{
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = mask[(off + (uint64_t)i) % 4];
    uint64_t k;
    memcpy(&k, key, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[i % 8];
}

/* Appends one frame (fin set) to out: masked with a fresh random key from a client. */
static int put_frame(ws_frames *f, evp_buf *out, uint8_t opcode, const uint8_t *p, size_t n)
{
    uint8_t head[14];
    size_t hl = 2;
    uint8_t m = f->server ? 0 : 0x80;
    head[0] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        head[1] = (uint8_t)(m | n);
    } else if (n < 65536) {
        head[1] = m | 126;
        head[2] = (uint8_t)(n >> 8);
        head[3] = (uint8_t)n;
        hl = 4;
    } else {
        head[1] = m | 127;
        for (int i = 0; i < 8; i++)
            head[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    uint8_t *key = head + hl;
    if (!f->server) {
        f->host->random_bytes(key, 4);
        hl += 4;
    }
    uint8_t *dst = f->host->buf_reserve(out, hl + n);
    if (dst == NULL)
        return -1;
    memcpy(dst, head, hl);
    if (f->server)
        memcpy(dst + hl, p, n);
    else
        mask_copy(dst + hl, p, n, key, 0);
    out->len += hl + n;
    return 0;
}

int ws_frames_send_close(ws_frames *f, evp_buf *out)
{
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    if (f->close_sent)
        return 0;
    f->close_sent = 1;
    return put_frame(f, out, OP_CLOSE, normal, 2);
}

/* How long the header being read is, once its first two bytes are in. */
static size_t head_size(const ws_frames *f)
{
    size_t len7 = f->head[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((f->head[1] & 0x80) ? 4 : 0);
}

/* Checks a whole header and starts its payload; 0, or EVP_ERR with the rule it breaks. */
static int start_frame(ws_frames *f, evp_io *io)
{
    uint8_t b0 = f->head[0], b1 = f->head[1];
    uint8_t op = b0 & 0x0f, fin = b0 >> 7;
    uint64_t len = b1 & 0x7f;
    size_t at = 2;
    if (len == 126) {
        len = (uint64_t)f->head[2] << 8 | f->head[3];
        at = 4;
        if (len < 126)
            return ws_fail(io, "bad frame: a length not in its shortest form");
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | f->head[2 + i];
        at = 10;
        if (len < 65536 || len >> 63)
            return ws_fail(io, "bad frame: a length not in its shortest form");
    }
    if (b0 & 0x70)
        return ws_fail(io, "bad frame: reserved bits set (no extension was agreed)");
    if (op > OP_BINARY && op != OP_CLOSE && op != OP_PING && op != OP_PONG)
        return ws_fail(io, "bad frame: unknown opcode %u", op);
    f->masked = (b1 & 0x80) != 0;
    if (f->server && !f->masked)
        return ws_fail(io, "bad frame: unmasked frame from a client");
    if (!f->server && f->masked)
        return ws_fail(io, "bad frame: masked frame from a server");
    if (op >= OP_CLOSE) {
        if (!fin || len > 125)
            return ws_fail(io, "bad frame: a control frame fragmented or over 125 bytes");
    } else if (op == OP_CONT && !f->in_msg) {
        return ws_fail(io, "bad frame: a continuation with no message to continue "
                           "(broken fragmentation)");
    } else if (op != OP_CONT && f->in_msg) {
        return ws_fail(io, "bad frame: a new message inside a fragmented one "
                           "(broken fragmentation)");
    } else {
        f->in_msg = !fin;
    }
    if (f->masked)
        memcpy(f->mask, f->head + at, 4);
    f->opcode = op;
    f->left = len;
    f->off = 0;
    f->ctrl_len = 0;
    f->head_len = 0;
    f->in_payload = 1;
    return 0;
}

/* A control frame is whole: answer a ping, take a Close. EVP_OK, EVP_EOF or EVP_ERR. */
static int end_control(ws_frames *f, evp_io *io)
{
    if (f->opcode == OP_PING) {
        /* no pong after our Close: nothing may follow it */
        if (!f->close_sent && put_frame(f, io->back, OP_PONG, f->ctrl, f->ctrl_len) != 0)
            return ws_fail(io, "out of memory");
        return EVP_OK;
    }
    if (f->opcode != OP_CLOSE)
        return EVP_OK; /* an unasked pong */
    if (f->ctrl_len == 1)
        return ws_fail(io, "bad frame: a Close with a 1-byte payload");
    if (!f->close_sent) {
        /* One Close back, with the peer's status code as RFC 6455 5.5.1 suggests. */
        f->close_sent = 1;
        if (put_frame(f, io->back, OP_CLOSE, f->ctrl, f->ctrl_len < 2 ? 0 : 2) != 0)
            return ws_fail(io, "out of memory");
    }
    io->consumed = io->in_len; /* nothing may follow a Close */
    return EVP_EOF;
}

/* Moves payload from the input: data up (unmasked), a control frame's aside. */
static int take_payload(ws_frames *f, evp_io *io)
{
    size_t avail = io->in_len - io->consumed;
    size_t n = f->left < avail ? (size_t)f->left : avail;
    const uint8_t *src = io->in + io->consumed;
    uint8_t *dst = NULL;
    if (n > 0 && f->opcode >= OP_CLOSE) {
        dst = f->ctrl + f->ctrl_len;
        f->ctrl_len = (uint8_t)(f->ctrl_len + n);
    } else if (n > 0) {
        if ((dst = f->host->buf_reserve(io->out, n)) == NULL)
            return ws_fail(io, "out of memory");
        io->out->len += n;
    }
    if (n > 0 && f->masked)
        mask_copy(dst, src, n, f->mask, f->off);
    else if (n > 0)
        memcpy(dst, src, n);
    io->consumed += n;
    f->left -= n;
    f->off += n;
    if (f->left > 0)
        return EVP_OK;
    f->in_payload = 0;
    return f->opcode >= OP_CLOSE ? end_control(f, io) : EVP_OK;
}

int ws_frames_decode(ws_frames *f, evp_io *io)
{
    while (io->consumed < io->in_len) {
        int r;
        if (f->in_payload) {
            r = take_payload(f, io);
        } else {
            /* header bytes, two first (they say how many follow) */
            size_t want = f->head_len < 2 ? 2 : head_size(f);
            while (f->head_len < want && io->consumed < io->in_len) {
                f->head[f->head_len++] = io->in[io->consumed++];
                if (f->head_len == 2)
                    want = head_size(f);
            }
            if (f->head_len < want)
                break;
            r = start_frame(f, io);
            if (r == 0 && f->left == 0)
                r = take_payload(f, io); /* an empty frame ends at once */
        }
        if (r != EVP_OK)
            return r;
    }
    if (io->in_eof && io->consumed == io->in_len) {
        if (f->in_payload || f->head_len > 0 || f->in_msg)
            return ws_fail(io, "the stream ended inside a frame");
        return EVP_EOF; /* ended without a Close, as many peers do */
    }
    return EVP_OK;
}

int ws_frames_encode(ws_frames *f, evp_io *io)
{
    if (f->close_sent) {
        io->consumed = io->in_len; /* after a Close nothing more may go */
        return EVP_OK;
    }
    while (io->consumed < io->in_len) {
        size_t n = io->in_len - io->consumed;
        if (n > WS_FRAME_MAX)
            n = WS_FRAME_MAX;
        if (put_frame(f, io->out, OP_BINARY, io->in + io->consumed, n) != 0)
            return ws_fail(io, "out of memory");
        io->consumed += n;
    }
    if (io->in_eof && ws_frames_send_close(f, io->out) != 0)
        return ws_fail(io, "out of memory");
    return EVP_OK;
}
