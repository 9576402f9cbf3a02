/* A test evp_host for driving plugins in memory: logs to stderr, libsodium randomness,
 * a clock the test controls (test_host_now), realloc-backed buffers, the host's replay
 * store (core/plugin_host/replay_store.c) on that clock, the host's state store on the
 * monotonic one (skewed by test_host_mono_skew). Header-only (static
 * functions) because only tests/check_*.c files are built. */
#ifndef TEST_HOST_H
#define TEST_HOST_H

#include "evproxy/plugin.h"
#include "log.h"
#include "replay_store.h"
#include "state_store.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Everything is static inline so that a test including this and using only part of it
 * gets no unused-function warnings. */

/* The wall clock the test host reports; 0 means "use the real time". */
static inline int64_t *test_host_clock(void)
{
    static int64_t now;
    return &now;
}

/* Messages at or below this level are printed (default: errors only, to keep runs quiet). */
static inline int *test_host_level(void)
{
    static int level = EVP_LOG_ERROR;
    return &level;
}

static inline int test_host_log_enabled(int level)
{
    return level <= *test_host_level();
}

/* The last message logged, at any level (for tests of what plugins log). */
static inline char *test_host_last_log(void)
{
    static char line[1024];
    return line;
}

static inline void test_host_log(int level, const char *fmt, ...) EVP_PRINTF(2, 3);
static inline void test_host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(test_host_last_log(), 1024, fmt, ap);
    va_end(ap);
    if (test_host_log_enabled(level))
        fprintf(stderr, "[test] %s\n", test_host_last_log());
}

static inline void test_host_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

static inline int64_t test_host_unix_time(void)
{
    int64_t now = *test_host_clock();
    return now ? now : (int64_t)time(NULL);
}

/* Seconds added to the monotonic clock, so a test can jump past an expiry. */
static inline double *test_host_mono_skew(void)
{
    static double skew;
    return &skew;
}

static inline double test_host_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + *test_host_mono_skew();
}

static inline uint8_t *test_host_buf_reserve(evp_buf *b, size_t n)
{
    if (b->data != NULL && b->cap - b->len >= n) /* NULL + 0 would be undefined */
        return b->data + b->len;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return NULL;
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

static inline int test_host_replay_seen(const char *ns, const uint8_t *key, size_t key_len,
                                        uint32_t window_s)
{
    return evp_seen_check(evp_seen_global(), ns, key, key_len, window_s, test_host_unix_time(),
                          1);
}

static inline int test_host_replay_peek(const char *ns, const uint8_t *key, size_t key_len,
                                        uint32_t window_s)
{
    return evp_seen_check(evp_seen_global(), ns, key, key_len, window_s, test_host_unix_time(),
                          0) == EVP_SEEN_SEEN;
}

/* The state store (ABI 1.4): the host's global one, on the test's monotonic clock. */
static inline int test_host_state_put(const char *ns, const void *key, size_t key_len,
                                      const void *val, size_t val_len, uint32_t ttl_s,
                                      unsigned flags)
{
    return evp_state_put(evp_state_global(), ns, key, key_len, val, val_len, ttl_s, flags,
                         test_host_monotonic());
}

static inline long test_host_state_get(const char *ns, const void *key, size_t key_len,
                                       void *val, size_t cap)
{
    return evp_state_get(evp_state_global(), ns, key, key_len, val, cap, test_host_monotonic());
}

static inline int test_host_state_del(const char *ns, const void *key, size_t key_len)
{
    return evp_state_del(evp_state_global(), ns, key, key_len, test_host_monotonic());
}

static inline uint64_t test_host_state_each(const char *ns, evp_state_fn fn, void *ctx)
{
    return evp_state_each(evp_state_global(), ns, fn, ctx, test_host_monotonic());
}

/* The counted allocator (ABI 1.3), uncounted here: libc's, so ASan sees each block. */
static inline void *test_host_mem_alloc(const evp_host *self, size_t size)
{
    return malloc(size);
}

static inline void *test_host_mem_calloc(const evp_host *self, size_t n, size_t size)
{
    return calloc(n, size);
}

static inline void *test_host_mem_realloc(const evp_host *self, void *p, size_t size)
{
    return realloc(p, size);
}

static inline void test_host_mem_free(const evp_host *self, void *p)
{
    free(p);
}

/* The services table to pass to instance_new (static storage). */
static inline const evp_host *test_host_get(void)
{
    static const evp_host host = {
        .abi_major = EVP_ABI_MAJOR,
        .abi_minor = EVP_ABI_MINOR,
        .size = sizeof(evp_host),
        .log = test_host_log,
        .log_enabled = test_host_log_enabled,
        .random_bytes = test_host_random,
        .unix_time = test_host_unix_time,
        .monotonic = test_host_monotonic,
        .alloc = malloc,
        .calloc = calloc,
        .realloc = realloc,
        .free = free,
        .buf_reserve = test_host_buf_reserve,
        .replay_seen = test_host_replay_seen,
        .replay_peek = test_host_replay_peek,
        .log_escape = evp_log_escape,
        .mem_alloc = test_host_mem_alloc,
        .mem_calloc = test_host_mem_calloc,
        .mem_realloc = test_host_mem_realloc,
        .mem_free = test_host_mem_free,
        .state_put = test_host_state_put,
        .state_get = test_host_state_get,
        .state_del = test_host_state_del,
        .state_each = test_host_state_each,
    };
    return &host;
}

/* Drops the first n bytes of b (test-side consumer). */
static inline void test_buf_consume(evp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    for (size_t i = n; i < b->len; i++)
        b->data[i - n] = b->data[i];
    b->len -= n;
}

/* Frees b's storage. */
static inline void test_buf_free(evp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

#endif
