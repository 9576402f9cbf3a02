/* Growable byte buffers. Empty buffers of the standard block size go back to a small pool
 * instead of to malloc, so a busy session's read/write cycle allocates nothing while an
 * idle session still holds no data buffer. The pool holds at most EVP_BUF_POOL_BYTES and
 * gives back what went unused for a whole shrink period, so a burst of sessions does not
 * pin its blocks for good. One pool per thread: each worker is one thread. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SLOTS (EVP_BUF_POOL_BYTES / EVP_BUF_BLOCK)

static _Thread_local uint8_t *pool[POOL_SLOTS];
static _Thread_local size_t pool_n;
static _Thread_local size_t pool_low; /* fewest blocks the pool held since the last shrink */
static _Thread_local size_t pool_cap = POOL_SLOTS; /* blocks it may hold (a test lowers it) */
static _Thread_local unsigned long long moved; /* bytes moved to the front of a buffer */
static _Thread_local unsigned long long grown; /* bytes copied by growing a buffer (at most) */

static uint8_t *block_get(void)
{
    uint8_t *blk = pool_n ? pool[--pool_n] : malloc(EVP_BUF_BLOCK);
    if (pool_n < pool_low)
        pool_low = pool_n;
    return blk;
}

uint8_t *evp_buf_reserve(evp_buf *b, size_t n)
{
    if (b->data != NULL && b->cap - b->len >= n)
        return b->data + b->len;
    if (b->cap < EVP_BUF_BLOCK && n <= EVP_BUF_BLOCK - b->len) {
        /* Into a standard block, carrying over what a small buffer held. */
        uint8_t *blk = block_get();
        if (blk == NULL)
            return NULL;
        if (b->len)
            memcpy(blk, b->data, b->len);
        grown += b->len;
        free(b->data);
        b->data = blk;
        b->cap = EVP_BUF_BLOCK;
        return b->data + b->len;
    }
    size_t cap = b->cap > EVP_BUF_BLOCK ? b->cap : EVP_BUF_BLOCK;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2)
            return NULL;
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return NULL;
    grown += b->len; /* at most: realloc may grow in place */
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

int evp_buf_append(evp_buf *b, const void *p, size_t n)
{
    uint8_t *dst = evp_buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    if (n)
        memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int evp_buf_append_small(evp_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        if (n > SIZE_MAX - b->len - 255)
            return -1;
        size_t cap = (b->len + n + 255) & ~(size_t)255;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void evp_buf_consume(evp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    moved += b->len - n;
    b->len -= n;
}

void evp_buf_free(evp_buf *b)
{
    if (b->cap == EVP_BUF_BLOCK && pool_n < pool_cap)
        pool[pool_n++] = b->data;
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void evp_buf_trim(evp_buf *b)
{
    if (b->len == 0 && b->cap > 0)
        evp_buf_free(b);
}

/* ---- queues: an evp_buf with a read offset ------------------------------------------- */

void evp_qbuf_take(evp_qbuf *q, size_t n)
{
    q->off += n;
    if (q->off >= q->b.len)
        q->off = q->b.len = 0; /* emptied: start again at the front, nothing to move */
}

uint8_t *evp_qbuf_room(evp_qbuf *q, size_t n)
{
    if (q->b.data != NULL && q->b.cap - q->b.len >= n)
        return q->b.data + q->b.len;
    if (q->off > 0) {
        /* The tail lacks room: what waits (less than one record) goes to the front. */
        size_t live = q->b.len - q->off;
        memmove(q->b.data, q->b.data + q->off, live);
        moved += live;
        q->b.len = live;
        q->off = 0;
    }
    return evp_buf_reserve(&q->b, n);
}

void evp_qbuf_trim(evp_qbuf *q)
{
    if (evp_qbuf_len(q) == 0) {
        q->off = q->b.len = 0;
        evp_buf_trim(&q->b);
    }
}

void evp_qbuf_free(evp_qbuf *q)
{
    evp_buf_free(&q->b);
    q->off = 0;
}

/* ---- the pool -------------------------------------------------------------------------- */

size_t evp_buf_pool_shrink(void)
{
    size_t spare = pool_low;
    for (size_t i = 0; i < spare; i++)
        free(pool[--pool_n]);
    pool_low = pool_n;
    return spare;
}

size_t evp_buf_pool_bytes(void)
{
    return pool_n * EVP_BUF_BLOCK;
}

void evp_buf_pool_set_cap(size_t bytes)
{
    size_t slots = bytes / EVP_BUF_BLOCK;
    pool_cap = slots < POOL_SLOTS ? slots : POOL_SLOTS;
    while (pool_n > pool_cap)
        free(pool[--pool_n]);
    if (pool_low > pool_n)
        pool_low = pool_n;
}

unsigned long long evp_buf_moved_bytes(void)
{
    return moved;
}

void evp_buf_pool_drain(void)
{
#ifdef EVP_BUF_STATS
    fprintf(stderr, "evp_buf: %llu bytes moved, %llu copied by growth\n", moved, grown);
#endif
    while (pool_n)
        free(pool[--pool_n]);
    pool_low = 0;
}
