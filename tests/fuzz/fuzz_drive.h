/* Drives an inbound codec the way core/session/session.c does (decode at accept with nothing, then
 * with whatever has arrived; EVP_TARGET -> connected(); unconsumed bytes are presented
 * again; a final call with in_eof), over input delivered in pieces, and records what came
 * out so that a target can compare runs that differ only in how the input was split. */
#ifndef FUZZ_DRIVE_H
#define FUZZ_DRIVE_H

#include "fuzz_host.h"

typedef struct fuzz_run {
    evp_buf out;  /* decoded plaintext (toward the target) */
    evp_buf back; /* bytes written toward the client: replies and encoded responses */
    int status;   /* last status: EVP_ERR, EVP_EOF, or EVP_OK when input ran out */
    int targets;  /* EVP_TARGET results seen */
    evp_addr target;
    uint8_t network;
} fuzz_run;

/* Aborts unless a's fields are what enum evp_addr_type promises. */
static inline void fuzz_check_addr(const evp_addr *a)
{
    switch (a->type) {
    case EVP_ADDR_IPV4:
        if (a->len != 4 && a->len != 0)
            abort();
        break;
    case EVP_ADDR_IPV6:
        if (a->len != 16 && a->len != 0)
            abort();
        break;
    case EVP_ADDR_DOMAIN:
        if (a->len == 0 || a->bytes[a->len] != '\0' || strlen((const char *)a->bytes) != a->len)
            abort();
        break;
    case EVP_ADDR_NONE:
        break;
    default:
        abort();
    }
}

static inline int fuzz_call(int (*fn)(void *, evp_io *), void *sess, const uint8_t *in, size_t len,
                            int eof, evp_buf *out, evp_buf *back, evp_io *io)
{
    memset(io, 0, sizeof(*io));
    io->in = in;
    io->in_len = len;
    io->in_eof = eof;
    io->out = out;
    io->back = back;
    int rc = fn(sess, io);
    fuzz_check_io(io);
    if (rc < EVP_ERR || rc > EVP_EOF)
        abort();
    return rc;
}

/* Feeds data[0..len) to sess in pieces ending at cuts[0..ncuts) (ascending, each <= len),
 * then the rest, then end of input. connect_ok is what connected() is told. reply[0..rlen)
 * is target data sent back through encode once the target is known. */
static inline void fuzz_drive_inbound(const evp_inbound_ops *ops, void *sess, const uint8_t *data,
                                      size_t len, const size_t *cuts, size_t ncuts, int connect_ok,
                                      const uint8_t *reply, size_t rlen, fuzz_run *r)
{
    evp_buf rbuf = {0};
    evp_buf scratch = {0};
    evp_io io;
    size_t fed = 0;
    memset(r, 0, sizeof(*r));
    r->status = fuzz_call(ops->decode, sess, NULL, 0, 0, &r->out, &r->back, &io);
    for (size_t step = 0; step <= ncuts + 1 && r->status != EVP_ERR && r->status != EVP_EOF;
         step++) {
        size_t upto = step < ncuts ? cuts[step] : len;
        int eof = step == ncuts + 1;
        if (upto > fed) {
            fuzz_buf_put(&rbuf, data + fed, upto - fed);
            fed = upto;
        }
        for (;;) {
            int rc = fuzz_call(ops->decode, sess, rbuf.data, rbuf.len, eof, &r->out, &r->back, &io);
            fuzz_buf_consume(&rbuf, io.consumed);
            r->status = rc;
            if (rc == EVP_ERR || rc == EVP_EOF)
                break;
            if (rc == EVP_TARGET) {
                fuzz_check_addr(&io.target);
                r->targets++;
                r->target = io.target;
                r->network = io.network;
                if (r->targets > 1)
                    abort(); /* a handshake names its target once */
                if (ops->connected != NULL) {
                    evp_io cio;
                    memset(&cio, 0, sizeof(cio));
                    cio.out = &scratch;
                    cio.back = &r->back;
                    cio.target = io.target; /* a UDP relay's bound address, say */
                    int c = ops->connected(sess, connect_ok, &cio);
                    fuzz_check_io(&cio);
                    if (c == EVP_ERR) {
                        r->status = EVP_ERR;
                        break;
                    }
                }
                if (rlen > 0 && r->network != EVP_NET_UDP_RELAY) {
                    int e = fuzz_call(ops->encode, sess, reply, rlen, 0, &r->back, &scratch, &io);
                    if (e == EVP_ERR) {
                        r->status = EVP_ERR;
                        break;
                    }
                }
                continue;
            }
            if (io.consumed == 0)
                break;
        }
    }
    fuzz_buf_free(&rbuf);
    fuzz_buf_free(&scratch);
}

static inline void fuzz_run_free(fuzz_run *r)
{
    fuzz_buf_free(&r->out);
    fuzz_buf_free(&r->back);
}

/* UDP plaintext: checks that b is whole records (BE16 length, then that many bytes) and
 * joins their payloads into b, in place. Raw (no ChunkStream) VMess makes one datagram per
 * read, as V2Ray does, so only the joined payloads are the same however input is split. */
static inline void fuzz_unframe(evp_buf *b)
{
    size_t in = 0, out = 0;
    while (in < b->len) {
        if (b->len - in < 2)
            abort(); /* a record cut short */
        size_t n = (size_t)b->data[in] << 8 | b->data[in + 1];
        if (b->len - in - 2 < n)
            abort();
        memmove(b->data + out, b->data + in + 2, n);
        out += n;
        in += 2 + n;
    }
    b->len = out;
}

/* Aborts unless two runs over the same bytes, split differently, came out the same. */
static inline void fuzz_same_runs(const fuzz_run *a, const fuzz_run *b, int compare_back)
{
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "[fuzz] runs: status %d/%d targets %d/%d out %zu/%zu back %zu/%zu\n",
                a->status, b->status, a->targets, b->targets, a->out.len, b->out.len, a->back.len,
                b->back.len);
    if (a->status != b->status || a->targets != b->targets || a->out.len != b->out.len)
        abort();
    if (a->out.len && memcmp(a->out.data, b->out.data, a->out.len) != 0)
        abort();
    if (compare_back && (a->back.len != b->back.len ||
                         (a->back.len && memcmp(a->back.data, b->back.data, a->back.len) != 0)))
        abort();
}

#endif
