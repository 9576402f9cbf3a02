/* dns.servers as V2Ray 4.34 reads them (infra/conf/dns.go, app/dns/dns.go): plain DNS servers
 * given by IP ("8.8.8.8", {"address", "port", "domains", "expectIPs"}). A name one of a
 * server's domains meets is asked of that server first, then of the others in order; a
 * server whose answer holds none of its expectIPs has failed and the next is asked. Built at
 * config load, immutable, shared by the workers' resolvers. */
#ifndef EVP_DNS_SERVERS_H
#define EVP_DNS_SERVERS_H

#include "errlist.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Servers one config may name (each may get a c-ares channel per worker). */
#define EVP_DNS_SERVERS_MAX 32

typedef struct evp_dns_servers evp_dns_servers;

/* Compiles dns.servers (a JSON array). *out NULL when no server is given by IP (the system's
 * resolvers are asked). Entries that are not IPs ("localhost", DoH URLs, ...) are warned and
 * skipped. 0, or -1 with errors added naming the path ("dns.servers[1].domains: ..."). */
int evp_dns_servers_parse(json_t *servers, evp_dns_servers **out, evp_errlist *errs);
evp_dns_servers *evp_dns_servers_ref(evp_dns_servers *s);
void evp_dns_servers_unref(evp_dns_servers *s);

/* The servers asked on their own: one per server when any has domains or expectIPs, else
 * one that lists them all (a single c-ares channel, which moves on when one times out). */
size_t evp_dns_servers_count(const evp_dns_servers *s);
/* Server i as c-ares reads it: "ip:port" ("[ip6]:port"), or a comma-separated list. */
const char *evp_dns_servers_csv(const evp_dns_servers *s, size_t i);
/* 1 when a and b were read from the same dns.servers text (NULL: none). */
int evp_dns_servers_same(const evp_dns_servers *a, const evp_dns_servers *b);
/* Fills order (room for EVP_DNS_SERVERS_MAX) with the servers to ask for name, first to last,
 * as V2Ray sorts them: those whose domains meet it (a full name, then the deepest suffix,
 * then keyword or regexp; ties in config order), then the rest in config order. Returns how
 * many (all of them). */
size_t evp_dns_servers_order(const evp_dns_servers *s, const char *name, uint8_t *order);
/* 1 when server i takes the answer sa: it has no expectIPs or sa is in them. */
int evp_dns_servers_expects(const evp_dns_servers *s, size_t i, const struct sockaddr *sa);
/* 1 when each server is asked on its own (some has domains or expectIPs), 0 when one
 * channel lists them all. */
int evp_dns_servers_split(const evp_dns_servers *s);

#endif
