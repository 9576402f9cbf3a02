/* Growable byte buffers (the ABI's evp_buf) with make-room-then-commit appends, and the
 * host's queues over them (an evp_buf plus a read offset). */
#ifndef EVP_BUF_H
#define EVP_BUF_H

#include "evproxy/plugin.h"

/* The standard block: a 64 KiB read plus room for a record or chunk header. */
#define EVP_BUF_BLOCK (65536 + 4096)
/* The most a thread's pool of spare blocks holds. */
#define EVP_BUF_POOL_BYTES (4u * 1024 * 1024)

/* Makes room for n more bytes; returns b->data + b->len, or NULL when out of memory. */
uint8_t *evp_buf_reserve(evp_buf *b, size_t n);
/* Appends n bytes; 0 or -1 when out of memory. */
int evp_buf_append(evp_buf *b, const void *p, size_t n);
/* Appends n bytes, growing the storage only to what it holds (no standard block): for input
 * kept before a client has authenticated, so a handshake that never ends costs its bytes. */
int evp_buf_append_small(evp_buf *b, const void *p, size_t n);
/* Drops the first n bytes, moving the rest to the front (plugins' own buffers). */
void evp_buf_consume(evp_buf *b, size_t n);
/* Frees the storage and leaves b empty. */
void evp_buf_free(evp_buf *b);
/* Frees the storage when the buffer is empty, so an idle session holds no data buffer. */
void evp_buf_trim(evp_buf *b);

/* A host endpoint's queue: bytes [off, b.len) of b wait to be taken. Taking moves only off;
 * the waiting bytes move to the front only when the tail lacks room for new ones. Codecs
 * append to &q->b as to any evp_buf; the ABI never sees off. */
typedef struct evp_qbuf {
    evp_buf b;
    size_t off;
} evp_qbuf;

/* Bytes waiting. */
static inline size_t evp_qbuf_len(const evp_qbuf *q)
{
    return q->b.len - q->off;
}
/* The first waiting byte. */
static inline uint8_t *evp_qbuf_head(const evp_qbuf *q)
{
    return q->b.data + q->off;
}
/* Takes the first n waiting bytes (n <= evp_qbuf_len); an emptied queue restarts at 0. */
void evp_qbuf_take(evp_qbuf *q, size_t n);
/* Room for n more bytes at the tail: returns q->b.data + q->b.len, or NULL when out of
 * memory. Moves the waiting bytes to the front only if the tail lacks the room. */
uint8_t *evp_qbuf_room(evp_qbuf *q, size_t n);
/* Frees the storage when nothing waits. */
void evp_qbuf_trim(evp_qbuf *q);
/* Frees the storage and leaves q empty. */
void evp_qbuf_free(evp_qbuf *q);

/* Frees the pooled blocks that no buffer took since the last call (the surplus of a burst
 * that has passed); returns how many. Called periodically. */
size_t evp_buf_pool_shrink(void);
/* Bytes this thread's pool holds. */
size_t evp_buf_pool_bytes(void);
/* Caps this thread's pool at bytes (at most EVP_BUF_POOL_BYTES), freeing any surplus. */
void evp_buf_pool_set_cap(size_t bytes);
/* Bytes moved to the front of a buffer by this thread so far (a cost the data path avoids;
 * built with -DEVP_BUF_STATS the daemon prints it at exit, with the bytes growth copied). */
unsigned long long evp_buf_moved_bytes(void);
/* Frees the pooled blocks (at exit, so leak checkers see a clean heap). */
void evp_buf_pool_drain(void);

#endif
