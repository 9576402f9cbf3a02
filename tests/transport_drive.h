/* Drives one stream-transport session (ABI 1.6) in memory as the host would: input a hook
 * left unconsumed is offered again followed by new bytes, EVP_TARGET is noted and the hook
 * called again with the rest. Bytes can arrive in chunks of any size. Header-only (static
 * inline), for tests/check_*.c. */
#ifndef TRANSPORT_DRIVE_H
#define TRANSPORT_DRIVE_H

#include "evproxy/plugin.h"
#include "test_host.h"

#include <check.h>
#include <string.h>

typedef struct tdrive_dir {
    evp_buf pending;  /* input the hook has not consumed yet */
    evp_buf out;      /* everything the hook wrote onward */
    evp_buf back;     /* everything it wrote back (decode only) */
    int status;       /* the last return: EVP_OK, EVP_EOF or EVP_ERR */
    char reason[128]; /* EVP_ERR's */
} tdrive_dir;

typedef struct tdrive {
    const evp_transport_ops *ops;
    void *sess;
    tdrive_dir up;   /* decode: from the socket toward the protocol */
    tdrive_dir down; /* encode */
    int targets;     /* how many times decode returned EVP_TARGET */
    evp_addr target; /* the last one */
} tdrive;

static inline int tdrive_buf_put(evp_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = test_host_buf_reserve(b, n);
    ck_assert_ptr_nonnull(dst);
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

/* One hook call on everything pending (plus eof), as often as EVP_TARGET asks. */
static inline int tdrive_call(tdrive *d, tdrive_dir *dir, int decode, int eof)
{
    for (;;) {
        evp_io io;
        memset(&io, 0, sizeof io);
        io.in = dir->pending.data;
        io.in_len = dir->pending.len;
        io.in_eof = eof;
        io.out = &dir->out;
        io.back = &dir->back;
        int r = decode ? d->ops->decode(d->sess, &io) : d->ops->encode(d->sess, &io);
        dir->status = r;
        if (r == EVP_ERR) {
            memcpy(dir->reason, io.reason, sizeof dir->reason);
            dir->reason[sizeof dir->reason - 1] = '\0';
            return r;
        }
        ck_assert_uint_le(io.consumed, dir->pending.len);
        test_buf_consume(&dir->pending, io.consumed);
        if (r != EVP_TARGET)
            return r;
        ck_assert_msg(decode, "encode returned EVP_TARGET");
        d->targets++;
        d->target = io.target;
    }
}

/* Feeds len bytes in chunks of chunk (0: all at once), then, with eof, the end of input.
 * Stops at the first EVP_ERR or EVP_EOF; returns the last status. */
static inline int tdrive_feed(tdrive *d, int decode, const void *p, size_t len, size_t chunk,
                              int eof)
{
    tdrive_dir *dir = decode ? &d->up : &d->down;
    const uint8_t *bytes = p;
    size_t off = 0;
    if (chunk == 0)
        chunk = len ? len : 1;
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        tdrive_buf_put(&dir->pending, bytes + off, n);
        off += n;
        int r = tdrive_call(d, dir, decode, eof && off == len);
        if (r == EVP_ERR || r == EVP_EOF)
            return r;
    } while (off < len);
    return dir->status;
}

static inline void tdrive_open(tdrive *d, const evp_transport_ops *ops, void *inst,
                               const evp_addr *peer)
{
    memset(d, 0, sizeof *d);
    d->ops = ops;
    d->sess = ops->session_new(inst, peer);
    ck_assert_ptr_nonnull(d->sess);
}

static inline void tdrive_close(tdrive *d)
{
    d->ops->session_free(d->sess);
    tdrive_dir *dirs[2] = {&d->up, &d->down};
    for (int i = 0; i < 2; i++) {
        test_buf_free(&dirs[i]->pending);
        test_buf_free(&dirs[i]->out);
        test_buf_free(&dirs[i]->back);
    }
}

/* A layer instance from settings JSON on the test host; fails the test with the error. */
static inline void *tdrive_instance(const evp_plugin *p, int server, const char *settings)
{
    char err[256] = "";
    evp_transport_args a = {.size = sizeof a,
                            .server = server,
                            .tag = "t",
                            .settings_json = settings,
                            .stream_json = "{}"};
    void *inst = p->transport->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst != NULL, "%s(%s): %s", p->name, settings, err);
    return inst;
}

#endif
