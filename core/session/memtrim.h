/* Gives memory back to the system once a burst of sessions has passed: pooled buffers that
 * went unused, and the allocator's free pages. */
#ifndef EVP_MEMTRIM_H
#define EVP_MEMTRIM_H

#include "session.h"

#include <ev.h>

/* Starts the periodic check on loop; rt's session count says when load has fallen. */
void evp_memtrim_start(struct ev_loop *loop, const evp_runtime *rt);
void evp_memtrim_stop(struct ev_loop *loop);
/* One check: shrinks the buffer pool and, when it gave something back or the number of
 * sessions has halved since the last trim, trims the allocator. Returns 1 if it trimmed. */
int evp_memtrim_tick(size_t n_sessions);

#endif
