/* The host's "seen recently" store. Each set is exact, in three rotating generations: a key
 * inserted during generation e is forgotten when generation e+3 starts, so with generations
 * of half the window it is remembered for at least the window and at most 1.5 times it.
 * Clearing a generation frees it, so memory follows load, and each generation holds at most
 * max keys (beyond that: FULL, fail closed, as V2Ray's full cuckoo filter does). Keys are
 * stored as keyed BLAKE2b-128 digests: no secret a plugin hands in stays in memory, and the
 * digest's own bits index the table. */
#include "replay_store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GENS 3
#define KEY_SIZE 16
#define MIN_CAP 1024

typedef struct gen {
    uint8_t *keys; /* cap slots of KEY_SIZE bytes; all-zero marks an empty slot */
    size_t cap;    /* power of two, or 0 */
    size_t count;
    int has_zero; /* the all-zero digest, which cannot be stored in a slot */
} gen;

typedef struct genset {
    pthread_mutex_t lock;
    int64_t interval;
    size_t max;
    int64_t epoch; /* now / interval of the current generation */
    int started;
    int cur;
    gen g[GENS];
    uint8_t seed[crypto_generichash_KEYBYTES];
} genset;

typedef struct named_set {
    char ns[EVP_SEEN_NS_MAX + 1];
    uint32_t window;
    genset s;
} named_set;

struct evp_seen_store {
    pthread_mutex_t lock; /* guards the set list; each set has its own lock */
    size_t max;
    size_t n;
    named_set *sets[EVP_SEEN_MAX_SETS];
};

static int genset_init(genset *s, int64_t interval, size_t max)
{
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return -1;
    s->interval = interval;
    s->max = max;
    randombytes_buf(s->seed, sizeof s->seed);
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

static int is_zero(const uint8_t *k)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < KEY_SIZE; i++)
        acc |= k[i];
    return acc == 0;
}

static uint64_t slot_hash(const uint8_t *k)
{
    uint64_t h;
    memcpy(&h, k, sizeof h); /* a keyed digest: its bits are already uniform */
    return h;
}

/* Slot index of key in g, or the empty slot where it would go. g->cap > 0. */
static size_t gen_probe(const gen *g, const uint8_t *key)
{
    size_t mask = g->cap - 1;
    for (size_t i = (size_t)slot_hash(key) & mask;; i = (i + 1) & mask) {
        const uint8_t *slot = g->keys + i * KEY_SIZE;
        if (is_zero(slot) || memcmp(slot, key, KEY_SIZE) == 0)
            return i;
    }
}

static int gen_contains(const gen *g, const uint8_t *key, int zero)
{
    if (zero)
        return g->has_zero;
    if (g->cap == 0)
        return 0;
    return !is_zero(g->keys + gen_probe(g, key) * KEY_SIZE);
}

/* Doubles g (load stays <= 1/2). 0, or -1 when out of memory. */
static int gen_grow(gen *g)
{
    gen bigger = {NULL, g->cap ? g->cap * 2 : MIN_CAP, g->count, g->has_zero};
    bigger.keys = calloc(bigger.cap, KEY_SIZE);
    if (!bigger.keys)
        return -1;
    for (size_t i = 0; i < g->cap; i++) {
        const uint8_t *k = g->keys + i * KEY_SIZE;
        if (!is_zero(k))
            memcpy(bigger.keys + gen_probe(&bigger, k) * KEY_SIZE, k, KEY_SIZE);
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

/* Adds digest k (not in g) to g: EVP_SEEN_NEW, or EVP_SEEN_FULL at the bound. */
static int gen_insert(gen *g, size_t max, const uint8_t *k, int zero)
{
    if (zero) {
        g->has_zero = 1;
        return EVP_SEEN_NEW;
    }
    if (g->count >= max || ((g->count + 1) * 2 > g->cap && gen_grow(g) != 0))
        return EVP_SEEN_FULL;
    memcpy(g->keys + gen_probe(g, k) * KEY_SIZE, k, KEY_SIZE);
    g->count++;
    return EVP_SEEN_NEW;
}

static int genset_check(genset *s, const uint8_t *key, size_t len, int64_t now, int record)
{
    uint8_t k[KEY_SIZE];
    crypto_generichash(k, sizeof k, key, len, s->seed, sizeof s->seed);
    int rc = EVP_SEEN_NEW, zero = is_zero(k);
    pthread_mutex_lock(&s->lock);
    genset_rotate(s, now);
    for (int i = 0; i < GENS && rc == EVP_SEEN_NEW; i++)
        if (gen_contains(&s->g[i], k, zero))
            rc = EVP_SEEN_SEEN;
    if (rc == EVP_SEEN_NEW && record)
        rc = gen_insert(&s->g[s->cur], s->max, k, zero);
    pthread_mutex_unlock(&s->lock);
    sodium_memzero(k, sizeof k);
    return rc;
}

evp_seen_store *evp_seen_store_new(size_t max_entries)
{
    evp_seen_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return NULL;
    }
    st->max = max_entries ? max_entries : EVP_SEEN_DEFAULT_MAX;
    return st;
}

void evp_seen_store_free(evp_seen_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        genset_destroy(&st->sets[i]->s);
        free(st->sets[i]);
    }
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* The set (ns, window), created on first use; NULL when it cannot be. */
static named_set *find_set(evp_seen_store *st, const char *ns, uint32_t window)
{
    named_set *found = NULL;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n && found == NULL; i++)
        if (st->sets[i]->window == window && strcmp(st->sets[i]->ns, ns) == 0)
            found = st->sets[i];
    if (found == NULL && st->n < EVP_SEEN_MAX_SETS) {
        found = malloc(sizeof *found);
        if (found != NULL && genset_init(&found->s, (window + 1) / 2, st->max) == 0) {
            snprintf(found->ns, sizeof found->ns, "%s", ns);
            found->window = window;
            st->sets[st->n++] = found;
        } else {
            free(found);
            found = NULL;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return found;
}

int evp_seen_check(evp_seen_store *st, const char *ns, const uint8_t *key, size_t key_len,
                   uint32_t window_s, int64_t now, int record)
{
    if (st == NULL || ns == NULL || strlen(ns) > EVP_SEEN_NS_MAX || (key == NULL && key_len) ||
        window_s < 2)
        return EVP_SEEN_FULL;
    named_set *set = find_set(st, ns, window_s);
    if (set == NULL)
        return EVP_SEEN_FULL;
    return genset_check(&set->s, key, key_len, now, record);
}

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static evp_seen_store *global_store;

evp_seen_store *evp_seen_global(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_store == NULL)
        global_store = evp_seen_store_new(0);
    evp_seen_store *st = global_store;
    pthread_mutex_unlock(&global_lock);
    return st;
}

int evp_host_replay_seen(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s)
{
    return evp_seen_check(evp_seen_global(), ns, key, key_len, window_s, (int64_t)time(NULL), 1);
}

int evp_host_replay_peek(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s)
{
    return evp_seen_check(evp_seen_global(), ns, key, key_len, window_s, (int64_t)time(NULL),
                          0) == EVP_SEEN_SEEN;
}
