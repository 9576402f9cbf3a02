/* V2Ray's named counters: a small array searched linearly under one lock (a session adds
 * from its timer while it relays, every few seconds, and when it ends; the names number a
 * few per inbound, outbound and user). */
#include "v2stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct named_counter {
    char *name;
    uint64_t value;
} named_counter;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static named_counter *counters;
static size_t n_counters, cap_counters;
static evp_v2stats_policy policy;
static atomic_int enabled; /* policy.enabled, read without the lock */

/* The counter called name; when absent, made at 0 if create, else NULL (also NULL when
 * out of memory). */
static named_counter *find_or_add(const char *name, int create)
{
    for (size_t i = 0; i < n_counters; i++)
        if (strcmp(counters[i].name, name) == 0)
            return &counters[i];
    if (!create)
        return NULL;
    if (n_counters == cap_counters) {
        size_t cap = cap_counters ? cap_counters * 2 : 16;
        named_counter *c = realloc(counters, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        counters = c;
        cap_counters = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return NULL;
    counters[n_counters] = (named_counter){copy, 0};
    return &counters[n_counters++];
}

/* Adds n to "KIND>>>ID>>>traffic>>>DIR" (made when absent if create); nothing for an empty
 * id. */
static void add(const char *kind, const char *id, const char *dir, uint64_t n, int create)
{
    char name[EVP_V2STATS_NAME_MAX + 1];
    if (id == NULL || id[0] == '\0')
        return;
    int len = snprintf(name, sizeof name, "%s>>>%s>>>traffic>>>%s", kind, id, dir);
    if (len < 0 || (size_t)len >= sizeof name)
        return;
    named_counter *c = find_or_add(name, create);
    if (c != NULL)
        c->value += n;
}

void evp_v2stats_configure(const evp_v2stats_policy *p, const char *const *inbound_tags,
                           size_t n_inbounds, const char *const *outbound_tags,
                           size_t n_outbounds)
{
    pthread_mutex_lock(&lock);
    policy = *p;
    atomic_store_explicit(&enabled, p->enabled, memory_order_relaxed);
    for (size_t i = 0; policy.enabled && i < n_inbounds; i++) {
        if (policy.inbound_up)
            add("inbound", inbound_tags[i], "uplink", 0, 1);
        if (policy.inbound_down)
            add("inbound", inbound_tags[i], "downlink", 0, 1);
    }
    for (size_t i = 0; policy.enabled && i < n_outbounds; i++) {
        if (policy.outbound_up)
            add("outbound", outbound_tags[i], "uplink", 0, 1);
        if (policy.outbound_down)
            add("outbound", outbound_tags[i], "downlink", 0, 1);
    }
    pthread_mutex_unlock(&lock);
}

void evp_v2stats_count(const evp_v2stats_traffic *t)
{
    pthread_mutex_lock(&lock);
    if (policy.enabled) {
        /* an inbound's and an outbound's exist from configure on, or not at all */
        if (policy.inbound_up)
            add("inbound", t->inbound, "uplink", t->in_read, 0);
        if (policy.inbound_down)
            add("inbound", t->inbound, "downlink", t->in_written, 0);
        if (policy.outbound_up)
            add("outbound", t->outbound, "uplink", t->out_written, 0);
        if (policy.outbound_down)
            add("outbound", t->outbound, "downlink", t->out_read, 0);
        uint16_t bit = t->level < 16 ? (uint16_t)(1u << t->level) : 0;
        if (policy.user_up & bit)
            add("user", t->user, "uplink", t->user_up, 1);
        if (policy.user_down & bit)
            add("user", t->user, "downlink", t->user_down, 1);
    }
    pthread_mutex_unlock(&lock);
}

int evp_v2stats_enabled(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed);
}

size_t evp_v2stats_visit(const char *prefix, evp_stats_fn fn, void *ctx)
{
    size_t visited = 0, plen = prefix ? strlen(prefix) : 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++) {
        if (strncmp(counters[i].name, prefix ? prefix : "", plen) != 0)
            continue;
        visited++;
        if (fn(ctx, counters[i].name, counters[i].value) == 1)
            counters[i].value = 0;
    }
    pthread_mutex_unlock(&lock);
    return visited;
}

void evp_v2stats_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_counters; i++)
        free(counters[i].name);
    free(counters);
    counters = NULL;
    n_counters = cap_counters = 0;
    memset(&policy, 0, sizeof policy);
    atomic_store_explicit(&enabled, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
}
