/* Drives one stream-transport session's decode (ABI 1.6) the way the host does: whatever
 * has arrived, unconsumed bytes presented again, EVP_TARGET noted and the hook called again
 * with the rest, a final call with in_eof. The input comes in pieces of a given size, so a
 * target can compare runs that differ only in how the input was split (fuzz_same_runs). */
#ifndef FUZZ_TRANSPORT_H
#define FUZZ_TRANSPORT_H

#include "fuzz_drive.h"

/* Feeds data[0..len) to sess's decode in pieces of piece bytes (0: all at once), then the
 * end of input; r holds what came up, what went back, the last status and the targets. */
static inline void fuzz_drive_transport(const evp_transport_ops *ops, void *sess,
                                        const uint8_t *data, size_t len, size_t piece, fuzz_run *r)
{
    evp_buf pending = {0};
    evp_io io;
    size_t fed = 0;
    memset(r, 0, sizeof(*r));
    if (piece == 0)
        piece = len ? len : 1;
    for (;;) {
        size_t n = len - fed < piece ? len - fed : piece;
        if (fuzz_buf_put(&pending, data + fed, n) != 0)
            abort();
        fed += n;
        int eof = fed == len;
        for (;;) {
            r->status = fuzz_call(ops->decode, sess, pending.data, pending.len, eof, &r->out,
                                  &r->back, &io);
            fuzz_buf_consume(&pending, io.consumed);
            if (r->status != EVP_TARGET)
                break;
            fuzz_check_addr(&io.target);
            r->targets++;
            r->target = io.target;
            if (r->targets > 1)
                abort(); /* a front names the client once */
        }
        if (r->status == EVP_ERR || r->status == EVP_EOF || eof)
            break;
    }
    fuzz_buf_free(&pending);
}

/* As fuzz_drive_transport, on a fresh session of inst (freed after). */
static inline void fuzz_transport_run(const evp_transport_ops *ops, void *inst,
                                      const uint8_t *data, size_t len, size_t piece, fuzz_run *r)
{
    void *s = ops->session_new(inst, NULL);
    if (s == NULL)
        abort();
    fuzz_drive_transport(ops, s, data, len, piece, r);
    ops->session_free(s);
}

#endif
