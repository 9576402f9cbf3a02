/* Traffic counters: a small array searched linearly (tens of inbounds and users per box;
 * a hash table would earn its keep only with thousands of emails). One table for every
 * worker, under a lock: a session adds to it once, when it ends, so the lock is cold. The
 * refused handshakes are counted in a second such table, bounded (stats.h). */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static evp_counter *counters;
static size_t n_counters, cap_counters;

typedef struct failure_kind {
    char *inbound, *reason;
    uint64_t n;
} failure_kind;

static failure_kind *failures;
static size_t n_failures;

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && d == NULL)
        *failed = 1;
    return d;
}

static evp_counter *find_or_add(const char *inbound, const char *user, const char *outbound)
{
    for (size_t i = 0; i < n_counters; i++)
        if (same(counters[i].inbound, inbound) && same(counters[i].user, user) &&
            same(counters[i].outbound, outbound))
            return &counters[i];
    if (n_counters == cap_counters) {
        size_t cap = cap_counters ? cap_counters * 2 : 16;
        evp_counter *c = realloc(counters, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        counters = c;
        cap_counters = cap;
    }
    evp_counter *c = &counters[n_counters];
    int failed = 0;
    memset(c, 0, sizeof *c);
    c->inbound = dup_or_null(inbound, &failed);
    c->user = dup_or_null(user, &failed);
    c->outbound = dup_or_null(outbound, &failed);
    if (failed) {
        free(c->inbound);
        free(c->user);
        free(c->outbound);
        return NULL;
    }
    n_counters++;
    return c;
}

static void count(evp_counter *c, uint64_t up, uint64_t down)
{
    if (c == NULL)
        return;
    c->up += up;
    c->down += down;
    c->sessions++;
}

void evp_stats_add(const char *inbound, const char *outbound, const char *user, uint64_t up,
                   uint64_t down)
{
    pthread_mutex_lock(&lock);
    count(find_or_add(inbound, NULL, NULL), up, down);
    if (user)
        count(find_or_add(inbound, user, NULL), up, down);
    if (outbound)
        count(find_or_add(NULL, NULL, outbound), up, down);
    pthread_mutex_unlock(&lock);
}

void evp_stats_each(void (*fn)(const evp_counter *c, void *arg), void *arg)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++)
        fn(&counters[i], arg);
    pthread_mutex_unlock(&lock);
}

/* The kind a failure counts under (the table is full: "other"); NULL when out of memory. */
static failure_kind *failure_find_or_add(const char *inbound, const char *reason)
{
    for (size_t i = 0; i < n_failures; i++)
        if (same(failures[i].inbound, inbound) && same(failures[i].reason, reason))
            return &failures[i];
    if (n_failures >= EVP_STATS_MAX_FAILURE_KINDS - 1 && strcmp(reason, "other") != 0)
        return failure_find_or_add(inbound, "other");
    if (n_failures == EVP_STATS_MAX_FAILURE_KINDS)
        return NULL; /* every slot holds a reason: this inbound's "other" has none left */
    if (failures == NULL &&
        (failures = calloc(EVP_STATS_MAX_FAILURE_KINDS, sizeof *failures)) == NULL)
        return NULL;
    failure_kind *k = &failures[n_failures];
    k->inbound = strdup(inbound);
    k->reason = strdup(reason);
    k->n = 0;
    if (k->inbound == NULL || k->reason == NULL) {
        free(k->inbound);
        free(k->reason);
        return NULL;
    }
    n_failures++;
    return k;
}

void evp_stats_handshake_failed(const char *inbound, const char *reason)
{
    pthread_mutex_lock(&lock);
    failure_kind *k = failure_find_or_add(inbound, reason);
    if (k)
        k->n++;
    pthread_mutex_unlock(&lock);
}

void evp_stats_each_failure(void (*fn)(const char *inbound, const char *reason, uint64_t n,
                                       void *arg),
                            void *arg)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_failures; i++)
        fn(failures[i].inbound, failures[i].reason, failures[i].n, arg);
    pthread_mutex_unlock(&lock);
}

void evp_stats_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++) {
        free(counters[i].inbound);
        free(counters[i].user);
        free(counters[i].outbound);
    }
    free(counters);
    counters = NULL;
    n_counters = cap_counters = 0;
    for (size_t i = 0; i < n_failures; i++) {
        free(failures[i].inbound);
        free(failures[i].reason);
    }
    free(failures);
    failures = NULL;
    n_failures = 0;
    pthread_mutex_unlock(&lock);
}
