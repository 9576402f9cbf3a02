/* dns.hosts as V2Ray 4.34 reads it (infra/conf/dns.go, app/dns/hosts.go): each key a domain
 * matcher (a bare name matches itself only; domain:, full:, keyword:, regexp:, dotless:,
 * geosite:, ext: as in routing), each value an IP, or a name to look up instead (followed
 * through the hosts again, at most 5 deep). The resolver asks it before anything else, so a
 * mapped name never reaches a DNS server: freedom, routing's IPIfNonMatch and IPOnDemand and
 * every dial see the mapped address. Immutable once built; shared by the workers' resolvers. */
#ifndef EVP_DNS_HOSTS_H
#define EVP_DNS_HOSTS_H

#include "errlist.h"
#include "evproxy/plugin.h"

#include <jansson.h>

typedef struct evp_dns_hosts evp_dns_hosts;

/* Compiles hosts (a JSON object; NULL or empty: *out = NULL). 0, or -1 with errors added
 * naming the key ("dns.hosts[\"domain:\"]: empty domain rule"). */
int evp_dns_hosts_parse(json_t *hosts, evp_dns_hosts **out, evp_errlist *errs);
evp_dns_hosts *evp_dns_hosts_ref(evp_dns_hosts *h);
void evp_dns_hosts_unref(evp_dns_hosts *h);

/* What name maps to when addresses of family are asked (AF_UNSPEC: both, AF_INET, AF_INET6),
 * as V2Ray's hosts answer: every key that matches gives its value; a lone name is followed
 * (at most 5 deep). 2 with *alias set (the last name, to be looked up by DNS; room for 256
 * bytes); 1 with ips[0..*n) the addresses of that family (port 0, key order, at most cap;
 * a value of exactly 127.0.0.1 also gives ::1), where *n may be 0: mapped, but not to that
 * family (V2Ray then answers "no record"); 0 when name is not mapped. */
int evp_dns_hosts_lookup(const evp_dns_hosts *h, const char *name, int family, evp_addr *ips,
                         size_t cap, size_t *n, char *alias);

#endif
