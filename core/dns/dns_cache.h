/* Recent DNS answers by name and address family asked, good and bad, each until its expiry: a
 * bounded table that keeps repeated lookups of one name off the resolver. Safe to share
 * between threads. */
#ifndef EVP_DNS_CACHE_H
#define EVP_DNS_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/* Addresses one answer holds at most (the rest of a longer answer is dropped). */
#define EVP_DNS_ADDRS_MAX 8

/* One address of an answer: sa.sa_family says which member is meant. */
typedef union evp_dns_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} evp_dns_sockaddr;

typedef struct evp_dns_answer {
    evp_dns_sockaddr addr[EVP_DNS_ADDRS_MAX]; /* port 0, in the order the answer gave them */
    unsigned n;                               /* addresses held; 0: the lookup failed */
    const char *err;                          /* a static string, when it failed */
} evp_dns_answer;

/* The length of a's sockaddr (AF_INET or AF_INET6). */
socklen_t evp_dns_sockaddr_len(const evp_dns_sockaddr *a);

typedef struct evp_dns_cache evp_dns_cache;

/* A cache holding at most max names; NULL when out of memory. */
evp_dns_cache *evp_dns_cache_new(size_t max);
void evp_dns_cache_free(evp_dns_cache *c);
/* 1 and *out when an answer for name (any case) asked for family (AF_UNSPEC, AF_INET or
 * AF_INET6) is held that expires after now, else 0. */
int evp_dns_cache_get(evp_dns_cache *c, const char *name, int family, double now,
                      evp_dns_answer *out);
/* Holds a copy of a for name and family until expires (replacing an older one). When full,
 * expired answers go first, then the one closest to expiry. */
void evp_dns_cache_put(evp_dns_cache *c, const char *name, int family, const evp_dns_answer *a,
                       double expires, double now);
/* Drops every answer (the servers or the cache times changed). */
void evp_dns_cache_clear(evp_dns_cache *c);
/* Names held now. */
size_t evp_dns_cache_size(evp_dns_cache *c);

#endif
