/* Host services for plugins: logging, randomness, clocks, allocation, buffers, replay sets,
 * the state store, V2Ray's named counters. */
#include "host.h"

#include "buf.h"
#include "host_mem.h"
#include "log.h"
#include "replay_store.h"
#include "state_store.h"
#include "v2stats.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

static void host_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

static int64_t host_unix_time(void)
{
    return (int64_t)time(NULL);
}

static double host_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Callers without a module (tests) allocate against this table's counters. */
static evp_host_table services = {.services = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_host),
    .log = evp_log,
    .log_enabled = evp_log_enabled,
    .random_bytes = host_random,
    .unix_time = host_unix_time,
    .monotonic = host_monotonic,
    .alloc = malloc,
    .calloc = calloc,
    .realloc = realloc,
    .free = free,
    .buf_reserve = evp_buf_reserve,
    .replay_seen = evp_host_replay_seen,
    .replay_peek = evp_host_replay_peek,
    .log_escape = evp_log_escape,
    .mem_alloc = evp_host_mem_alloc,
    .mem_calloc = evp_host_mem_calloc,
    .mem_realloc = evp_host_mem_realloc,
    .mem_free = evp_host_mem_free,
    .state_put = evp_host_state_put,
    .state_get = evp_host_state_get,
    .state_del = evp_host_state_del,
    .state_each = evp_host_state_each,
    .stats_visit = evp_v2stats_visit,
}};

const evp_host *evp_host_services(void)
{
    return &services.services;
}
