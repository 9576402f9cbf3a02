/* Drives an inbound's hooks in memory as the host does: the client bytes not yet consumed,
 * the two outputs, the last call's evp_io. Header-only (static inline), for tests. */
#ifndef INBOUND_DRIVE_H
#define INBOUND_DRIVE_H

#include "test_host.h"

#include <check.h>
#include <string.h>

typedef struct drv {
    const evp_inbound_ops *ops;
    void *inst, *sess;
    evp_buf pending, out, back;
    evp_io io; /* the last call's */
} drv;

/* Opens a session on inst (an instance of ops, owned by d from now on). */
static inline void drv_start(drv *d, const evp_inbound_ops *ops, void *inst)
{
    memset(d, 0, sizeof *d);
    d->ops = ops;
    d->inst = inst;
    d->sess = ops->session_new(d->inst);
    ck_assert_ptr_nonnull(d->sess);
}

static inline void drv_close(drv *d)
{
    d->ops->session_free(d->sess);
    d->ops->instance_free(d->inst);
    test_buf_free(&d->pending);
    test_buf_free(&d->out);
    test_buf_free(&d->back);
}

/* Appends bytes to pending and runs decode once over all of pending, as the host does. */
static inline int drv_decode(drv *d, const void *p, size_t n, int eof)
{
    if (n > 0) {
        uint8_t *dst = test_host_buf_reserve(&d->pending, n);
        ck_assert_ptr_nonnull(dst);
        memcpy(dst, p, n);
        d->pending.len += n;
    }
    memset(&d->io, 0, sizeof d->io);
    d->io.in = d->pending.data;
    d->io.in_len = d->pending.len;
    d->io.in_eof = eof;
    d->io.out = &d->out;
    d->io.back = &d->back;
    int r = d->ops->decode(d->sess, &d->io);
    ck_assert_uint_le(d->io.consumed, d->pending.len);
    test_buf_consume(&d->pending, d->io.consumed);
    return r;
}

static inline int drv_connected(drv *d, int ok)
{
    memset(&d->io, 0, sizeof d->io);
    d->io.out = &d->out;
    d->io.back = &d->back;
    return d->ops->connected(d->sess, ok, &d->io);
}

#endif
