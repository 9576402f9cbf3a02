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

/* What name maps to, after following names: 1 with *ip set (an IPv4/IPv6 address, port 0);
 * 2 with *alias set (the last name in the chain, to be looked up by DNS); 0 when name is not
 * mapped. alias has room for 256 bytes. */
int evp_dns_hosts_lookup(const evp_dns_hosts *h, const char *name, evp_addr *ip, char *alias);

#endif
