/* What dropping a quiet session's ciphers costs when it wakes: ns per rebuild of one body's
 * expanded state (allocation, gcm_aes128_set_key or the CFB's AES schedule, then the wipe and
 * free when it goes idle again), beside sealing one full chunk, and the bytes it holds while
 * active. Reports only, asserts nothing. Build and run from the tree's root:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Icore/include -Icore/plugin_host -Iplugin/vmess \
 *      contrib/bench/rebuild_cost.c core/plugin_host/buf.c \
 *      plugin/vmess/{body,body_cipher,aes_cfb,shake128,nonkey_random,mem}.c \
 *      -lnettle -lsodium -o build/rebuild_cost && build/rebuild_cost */
#include "body.h"
#include "body_cipher.h"
#include "buf.h"
#include "mem.h"

#include <nettle/gcm.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 100000
#define BATCHES 7

static void *plain_alloc(const evp_host *self, size_t n)
{
    return malloc(n);
}

static void plain_free(const evp_host *self, void *p)
{
    free(p);
}

static const evp_host host = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_host),
    .buf_reserve = evp_buf_reserve,
    .mem_alloc = plain_alloc,
    .mem_free = plain_free,
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The fastest of BATCHES batches of ROUNDS calls of fn(arg), in ns per call: the least
 * disturbed by other load on a shared machine. */
static double best_ns(void (*fn)(void *), void *arg)
{
    double best = 1e18;
    for (int k = 0; k < BATCHES; k++) {
        double t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++)
            fn(arg);
        double per = (now_ns() - t0) / ROUNDS;
        best = per < best ? per : best;
    }
    return best;
}

static void rebuild_and_drop(void *b)
{
    if (body_warm(b, &host) != 0)
        abort();
    vmess_body_idle(b);
}

static void seal_chunk(void *b)
{
    static uint8_t data[VMESS_BODY_STREAM_CHUNK_BUF];
    static evp_buf out;
    size_t used;
    out.len = 0;
    if (vmess_body_seal(b, &host, data, ((vmess_body *)b)->max_payload, &used, &out) != EVP_OK)
        abort();
}

static void gcm_key_only(void *ctx)
{
    static const uint8_t key[16] = {1};
    gcm_aes128_set_key(ctx, key);
}

static void measure(const char *name, uint8_t sec, uint8_t opt)
{
    vmess_body_params p;
    memset(&p, 0, sizeof p);
    p.security = sec;
    p.option = opt;
    randombytes_buf(p.key, sizeof p.key);
    randombytes_buf(p.len_key, sizeof p.len_key);
    randombytes_buf(p.iv, sizeof p.iv);
    vmess_body b;
    if (vmess_body_init(&b, &p) != 0)
        abort();
    double rebuild = best_ns(rebuild_and_drop, &b);
    double chunk = best_ns(seal_chunk, &b);
    printf("%-34s %5zu bytes active, %3zu compact; rebuild+wipe+free %5.0f ns; "
           "sealing one %u-byte chunk %5.0f ns\n",
           name, vmess_body_hot_size(&b), sizeof b, rebuild, b.max_payload, chunk);
    vmess_body_wipe(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    vmess_mem_adopt(&host);
    measure("aes-128-gcm", VMESS_SEC_GCM, 0x0D);
    measure("aes-128-gcm + AuthenticatedLength", VMESS_SEC_GCM, 0x1D);
    measure("chacha20-poly1305", VMESS_SEC_CHACHA, 0x0D);
    measure("aes-128-cfb (legacy)", VMESS_SEC_LEGACY, 0x0D);
    struct gcm_aes128_ctx ctx;
    printf("gcm_aes128_set_key alone: %.0f ns\n", best_ns(gcm_key_only, &ctx));
    return 0;
}
