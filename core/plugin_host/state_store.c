/* The host's keyed state store. Namespaces hold their entries in a plain array searched
 * linearly: the values kept here are few (a detour account per user email) and touched
 * once per handshake at most, so one store-wide lock and a scan are simpler than a table
 * and fast enough. Expired entries go at the next access to their namespace. */
#include "state_store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    uint8_t *key; /* owned, key_len bytes */
    uint8_t *val; /* owned, val_len bytes (NULL when 0) */
    size_t key_len, val_len;
    double expires; /* monotonic seconds; 0: never */
} entry;

typedef struct name_space {
    char name[EVP_STATE_NS_MAX + 1];
    entry *e;
    size_t n, cap;
    uint64_t changes;
} name_space;

struct evp_state_store {
    pthread_mutex_t lock; /* guards everything below */
    size_t max, total;
    size_t n_ns;
    name_space ns[EVP_STATE_MAX_NS];
};

/* Wipes and frees what e holds. */
static void entry_clear(entry *e)
{
    if (e->key != NULL)
        sodium_memzero(e->key, e->key_len);
    if (e->val != NULL)
        sodium_memzero(e->val, e->val_len);
    free(e->key);
    free(e->val);
    memset(e, 0, sizeof *e);
}

/* Removes entry i of s (the last one takes its place). */
static void ns_remove(evp_state_store *st, name_space *s, size_t i)
{
    entry_clear(&s->e[i]);
    s->e[i] = s->e[--s->n];
    st->total--;
    s->changes++;
}

/* Drops s's entries that expired by now. */
static void ns_expire(evp_state_store *st, name_space *s, double now)
{
    for (size_t i = 0; i < s->n;) {
        if (s->e[i].expires != 0 && now >= s->e[i].expires)
            ns_remove(st, s, i);
        else
            i++;
    }
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

static entry *ns_lookup(name_space *s, const void *key, size_t key_len)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (s->e[i].key_len == key_len && memcmp(s->e[i].key, key, key_len) == 0)
            return &s->e[i];
    return NULL;
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
    return st;
}

void evp_state_store_free(evp_state_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_ns; i++) {
        for (size_t j = 0; j < st->ns[i].n; j++)
            entry_clear(&st->ns[i].e[j]);
        free(st->ns[i].e);
    }
    pthread_mutex_destroy(&st->lock);
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

/* Appends a new entry for key to s; NULL when the store is full or out of memory. */
static entry *ns_append(evp_state_store *st, name_space *s, const void *key, size_t key_len)
{
    if (st->total >= st->max)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        entry *e = realloc(s->e, cap * sizeof *e);
        if (e == NULL)
            return NULL;
        s->e = e;
        s->cap = cap;
    }
    int oom = 0;
    entry *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    e->key = copy_bytes(key, key_len, &oom);
    if (oom)
        return NULL;
    e->key_len = key_len;
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
    pthread_mutex_lock(&st->lock);
    name_space *s = ns_find(st, ns, 1, now);
    entry *e = ns_lookup(s, key, key_len);
    if (e != NULL && (flags & EVP_STATE_CREATE)) {
        rc = 1;
        goto out;
    }
    if (e == NULL && s != NULL)
        e = ns_append(st, s, key, key_len);
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
    pthread_mutex_lock(&st->lock);
    const entry *e = ns_lookup(ns_find(st, ns, 0, now), key, key_len);
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
    pthread_mutex_lock(&st->lock);
    name_space *s = ns_find(st, ns, 0, now);
    entry *e = ns_lookup(s, key, key_len);
    if (e != NULL) {
        ns_remove(st, s, (size_t)(e - s->e));
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
    for (size_t i = 0; fn != NULL && s != NULL && i < s->n; i++)
        if (fn(ctx, s->e[i].key, s->e[i].key_len, s->e[i].val, s->e[i].val_len) != 0)
            break;
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
