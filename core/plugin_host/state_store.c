/* The host's keyed state store. Each namespace is a chained hash table keyed by SipHash
 * (seeded per store) of the key, so a lookup costs the same with ten values or a hundred
 * thousand (a detour target publishes every configured user with an email). One lock guards
 * the whole store: every operation is short. Expired entries go at the first access to their
 * namespace once the earliest expiry has passed. */
#include "state_store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    struct entry *next; /* in its bucket */
    uint64_t hash;
    uint8_t *val; /* owned, val_len bytes (NULL when 0) */
    size_t key_len, val_len;
    double expires; /* monotonic seconds; 0: never */
    uint8_t key[];
} entry;

typedef struct name_space {
    char name[EVP_STATE_NS_MAX + 1];
    entry **buckets;
    size_t n_buckets; /* 0 or a power of two */
    size_t n;
    uint64_t changes;
    double next_expiry; /* no entry expires before this; 0: none has a ttl */
} name_space;

struct evp_state_store {
    pthread_mutex_t lock; /* guards everything below */
    size_t max, total;
    size_t n_ns;
    name_space ns[EVP_STATE_MAX_NS];
    uint8_t seed[crypto_shorthash_KEYBYTES];
};

/* Wipes and frees e. */
static void entry_free(entry *e)
{
    if (e->val != NULL)
        sodium_memzero(e->val, e->val_len);
    free(e->val);
    sodium_memzero(e->key, e->key_len);
    free(e);
}

static uint64_t key_hash(const evp_state_store *st, const void *key, size_t key_len)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, key_len, st->seed);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v;
}

/* The link that points at the entry for key in s (*link is NULL when there is none), or
 * NULL when s has no buckets. */
static entry **ns_link(name_space *s, uint64_t hash, const void *key, size_t key_len)
{
    if (s == NULL || s->n_buckets == 0)
        return NULL;
    entry **p = &s->buckets[hash & (s->n_buckets - 1)];
    while (*p != NULL && ((*p)->hash != hash || (*p)->key_len != key_len ||
                          memcmp((*p)->key, key, key_len) != 0))
        p = &(*p)->next;
    return p;
}

/* Unlinks and frees the entry *link points at. */
static void ns_remove(evp_state_store *st, name_space *s, entry **link)
{
    entry *e = *link;
    *link = e->next;
    entry_free(e);
    s->n--;
    st->total--;
    s->changes++;
}

/* Drops s's entries that expired by now, once the earliest expiry has passed. */
static void ns_expire(evp_state_store *st, name_space *s, double now)
{
    if (s->next_expiry == 0 || now < s->next_expiry)
        return;
    s->next_expiry = 0;
    for (size_t b = 0; b < s->n_buckets; b++) {
        for (entry **p = &s->buckets[b]; *p != NULL;) {
            double x = (*p)->expires;
            if (x != 0 && now >= x) {
                ns_remove(st, s, p);
                continue;
            }
            if (x != 0 && (s->next_expiry == 0 || x < s->next_expiry))
                s->next_expiry = x;
            p = &(*p)->next;
        }
    }
}

/* Doubles s's buckets when it holds twice as many entries; 0, or -1 when out of memory. */
static int ns_grow(name_space *s)
{
    if (s->n < 2 * s->n_buckets)
        return 0;
    size_t nb = s->n_buckets ? 2 * s->n_buckets : 16;
    entry **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < s->n_buckets; i++) {
        while (s->buckets[i] != NULL) {
            entry *e = s->buckets[i];
            s->buckets[i] = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = nb;
    return 0;
}

static int bad_key(const char *ns, const void *key, size_t key_len)
{
    return ns == NULL || strlen(ns) > EVP_STATE_NS_MAX || key == NULL || key_len == 0 ||
           key_len > EVP_STATE_KEY_MAX;
}

/* The namespace called name, created when create is set and there is room; expired entries
 * dropped. Called with the lock held; NULL when absent. */
static name_space *ns_find(evp_state_store *st, const char *name, int create, double now)
{
    for (size_t i = 0; i < st->n_ns; i++) {
        if (strcmp(st->ns[i].name, name) == 0) {
            ns_expire(st, &st->ns[i], now);
            return &st->ns[i];
        }
    }
    if (!create || st->n_ns == EVP_STATE_MAX_NS)
        return NULL;
    name_space *s = &st->ns[st->n_ns++];
    memset(s, 0, sizeof *s);
    strcpy(s->name, name); /* length checked by bad_key */
    return s;
}

evp_state_store *evp_state_store_new(size_t max_entries)
{
    evp_state_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return NULL;
    }
    st->max = max_entries ? max_entries : EVP_STATE_DEFAULT_MAX;
    randombytes_buf(st->seed, sizeof st->seed);
    return st;
}

void evp_state_store_free(evp_state_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_ns; i++) {
        name_space *s = &st->ns[i];
        for (size_t b = 0; b < s->n_buckets; b++) {
            while (s->buckets[b] != NULL) {
                entry *e = s->buckets[b];
                s->buckets[b] = e->next;
                entry_free(e);
            }
        }
        free(s->buckets);
    }
    pthread_mutex_destroy(&st->lock);
    sodium_memzero(st->seed, sizeof st->seed);
    free(st);
}

/* A copy of n bytes of p (NULL when n is 0), or NULL with *oom set. */
static uint8_t *copy_bytes(const void *p, size_t n, int *oom)
{
    if (n == 0)
        return NULL;
    uint8_t *c = malloc(n);
    if (c == NULL)
        *oom = 1;
    else
        memcpy(c, p, n);
    return c;
}

/* Adds an entry for key (not in s) to s; NULL when the store is full or out of memory. */
static entry *ns_add(evp_state_store *st, name_space *s, uint64_t hash, const void *key,
                     size_t key_len)
{
    if (st->total >= st->max || ns_grow(s) != 0)
        return NULL;
    entry *e = calloc(1, sizeof *e + key_len);
    if (e == NULL)
        return NULL;
    e->hash = hash;
    e->key_len = key_len;
    memcpy(e->key, key, key_len);
    e->next = s->buckets[hash & (s->n_buckets - 1)];
    s->buckets[hash & (s->n_buckets - 1)] = e;
    s->n++;
    st->total++;
    s->changes++;
    return e;
}

int evp_state_put(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                  const void *val, size_t val_len, uint32_t ttl_s, unsigned flags, double now)
{
    if (st == NULL || bad_key(ns, key, key_len) || val_len > EVP_STATE_VALUE_MAX ||
        (val == NULL && val_len > 0))
        return -1;
    int rc = -1, oom = 0;
    uint8_t *copy = copy_bytes(val, val_len, &oom); /* outside the lock */
    if (oom)
        return -1;
    uint64_t hash = key_hash(st, key, key_len);
    pthread_mutex_lock(&st->lock);
    name_space *s = ns_find(st, ns, 1, now);
    entry **link = ns_link(s, hash, key, key_len);
    entry *e = link != NULL ? *link : NULL;
    if (e != NULL && (flags & EVP_STATE_CREATE)) {
        rc = 1;
        goto out;
    }
    if (e == NULL && s != NULL)
        e = ns_add(st, s, hash, key, key_len);
    if (e == NULL)
        goto out;
    int same = e->val_len == val_len && (val_len == 0 || memcmp(e->val, copy, val_len) == 0);
    if (!same) {
        if (e->val != NULL)
            sodium_memzero(e->val, e->val_len);
        free(e->val);
        e->val = copy;
        e->val_len = val_len;
        copy = NULL;
        s->changes++;
    }
    e->expires = ttl_s ? now + ttl_s : 0;
    if (e->expires != 0 && (s->next_expiry == 0 || e->expires < s->next_expiry))
        s->next_expiry = e->expires;
    rc = 0;
out:
    pthread_mutex_unlock(&st->lock);
    if (copy != NULL)
        sodium_memzero(copy, val_len);
    free(copy);
    return rc;
}

long evp_state_get(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                   void *val, size_t cap, double now)
{
    if (st == NULL || bad_key(ns, key, key_len) || (val == NULL && cap > 0))
        return -1;
    long len = -1;
    uint64_t hash = key_hash(st, key, key_len);
    pthread_mutex_lock(&st->lock);
    entry **link = ns_link(ns_find(st, ns, 0, now), hash, key, key_len);
    const entry *e = link != NULL ? *link : NULL;
    if (e != NULL) {
        size_t n = e->val_len < cap ? e->val_len : cap;
        if (n > 0)
            memcpy(val, e->val, n);
        len = (long)e->val_len;
    }
    pthread_mutex_unlock(&st->lock);
    return len;
}

int evp_state_del(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                  double now)
{
    if (st == NULL || bad_key(ns, key, key_len))
        return -1;
    int rc = -1;
    uint64_t hash = key_hash(st, key, key_len);
    pthread_mutex_lock(&st->lock);
    name_space *s = ns_find(st, ns, 0, now);
    entry **link = ns_link(s, hash, key, key_len);
    if (link != NULL && *link != NULL) {
        ns_remove(st, s, link);
        rc = 0;
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

uint64_t evp_state_each(evp_state_store *st, const char *ns, evp_state_fn fn, void *ctx,
                        double now)
{
    if (st == NULL || ns == NULL || strlen(ns) > EVP_STATE_NS_MAX)
        return 0;
    pthread_mutex_lock(&st->lock);
    const name_space *s = ns_find(st, ns, 0, now);
    uint64_t changes = s != NULL ? s->changes : 0;
    int stop = fn == NULL || s == NULL;
    for (size_t b = 0; !stop && b < s->n_buckets; b++)
        for (const entry *e = s->buckets[b]; !stop && e != NULL; e = e->next)
            stop = fn(ctx, e->key, e->key_len, e->val, e->val_len) != 0;
    pthread_mutex_unlock(&st->lock);
    return changes;
}

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static evp_state_store *global_store;

evp_state_store *evp_state_global(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_store == NULL)
        global_store = evp_state_store_new(0);
    evp_state_store *st = global_store;
    pthread_mutex_unlock(&global_lock);
    return st;
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int evp_host_state_put(const char *ns, const void *key, size_t key_len, const void *val,
                       size_t val_len, uint32_t ttl_s, unsigned flags)
{
    return evp_state_put(evp_state_global(), ns, key, key_len, val, val_len, ttl_s, flags,
                         monotonic_now());
}

long evp_host_state_get(const char *ns, const void *key, size_t key_len, void *val, size_t cap)
{
    return evp_state_get(evp_state_global(), ns, key, key_len, val, cap, monotonic_now());
}

int evp_host_state_del(const char *ns, const void *key, size_t key_len)
{
    return evp_state_del(evp_state_global(), ns, key, key_len, monotonic_now());
}

uint64_t evp_host_state_each(const char *ns, evp_state_fn fn, void *ctx)
{
    return evp_state_each(evp_state_global(), ns, fn, ctx, monotonic_now());
}
