/* V2Ray's `api` and `stats` blocks and policy's stats switches (infra/conf/api.go,
 * app/policy): which counters exist, and the `api` outbound that serves them. */
#ifndef EVP_API_STATS_CONF_H
#define EVP_API_STATS_CONF_H

#include "errlist.h"
#include "v2stats.h"

#include <jansson.h>

/* The protocol of the outbound `api.tag` names (plugin/api). */
#define EVP_API_PROTOCOL "api"

/* Reads `stats`, policy.system's statsInbound/Outbound switches and each level's statsUser
 * switches. */
void evp_stats_conf_load(json_t *root, evp_v2stats_policy *p);
/* With an `api` block, appends to root's outbounds the one V2Ray's commander makes: tag
 * api.tag, protocol "api", settings {"services": [...], "stats": whether `stats` is there}.
 * Warns of services not served; an `api` without a tag is an error in errs, as in V2Ray. */
void evp_api_conf_apply(json_t *root, evp_errlist *errs);

#endif
