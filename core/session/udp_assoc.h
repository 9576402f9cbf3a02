/* The UDP side of a SOCKS5 UDP ASSOCIATE: one UDP socket per control connection; each
 * destination named in the datagrams' SOCKS headers gets its own UDP session. */
#ifndef EVP_UDP_ASSOC_H
#define EVP_UDP_ASSOC_H

#include "session.h"

typedef struct evp_assoc evp_assoc;

/* Binds a UDP socket on the local address of the control connection tcp_fd and sets
 * *bound to it. NULL on failure, or when limits.maxUdpAssociations are open. Takes its own
 * instance references. */
evp_assoc *evp_assoc_new(evp_runtime *rt, int tcp_fd, evp_instance *in, evp_router *router,
                         evp_addr *bound);
/* Closes the socket and ends its sessions. NULL is fine. */
void evp_assoc_free(evp_assoc *a);
/* When a datagram last crossed the relay, either way (loop time; 0 for NULL). */
double evp_assoc_last_active(const evp_assoc *a);

#endif
