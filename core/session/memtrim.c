/* Memory back to the system after load. Freed memory stays with the process: the buffer pool
 * keeps its blocks, and glibc's malloc returns only the top of a heap, so a heap that grew
 * under a thousand sessions stays that size once they are gone. Each second the pool gives
 * back the blocks no buffer took, and once the session count has halved since the last trim
 * (or the pool gave something back) malloc_trim hands every free page back. Under steady
 * load neither happens, so the cost (a walk over the heap) is paid only as load falls. */
#include "memtrim.h"

#include "buf.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MEMTRIM_PERIOD 1.0

/* One per worker: each trims its own buffer pool (thread-local) on its own loop. */
static _Thread_local ev_timer timer;
static _Thread_local const evp_runtime *runtime;
static _Thread_local size_t high; /* most sessions seen since the last trim */

int evp_memtrim_tick(size_t n_sessions)
{
    if (n_sessions > high)
        high = n_sessions;
    size_t spare = evp_buf_pool_shrink();
    if (spare == 0 && (high == 0 || n_sessions > high / 2))
        return 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    high = n_sessions;
    return 1;
}

static void on_tick(EV_P_ ev_timer *w, int revents)
{
    evp_memtrim_tick(runtime->n_sessions);
}

void evp_memtrim_start(struct ev_loop *loop, const evp_runtime *rt)
{
    runtime = rt;
    high = 0;
    ev_timer_init(&timer, on_tick, MEMTRIM_PERIOD, MEMTRIM_PERIOD);
    ev_timer_start(loop, &timer);
}

void evp_memtrim_stop(struct ev_loop *loop)
{
    ev_timer_stop(loop, &timer);
}
