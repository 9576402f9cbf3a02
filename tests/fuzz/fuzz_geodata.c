/* Fuzz target: V2Ray's geoip.dat / geosite.dat reader (core/route/geo_assets.c). The input
 * is parsed as a GeoIPList and as a GeoSiteList, and every entry compiled into the routing
 * matchers (IP ranges, domain hashes, regexes), as a config naming each tag would. Bad data
 * must be refused, never crash or leak. */
#include "geo_assets.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    evp_geo_parse_all(data, size);
    return 0;
}
