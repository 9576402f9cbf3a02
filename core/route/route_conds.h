/* A routing rule's list conditions compiled from V2Ray's JSON: "ip" and "source" (addresses,
 * CIDRs, geoip:TAG, ext:FILE:TAG, ext-ip:FILE:TAG) and "domain" (plain, keyword:, full:,
 * domain:, regexp:, dotless:, geosite:LIST[@ATTR...], ext:FILE:LIST, ext-domain:FILE:LIST),
 * with the data files read through one evp_geo_assets per config. */
#ifndef EVP_ROUTE_CONDS_H
#define EVP_ROUTE_CONDS_H

#include "domain_set.h"
#include "errlist.h"
#include "geo_assets.h"
#include "ip_set.h"

#include <jansson.h>

/* Adds list's entries (an array of strings) to set and seals it; -1 with an error added
 * naming where (e.g. "routing.rules[2].ip") and the entry. */
int evp_route_ips(json_t *list, evp_geo_assets *geo, evp_ip_set *set, const char *where,
                  evp_errlist *errs);
int evp_route_domains(json_t *list, evp_geo_assets *geo, evp_domain_set *set,
                      const char *where, evp_errlist *errs);

#endif
