/* Recent DNS answers by name, good and bad, each until its expiry: a bounded table that keeps
 * repeated lookups of one name off the resolver. Safe to share between threads. */
#ifndef EVP_DNS_CACHE_H
#define EVP_DNS_CACHE_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct evp_dns_answer {
    struct sockaddr_storage addr; /* port 0 */
    socklen_t addr_len;           /* 0: the lookup failed */
    const char *err;              /* a static string, when it failed */
} evp_dns_answer;

typedef struct evp_dns_cache evp_dns_cache;

/* A cache holding at most max names; NULL when out of memory. */
evp_dns_cache *evp_dns_cache_new(size_t max);
void evp_dns_cache_free(evp_dns_cache *c);
/* 1 and *out when an answer for name (any case) is held that expires after now, else 0. */
int evp_dns_cache_get(evp_dns_cache *c, const char *name, double now, evp_dns_answer *out);
/* Holds a copy of a for name until expires (replacing an older one). When full, expired
 * answers go first, then the one closest to expiry. */
void evp_dns_cache_put(evp_dns_cache *c, const char *name, const evp_dns_answer *a,
                       double expires, double now);
/* Drops every answer (the servers or the cache times changed). */
void evp_dns_cache_clear(evp_dns_cache *c);
/* Names held now. */
size_t evp_dns_cache_size(evp_dns_cache *c);

#endif
