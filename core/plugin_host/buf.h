/* Growable byte buffers (the ABI's evp_buf) with make-room-then-commit appends. */
#ifndef EVP_BUF_H
#define EVP_BUF_H

#include "evproxy/plugin.h"

/* The standard block: a 64 KiB read plus room for a record or chunk header. */
#define EVP_BUF_BLOCK (65536 + 4096)

/* Makes room for n more bytes; returns b->data + b->len, or NULL when out of memory. */
uint8_t *evp_buf_reserve(evp_buf *b, size_t n);
/* Appends n bytes; 0 or -1 when out of memory. */
int evp_buf_append(evp_buf *b, const void *p, size_t n);
/* Appends n bytes, growing the storage only to what it holds (no standard block): for input
 * kept before a client has authenticated, so a handshake that never ends costs its bytes. */
int evp_buf_append_small(evp_buf *b, const void *p, size_t n);
/* Drops the first n bytes. */
void evp_buf_consume(evp_buf *b, size_t n);
/* Frees the storage and leaves b empty. */
void evp_buf_free(evp_buf *b);
/* Frees the storage when the buffer is empty, so an idle session holds no data buffer. */
void evp_buf_trim(evp_buf *b);
/* Frees the pooled blocks that no buffer took since the last call (the surplus of a burst
 * that has passed); returns how many. Called periodically. */
size_t evp_buf_pool_shrink(void);
/* Bytes moved to the front of a buffer so far (a cost the data path avoids; built with
 * -DEVP_BUF_STATS the daemon prints it at exit). */
unsigned long long evp_buf_moved_bytes(void);
/* Frees the pooled blocks (at exit, so leak checkers see a clean heap). */
void evp_buf_pool_drain(void);

#endif
