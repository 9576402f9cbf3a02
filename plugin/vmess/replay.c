/* Replay filters as exact sets in three rotating generations: a key inserted during
 * generation e is forgotten when generation e+3 starts, so it is remembered for at least
 * two intervals and at most three. Clearing a generation frees it, so memory follows load
 * and each generation holds at most max_entries keys (beyond that: FULL, fail closed, as
 * V2Ray's full cuckoo filter does). */
#include "replay.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define GENS 3
#define AUTHID_INTERVAL 120 /* x2 = the 240 s memory §5 allows */
#define SESSION_INTERVAL 90 /* x2 = the 3 min session history of §4 */
#define KEY_SIZE 16
#define MIN_CAP 1024

typedef struct gen {
    uint8_t *keys; /* cap slots of ksize bytes; all-zero marks an empty slot */
    size_t cap;    /* power of two, or 0 */
    size_t count;
    int has_zero; /* the all-zero key, which cannot be stored in a slot */
} gen;

typedef struct genset {
    pthread_mutex_t lock;
    size_t ksize;
    int64_t interval;
    size_t max;
    int64_t epoch; /* now / interval of the current generation */
    int started;
    int cur;
    gen g[GENS];
    uint8_t seed[crypto_shorthash_KEYBYTES];
} genset;

struct vmess_replay {
    genset s;
};

struct vmess_sessions {
    genset s;
};

static int genset_init(genset *s, size_t ksize, int64_t interval, const uint8_t seed[16],
                       size_t max)
{
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    s->ksize = ksize;
    s->interval = interval;
    s->max = max ? max : VMESS_REPLAY_DEFAULT_MAX;
    memcpy(s->seed, seed, sizeof s->seed);
    return 0;
}

static void gen_clear(gen *g)
{
    free(g->keys);
    memset(g, 0, sizeof *g);
}

static void genset_destroy(genset *s)
{
    for (int i = 0; i < GENS; i++)
        gen_clear(&s->g[i]);
    pthread_mutex_destroy(&s->lock);
    sodium_memzero(s->seed, sizeof s->seed);
}

static int is_zero(const uint8_t *k, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= k[i];
    return acc == 0;
}

/* Slot index of key in g, or the empty slot where it would go. g->cap > 0. */
static size_t gen_probe(const gen *g, size_t ksize, const uint8_t *key, uint64_t h)
{
    size_t mask = g->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const uint8_t *slot = g->keys + i * ksize;
        if (is_zero(slot, ksize) || memcmp(slot, key, ksize) == 0)
            return i;
    }
}

static uint64_t key_hash(const genset *s, const uint8_t *key)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, key, s->ksize, s->seed);
    memcpy(&h, out, sizeof h);
    return h;
}

static int gen_contains(const genset *s, const gen *g, const uint8_t *key, int zero, uint64_t h)
{
    if (zero)
        return g->has_zero;
    if (g->cap == 0)
        return 0;
    size_t i = gen_probe(g, s->ksize, key, h);
    return !is_zero(g->keys + i * s->ksize, s->ksize);
}

/* Doubles g (load stays <= 1/2). 0, or -1 when out of memory. */
static int gen_grow(const genset *s, gen *g)
{
    gen bigger = {NULL, g->cap ? g->cap * 2 : MIN_CAP, g->count, g->has_zero};
    bigger.keys = calloc(bigger.cap, s->ksize);
    if (!bigger.keys)
        return -1;
    for (size_t i = 0; i < g->cap; i++) {
        const uint8_t *k = g->keys + i * s->ksize;
        if (is_zero(k, s->ksize))
            continue;
        size_t j = gen_probe(&bigger, s->ksize, k, key_hash(s, k));
        memcpy(bigger.keys + j * s->ksize, k, s->ksize);
    }
    free(g->keys);
    *g = bigger;
    return 0;
}

/* Moves the current generation forward to now's epoch, clearing the ones it reuses. */
static void genset_rotate(genset *s, int64_t now)
{
    int64_t epoch = now >= 0 ? now / s->interval : -((-now + s->interval - 1) / s->interval);
    if (!s->started) {
        s->started = 1;
        s->epoch = epoch;
        return;
    }
    if (epoch <= s->epoch)
        return; /* same epoch, or the clock stepped back: keep everything */
    int64_t steps = epoch - s->epoch;
    for (int64_t i = 0; i < steps && i < GENS; i++) {
        s->cur = (s->cur + 1) % GENS;
        gen_clear(&s->g[s->cur]);
    }
    s->epoch = epoch;
}

static int genset_check(genset *s, const uint8_t *key, int64_t now)
{
    int rc = VMESS_REPLAY_NEW;
    int zero = is_zero(key, s->ksize);
    uint64_t h = zero ? 0 : key_hash(s, key);
    pthread_mutex_lock(&s->lock);
    genset_rotate(s, now);
    for (int i = 0; i < GENS; i++) {
        if (gen_contains(s, &s->g[i], key, zero, h)) {
            rc = VMESS_REPLAY_SEEN;
            goto out;
        }
    }
    gen *g = &s->g[s->cur];
    if (zero) {
        g->has_zero = 1;
        goto out;
    }
    if (g->count >= s->max) {
        rc = VMESS_REPLAY_FULL;
        goto out;
    }
    if ((g->count + 1) * 2 > g->cap && gen_grow(s, g) != 0) {
        rc = VMESS_REPLAY_FULL;
        goto out;
    }
    memcpy(g->keys + gen_probe(g, s->ksize, key, h) * s->ksize, key, s->ksize);
    g->count++;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

vmess_replay *vmess_replay_new(const uint8_t seed[16], size_t max_entries)
{
    vmess_replay *r = malloc(sizeof *r);
    if (r && genset_init(&r->s, KEY_SIZE, AUTHID_INTERVAL, seed, max_entries) != 0) {
        free(r);
        r = NULL;
    }
    return r;
}

void vmess_replay_free(vmess_replay *r)
{
    if (!r)
        return;
    genset_destroy(&r->s);
    free(r);
}

int vmess_replay_check(vmess_replay *r, const uint8_t authid[16], int64_t now)
{
    return genset_check(&r->s, authid, now);
}

vmess_sessions *vmess_sessions_new(const uint8_t seed[16], size_t max_entries)
{
    vmess_sessions *s = malloc(sizeof *s);
    if (s && genset_init(&s->s, KEY_SIZE, SESSION_INTERVAL, seed, max_entries) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

void vmess_sessions_free(vmess_sessions *s)
{
    if (!s)
        return;
    genset_destroy(&s->s);
    free(s);
}

int vmess_sessions_check(vmess_sessions *s, const uint8_t uuid[16], const uint8_t key[16],
                         const uint8_t iv[16], int64_t now)
{
    /* Store a keyed 128-bit digest, not the body key itself: no secret stays in the set. */
    uint8_t k[KEY_SIZE];
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->s.seed, sizeof s->s.seed, sizeof k);
    crypto_generichash_update(&st, uuid, 16);
    crypto_generichash_update(&st, key, 16);
    crypto_generichash_update(&st, iv, 16);
    crypto_generichash_final(&st, k, sizeof k);
    sodium_memzero(&st, sizeof st);
    return genset_check(&s->s, k, now);
}
