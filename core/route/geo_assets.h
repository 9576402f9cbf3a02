/* V2Ray's routing data files (geoip.dat, geosite.dat, ext:FILE:TAG), found where V2Ray 4.34
 * looks: $V2RAY_LOCATION_ASSET or else the binary's folder, then /usr/local/share/v2ray,
 * then /usr/share/v2ray. A config's rules share one evp_geo_assets: each file is read and
 * parsed once for the whole config, then dropped when the router is built. */
#ifndef EVP_GEO_ASSETS_H
#define EVP_GEO_ASSETS_H

#include "domain_set.h"
#include "ip_set.h"

#include <stddef.h>
#include <stdint.h>

typedef struct evp_geo_assets evp_geo_assets;

evp_geo_assets *evp_geo_assets_new(void);
void evp_geo_assets_free(evp_geo_assets *a);
/* Where file is looked for: the first of V2Ray's places that has it, else the first place
 * (for the error). Always joined to a place, as V2Ray joins it (even "/x.dat"). */
void evp_geo_asset_path(const char *file, char *out, size_t n);
/* Adds the CIDRs of tag (any case) in file, a GeoIPList, to set. -1 with err saying what is
 * missing or broken (the file's path, the tag). */
int evp_geo_assets_ip(evp_geo_assets *a, const char *file, const char *tag, evp_ip_set *set,
                      char *err, size_t n);
/* Adds the domains of list in file, a GeoSiteList, to set. As in V2Ray, "NAME@ATTR@ATTR"
 * keeps only the domains that carry every ATTR (by key, any case). */
int evp_geo_assets_site(evp_geo_assets *a, const char *file, const char *list,
                        evp_domain_set *set, char *err, size_t n);
/* Parses data as a GeoIPList and a GeoSiteList and compiles every entry: 0 when either
 * parsed (the fuzz target's way in). */
int evp_geo_parse_all(const uint8_t *data, size_t len);

#endif
