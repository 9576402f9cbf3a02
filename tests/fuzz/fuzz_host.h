/* A deterministic evp_host for fuzz targets: random bytes from a counter-seeded stream that
 * fuzz_host_reset() rewinds (so one input always takes the same path, and a crash replays),
 * a fixed clock, every log level "enabled" but formatted into a scratch buffer and dropped
 * (format bugs still show under the sanitizers), realloc-backed buffers with a size cap,
 * replay sets that forget everything (one input must not change the next one's path), and
 * the core's log escaping (core/log.c is linked in).
 * Header-only: each fuzz target is one translation unit. */
#ifndef FUZZ_HOST_H
#define FUZZ_HOST_H

#include "evproxy/plugin.h"
#include "log.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixed wall clock the targets run at (any value inside the AuthID window works, as
 * long as headers are made and checked at the same time). */
#define FUZZ_NOW 1700000000
/* No output a target produces legitimately gets near this; beyond it is a bug. */
#define FUZZ_BUF_CAP (64u << 20)

static uint64_t fuzz_rand_counter;

/* Rewinds the random stream: call at the start of every input. */
static inline void fuzz_host_reset(void)
{
    fuzz_rand_counter = 0;
}

static inline void fuzz_host_random(void *buf, size_t len)
{
    uint8_t seed[randombytes_SEEDBYTES] = {0};
    memcpy(seed, &fuzz_rand_counter, sizeof(fuzz_rand_counter));
    fuzz_rand_counter++;
    randombytes_buf_deterministic(buf, len, seed);
}

static inline int fuzz_host_log_enabled(int level)
{
    (void)level;
    return 1;
}

static inline void fuzz_host_log(int level, const char *fmt, ...) EVP_PRINTF(2, 3);
static inline void fuzz_host_log(int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "[fuzz] %s\n", line);
}

static inline int64_t fuzz_host_unix_time(void)
{
    return FUZZ_NOW;
}

static inline double fuzz_host_monotonic(void)
{
    return 1000.0;
}

static inline uint8_t *fuzz_host_buf_reserve(evp_buf *b, size_t n)
{
    if (b->data != NULL && b->cap - b->len >= n)
        return b->data + b->len; /* (NULL + 0 would be undefined) */
    if (n > FUZZ_BUF_CAP - b->len)
        abort(); /* a codec asked for absurd room: report it as a crash */
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

static inline int fuzz_host_replay_seen(const char *ns, const uint8_t *key, size_t key_len,
                                        uint32_t window_s)
{
    return 0; /* never seen */
}

static inline int fuzz_host_replay_peek(const char *ns, const uint8_t *key, size_t key_len,
                                        uint32_t window_s)
{
    return 0;
}

/* The counted allocator (ABI 1.3), uncounted here: libc's, so ASan sees each block. */
static inline void *fuzz_host_mem_alloc(const evp_host *self, size_t size)
{
    return malloc(size);
}

static inline void *fuzz_host_mem_calloc(const evp_host *self, size_t n, size_t size)
{
    return calloc(n, size);
}

static inline void *fuzz_host_mem_realloc(const evp_host *self, void *p, size_t size)
{
    return realloc(p, size);
}

static inline void fuzz_host_mem_free(const evp_host *self, void *p)
{
    free(p);
}

/* The services table (static storage). */
static inline const evp_host *fuzz_host_get(void)
{
    static const evp_host host = {
        .abi_major = EVP_ABI_MAJOR,
        .abi_minor = EVP_ABI_MINOR,
        .size = sizeof(evp_host),
        .log = fuzz_host_log,
        .log_enabled = fuzz_host_log_enabled,
        .random_bytes = fuzz_host_random,
        .unix_time = fuzz_host_unix_time,
        .monotonic = fuzz_host_monotonic,
        .alloc = malloc,
        .calloc = calloc,
        .realloc = realloc,
        .free = free,
        .buf_reserve = fuzz_host_buf_reserve,
        .replay_seen = fuzz_host_replay_seen,
        .replay_peek = fuzz_host_replay_peek,
        .log_escape = evp_log_escape,
        .mem_alloc = fuzz_host_mem_alloc,
        .mem_calloc = fuzz_host_mem_calloc,
        .mem_realloc = fuzz_host_mem_realloc,
        .mem_free = fuzz_host_mem_free,
    };
    return &host;
}

/* Appends n bytes to b; 0, or -1 when out of memory. */
static inline int fuzz_buf_put(evp_buf *b, const void *p, size_t n)
{
    uint8_t *d = fuzz_host_buf_reserve(b, n);
    if (d == NULL)
        return -1;
    if (n)
        memcpy(d, p, n);
    b->len += n;
    return 0;
}

/* Drops the first n bytes of b. */
static inline void fuzz_buf_consume(evp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static inline void fuzz_buf_free(evp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Checks what the ABI promises about one hook call: consumed never exceeds the input, and
 * every buffer's length stays within its capacity. Aborts (a fuzzer "crash") otherwise. */
static inline void fuzz_check_io(const evp_io *io)
{
    if (io->consumed > io->in_len)
        abort();
    if (io->out != NULL && io->out->len > io->out->cap)
        abort();
    if (io->back != NULL && io->back->len > io->back->cap)
        abort();
    if (memchr(io->reason, '\0', sizeof(io->reason)) == NULL)
        abort();
}

#endif
