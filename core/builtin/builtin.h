/* The protocols and transport layers linked into the daemon, written against the public plugin ABI. */
#ifndef EVP_BUILTIN_H
#define EVP_BUILTIN_H

#include "evproxy/plugin.h"

/* SOCKS5 (RFC 1928/1929): the server inbound and the client outbound, "socks". */
const evp_plugin *evp_builtin_socks(void);
/* HTTP proxy inbound (CONNECT and absolute-URI forwarding) and CONNECT outbound, V2Ray's
 * settings: "http". */
const evp_plugin *evp_builtin_http(void);
/* The outbound halves of "socks" and "http" (socks_out.c, http_out.c). */
extern const evp_outbound_ops evp_builtin_socks_outbound;
extern const evp_outbound_ops evp_builtin_http_outbound;
/* Fixed-target inbound: "dokodemo-door". */
const evp_plugin *evp_builtin_dokodemo(void);
/* Direct outbound, optionally redirected: "freedom". */
const evp_plugin *evp_builtin_freedom(void);
/* The family (AF_INET, AF_INET6) a name the outbound instance inst of plugin p dials must
 * resolve to, as V2Ray 4.34's freedom asks it: domainStrategy UseIPv4/UseIPv6, or any UseIP*
 * with a sendThrough (send_through, type EVP_ADDR_NONE when unset) of that family. AF_UNSPEC:
 * any (AsIs, UseIP without sendThrough, or p is not the built-in freedom). */
int evp_builtin_dial_family(const evp_plugin *p, const void *inst, const evp_addr *send_through);
/* Outbound that dials nothing and drops everything: "blackhole". */
const evp_plugin *evp_builtin_blackhole(void);
/* DNS outbound: A/AAAA answered by the resolver, other queries forwarded: "dns". */
const evp_plugin *evp_builtin_dns(void);
/* The far side of a multiplexed session (ABI 1.7), dialling nothing: "mux-carrier". */
const evp_plugin *evp_builtin_carrier(void);
/* Transport layer reading a PROXY protocol v1/v2 header on inbounds: "proxy-protocol". */
extern const evp_plugin evp_builtin_proxy_protocol;

#endif
