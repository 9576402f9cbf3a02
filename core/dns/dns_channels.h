/* c-ares channels driven by libev for one resolver: one channel per DNS server asked on its
 * own (dns_servers.h), or one for all, each opened by its first query (a channel holds ~74 KiB
 * of query tables, which a worker that never looks a name up has no use for). Their sockets
 * get io watchers; one timer serves them all. */
#ifndef EVP_DNS_CHANNELS_H
#define EVP_DNS_CHANNELS_H

#include "dns_servers.h"

#include <ares.h>
#include <ev.h>

typedef struct evp_dns_channels evp_dns_channels;

/* NULL when out of memory or c-ares does not start. */
evp_dns_channels *evp_dns_channels_new(struct ev_loop *loop);
/* Closes every channel (queries still out are called back with ARES_EDESTRUCTION) and makes
 * room for servers' (a reference is taken; NULL: one channel, the system's resolvers). */
void evp_dns_channels_reset(evp_dns_channels *c, evp_dns_servers *servers);
/* The servers the channels ask (NULL: the system's). */
const evp_dns_servers *evp_dns_channels_servers(const evp_dns_channels *c);
/* Looks name up on channel i (family AF_UNSPEC: A and AAAA; AF_INET: A only; AF_INET6: AAAA
 * only), opening it first if need be; cb as c-ares calls it, maybe from inside this call. -1
 * when the channel cannot be opened (cb not called). */
int evp_dns_channels_ask(evp_dns_channels *c, size_t i, const char *name, int family,
                         ares_addrinfo_callback cb, void *arg);
/* Closes the channels as reset does, then frees c. */
void evp_dns_channels_free(evp_dns_channels *c);

#endif
