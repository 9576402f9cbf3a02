/* A chained hash table of DNS answers with an expiry each; names compare case-insensitively,
 * as DNS names do. Every worker's resolver uses one cache, so each call takes its lock: a
 * name is asked upstream once per TTL whichever worker the next client lands on, and the
 * lock is held for a hash lookup once per new connection to a name, not per byte. */
#include "dns_cache.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUCKETS 1024

typedef struct entry {
    struct entry *next;
    double expires;
    int family; /* asked for: an A answer must not satisfy an AAAA ask */
    evp_dns_answer answer;
    char name[]; /* NUL-terminated */
} entry;

struct evp_dns_cache {
    pthread_mutex_t lock;
    entry *buckets[BUCKETS];
    size_t n, max;
};

static size_t bucket_of(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lower-cased name */
    for (; *name; name++)
        h = (h ^ (uint8_t)tolower((unsigned char)*name)) * 16777619u;
    return h % BUCKETS;
}

evp_dns_cache *evp_dns_cache_new(size_t max)
{
    evp_dns_cache *c = calloc(1, sizeof *c);
    if (c) {
        c->max = max;
        pthread_mutex_init(&c->lock, NULL);
    }
    return c;
}

static void clear_locked(evp_dns_cache *c)
{
    for (size_t b = 0; b < BUCKETS; b++)
        while (c->buckets[b]) {
            entry *e = c->buckets[b];
            c->buckets[b] = e->next;
            free(e);
        }
    c->n = 0;
}

void evp_dns_cache_clear(evp_dns_cache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

void evp_dns_cache_free(evp_dns_cache *c)
{
    if (c == NULL)
        return;
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

socklen_t evp_dns_sockaddr_len(const evp_dns_sockaddr *a)
{
    return a->sa.sa_family == AF_INET6 ? sizeof a->in6 : sizeof a->in;
}

/* The link that points at the entry of name and family (or the end of its chain). */
static entry **find(evp_dns_cache *c, const char *name, int family)
{
    entry **p = &c->buckets[bucket_of(name)];
    while (*p && ((*p)->family != family || strcasecmp((*p)->name, name) != 0))
        p = &(*p)->next;
    return p;
}

static void unlink_entry(evp_dns_cache *c, entry **p)
{
    entry *e = *p;
    *p = e->next;
    free(e);
    c->n--;
}

int evp_dns_cache_get(evp_dns_cache *c, const char *name, int family, double now,
                      evp_dns_answer *out)
{
    int hit = 0;
    pthread_mutex_lock(&c->lock);
    entry **p = find(c, name, family);
    if (*p && (*p)->expires <= now) {
        unlink_entry(c, p);
    } else if (*p) {
        *out = (*p)->answer;
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Makes room for one more: every expired entry goes, or else the one closest to expiry. */
static void make_room(evp_dns_cache *c, double now)
{
    const entry *soonest = NULL;
    for (size_t b = 0; b < BUCKETS; b++)
        for (entry **p = &c->buckets[b]; *p;) {
            if ((*p)->expires <= now) {
                unlink_entry(c, p);
                continue;
            }
            if (soonest == NULL || (*p)->expires < soonest->expires)
                soonest = *p;
            p = &(*p)->next;
        }
    if (c->n >= c->max && soonest)
        unlink_entry(c, find(c, soonest->name, soonest->family));
}

void evp_dns_cache_put(evp_dns_cache *c, const char *name, int family, const evp_dns_answer *a,
                       double expires, double now)
{
    if (c->max == 0 || expires <= now)
        return;
    size_t len = strlen(name);
    entry *e = malloc(sizeof *e + len + 1);
    pthread_mutex_lock(&c->lock);
    entry **p = find(c, name, family);
    if (*p)
        unlink_entry(c, p);
    if (c->n >= c->max)
        make_room(c, now);
    if (e == NULL) {
        pthread_mutex_unlock(&c->lock);
        return; /* not held: the next lookup asks again */
    }
    memcpy(e->name, name, len + 1);
    e->family = family;
    e->answer = *a;
    e->expires = expires;
    p = &c->buckets[bucket_of(name)];
    e->next = *p;
    *p = e;
    c->n++;
    pthread_mutex_unlock(&c->lock);
}

size_t evp_dns_cache_size(evp_dns_cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}
