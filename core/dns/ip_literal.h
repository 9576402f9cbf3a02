/* "A domain that is really an IP address": the one reading of IP literals that the router
 * (which rule matches) and the resolver (where the session goes) share, so that no spelling
 * routes as a name and then dials as an address. */
#ifndef EVP_IP_LITERAL_H
#define EVP_IP_LITERAL_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <sys/socket.h>

/* Reads name[0..len) as the system resolver (glibc getaddrinfo) reads a numeric host:
 * IPv4 in inet_aton's forms ("127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1")
 * or IPv6 ("::1"), either in brackets or not ("[::1]": V2Ray strips them too). An
 * IPv4-mapped IPv6 address ("::ffff:127.0.0.1") comes back as IPv4, as V2Ray reads it.
 * On 1, out's type, len and bytes are set (its port is left alone); 0 when name is not
 * such a literal. name may point into out->bytes. */
int evp_ip_literal(const char *name, size_t len, evp_addr *out);

/* a as routing sees it: a domain that is an IP literal becomes that IP and an IPv4-mapped
 * IPv6 address becomes IPv4; anything else is copied. */
void evp_addr_canonical(const evp_addr *a, evp_addr *out);

/* The address in sa (AF_INET or AF_INET6) as an evp_addr with its port; -1 for another
 * family. */
int evp_addr_from_sockaddr(const struct sockaddr *sa, evp_addr *out);
/* An IPv4 or IPv6 a (with its port) as a sockaddr in ss; its length, or 0 for a domain. */
socklen_t evp_addr_to_sockaddr(const evp_addr *a, struct sockaddr_storage *ss);

#endif
