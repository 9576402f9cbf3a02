/* The dns outbound's answerer: a loopback TCP listener on one loop that answers A/AAAA
 * queries with the resolver (so dns.hosts and dns.servers apply) and forwards every other
 * query to the destination a session's header names (builtin/dns_out.h). */
#ifndef EVP_DNS_ANSWERER_H
#define EVP_DNS_ANSWERER_H

#include "resolver.h"

#include <ev.h>

/* Starts the answerer on loop with resolver r and announces it in the state store; 0, or -1
 * (logged) when it cannot listen: dns outbound sessions then fail with a clear reason. */
int evp_dns_answerer_start(struct ev_loop *loop, evp_resolver *r);
/* Closes its connections and listener and withdraws the announcement (same thread). */
void evp_dns_answerer_stop(void);

#endif
