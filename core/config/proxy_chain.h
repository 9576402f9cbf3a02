/* outbounds[].proxySettings: an outbound that reaches its server through another outbound
 * (V2Ray's "proxySettings": {"tag", "transportLayer"}). Read per outbound, then checked over
 * all of them: the tag must name an outbound and the chain must end (no loop). */
#ifndef EVP_PROXY_CHAIN_H
#define EVP_PROXY_CHAIN_H

#include "errlist.h"

#include <jansson.h>

struct evp_config;
struct evp_outbound_conf;

/* Reads outbounds[i].proxySettings of out into oc (proxy_tag stays NULL without it). */
void evp_proxy_settings_load(struct evp_outbound_conf *oc, json_t *out, size_t i,
                             evp_errlist *errs);
/* Resolves every proxy_tag to its outbound's index, refuses unknown tags and loops, and
 * drops the stream layers V2Ray 4.34 does not put over a proxied stream (all but tls,
 * unless transportLayer). */
void evp_proxy_chains_check(struct evp_config *c, evp_errlist *errs);

#endif
