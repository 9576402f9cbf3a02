/* Non-blocking name resolution with c-ares on the libev loop, with a small cache of answers
 * (good and bad) and a cap on lookups in flight. */
#ifndef EVP_RESOLVER_H
#define EVP_RESOLVER_H

#include "dns_cache.h"
#include "dns_hosts.h"
#include "dns_servers.h"
#include "global_limits.h"

#include <ev.h>
#include <stdatomic.h>
#include <sys/socket.h>

typedef struct evp_resolver evp_resolver;
typedef struct evp_resolve_req evp_resolve_req;

/* Called once with the first address found (port set), or addr NULL and err on failure. */
typedef void (*evp_resolve_cb)(void *arg, const struct sockaddr *addr, socklen_t len,
                               const char *err);
/* Called once with every address found (port set, at most EVP_DNS_ADDRS_MAX, in the answer's
 * order), or n 0 and err on failure ("no record of that family" included). */
typedef void (*evp_resolve_all_cb)(void *arg, const evp_dns_sockaddr *addrs, unsigned n,
                                   const char *err);

/* Starts a resolver on loop; NULL on failure. */
evp_resolver *evp_resolver_new(struct ev_loop *loop);
/* Applies the DNS limits (in-flight cap, cache times), dns.servers (referenced; NULL: the
 * system's resolvers) and dns.hosts (referenced; NULL: none). New servers take over once no
 * query is out (servers read from the same text are kept); hosts at once. */
void evp_resolver_configure(evp_resolver *r, const evp_limits *l, evp_dns_servers *servers,
                            evp_dns_hosts *hosts);
/* Makes r one of a group (one resolver per worker): answers go to and come from cache (not
 * r's; the caller frees it after every resolver), and the in-flight cap bounds the lookups
 * counted in inflight, the group's together. */
void evp_resolver_share(evp_resolver *r, evp_dns_cache *cache, atomic_uint *inflight);
/* Cancels every pending query (their callbacks are not called) and frees r. */
void evp_resolver_free(evp_resolver *r);
/* Looks up name's addresses of family (AF_UNSPEC: any, AF_INET: A records only, AF_INET6:
 * AAAA only); cb is called later, never from inside this call. A name dns.hosts maps is
 * answered from them (their addresses of that family, which may be none), an IP literal
 * (ip_literal.h) with itself, both without a lookup. NULL when out of memory. */
evp_resolve_req *evp_resolve_family(evp_resolver *r, const char *name, unsigned port, int family,
                                    evp_resolve_all_cb cb, void *arg);
/* evp_resolve_family for any family, answered with the first address. */
evp_resolve_req *evp_resolve(evp_resolver *r, const char *name, unsigned port, evp_resolve_cb cb,
                             void *arg);
/* Cancels a pending request: its callback will not be called. */
void evp_resolve_cancel(evp_resolve_req *req);

#endif
