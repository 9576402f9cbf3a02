/* routing as V2Ray reads it: the first rule whose every condition holds picks the outbound
 * (or a balancer, which picks one of its outbounds at random); no match picks the first
 * outbound. Conditions: inboundTag, user, domain (plain, keyword:, full:, domain:, regexp:,
 * dotless:, geosite:, ext:), ip and source (addresses, CIDRs, geoip:, ext:), port,
 * sourcePort, network. domainStrategy IPIfNonMatch / IPOnDemand: the router asks for the
 * target name's address (EVP_ROUTE_NEEDS_IP) and is asked again with it.
 * A router is immutable once built and refcounted, so sessions keep the one they started
 * with across a reload. */
#ifndef EVP_ROUTER_H
#define EVP_ROUTER_H

#include "errlist.h"
#include "instance.h"

#include <jansson.h>

typedef struct evp_router evp_router;

/* What routing sees of a session. */
typedef struct evp_route_query {
    const char *inbound_tag;
    const evp_addr *target;
    int network;               /* enum evp_network */
    const evp_addr *source;    /* the client's address and port, or NULL */
    const char *user;          /* the user's email, or NULL */
    const char *protocol;      /* what sniffing found ("http1", "tls", ...), or NULL */
    const evp_addr *target_ip; /* the address a domain target resolved to, or NULL */
    int resolved;              /* the target's name was resolved (target_ip NULL: failed) */
    int as_is;                 /* never ask for the name's address (domainStrategy AsIs) */
} evp_route_query;

#define EVP_ROUTE_NEEDS_IP (-1L)

/* Compiles root's routing (rules, balancers, domainStrategy) against the outbound tags; NULL
 * with errors added when a rule is malformed or names data that cannot be read (a geoip.dat
 * that is not found, a tag not in it). The data files are read once for all the rules. A
 * rule naming no outbound sends what it matches to the default one (warned about), as V2Ray
 * 4.34 does. A condition it cannot check (attrs) is warned about, and its rule
 * is skipped rather than widened. */
evp_router *evp_router_new(json_t *root, const char *const *out_tags, size_t n_outs,
                           evp_errlist *errs);
/* Gives the router its outbound instances (takes a reference to each). */
void evp_router_set_outbounds(evp_router *r, evp_instance *const *outs, size_t n);
/* Gives the router the outbound that stands for a multiplexed session's far side (the
 * built-in mux-carrier) and the multiplexer named by a target (a module with ABI 1.7 mux
 * ops, or NULL); takes references. */
void evp_router_set_demux(evp_router *r, evp_instance *carrier, evp_module *mux);
/* The multiplexer when target names it (a domain equal to its ops' target), else NULL
 * (borrowed). */
evp_module *evp_router_demux(const evp_router *r, const evp_addr *target);
/* The carrier outbound instance (borrowed), or NULL before set_demux. */
evp_instance *evp_router_carrier(const evp_router *r);
evp_router *evp_router_ref(evp_router *r);
void evp_router_unref(evp_router *r);
/* The index of the outbound for q, or EVP_ROUTE_NEEDS_IP when domainStrategy needs the
 * address q's domain target resolves to first (ask again with resolved and target_ip set). A
 * domain that is an IP literal (see ip_literal.h) and an IPv4-mapped IPv6 address are routed
 * as the IP they are. */
long evp_router_route(const evp_router *r, const evp_route_query *q);
/* evp_router_route for inbound_tag, target and network alone, AsIs. */
size_t evp_router_pick(const evp_router *r, const char *inbound_tag, const evp_addr *target,
                       int network);
/* A name the session routed as a name has resolved to addr (port: where it will connect):
 * 1 when addr, routed as a target itself, meets first a rule with an ip condition whose
 * outbound is a blackhole; *rule_index (in routing.rules) and *outbound name it. Rules
 * without an ip condition, and the default outbound, never refuse a resolved name: they
 * saw everything about it they will see already. */
int evp_router_ip_blocked(const evp_router *r, const char *inbound_tag, const evp_addr *addr,
                          int network, size_t *rule_index, size_t *outbound);
/* The outbound instance at index i (borrowed), or NULL before set_outbounds. */
evp_instance *evp_router_outbound(const evp_router *r, size_t i);

#endif
