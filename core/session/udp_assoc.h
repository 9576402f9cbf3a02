/* The UDP side of a SOCKS5 UDP ASSOCIATE: one UDP socket per control connection; each
 * destination named in the datagrams' SOCKS headers gets its own UDP session. The session
 * of the control connection owns it as its companion (session.h): the server hands
 * evp_assoc_open to the runtime, so the session code never names this file. */
#ifndef EVP_UDP_ASSOC_H
#define EVP_UDP_ASSOC_H

#include "session.h"

/* An evp_udp_relay_open_fn: binds a UDP socket on the local address of the control
 * connection tcp_fd and sets *bound to it. NULL on failure, or when
 * limits.maxUdpAssociations are open. The companion's close closes the socket and ends its
 * sessions; its last_active is when a datagram last crossed, either way. */
evp_companion *evp_assoc_open(evp_runtime *rt, int tcp_fd, evp_instance *in, evp_router *router,
                              evp_addr *bound);

#endif
