/* Traffic counters: a small array searched linearly (tens of inbounds and users per box;
 * a hash table would earn its keep only with thousands of emails). One table for every
 * worker, under a lock: a session adds to it once, when it ends, so the lock is cold. */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static evp_counter *counters;
static size_t n_counters, cap_counters;

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static evp_counter *find_or_add(const char *inbound, const char *user)
{
    for (size_t i = 0; i < n_counters; i++)
        if (same(counters[i].inbound, inbound) && same(counters[i].user, user))
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
    memset(c, 0, sizeof *c);
    c->inbound = strdup(inbound);
    c->user = user ? strdup(user) : NULL;
    if (c->inbound == NULL || (user && c->user == NULL)) {
        free(c->inbound);
        free(c->user);
        return NULL;
    }
    n_counters++;
    return c;
}

void evp_stats_add(const char *inbound, const char *user, uint64_t up, uint64_t down,
                   uint64_t sessions)
{
    pthread_mutex_lock(&lock);
    evp_counter *c = find_or_add(inbound, NULL);
    if (c) {
        c->up += up;
        c->down += down;
        c->sessions += sessions;
    }
    c = user ? find_or_add(inbound, user) : NULL;
    if (c) {
        c->up += up;
        c->down += down;
        c->sessions += sessions;
    }
    pthread_mutex_unlock(&lock);
}

void evp_stats_each(void (*fn)(const evp_counter *c, void *arg), void *arg)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++)
        fn(&counters[i], arg);
    pthread_mutex_unlock(&lock);
}

void evp_stats_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++) {
        free(counters[i].inbound);
        free(counters[i].user);
    }
    free(counters);
    counters = NULL;
    n_counters = cap_counters = 0;
    pthread_mutex_unlock(&lock);
}
