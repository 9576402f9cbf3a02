/* V2Ray's deprecated top-level config forms, rewritten into the modern ones before the schema
 * sees the config, in the order V2Ray 4.34's infra/conf/v2ray.go Config.Build reads them. */
#ifndef EVP_LEGACY_FORMS_H
#define EVP_LEGACY_FORMS_H

#include "errlist.h"

#include <jansson.h>

/* Rewrites root (a config object) in place:
 * - inbounds = [inbound] + inboundDetour + inbounds; the top-level "port" fills in the first
 *   inbound's when it has none; outbounds = [outbound] + outboundDetour + outbounds (so the
 *   legacy "outbound" is the default);
 * - routing.settings.rules are appended to routing.rules, routing.settings.domainStrategy
 *   used when routing.domainStrategy is absent; routing.strategy (ignored by 4.34) dropped;
 * - the global "transport" fills in each inbound's and outbound's streamSettings pieces
 *   (tcpSettings, kcpSettings, wsSettings, httpSettings, dsSettings) it lacks;
 * - "allocate": strategy "always" is dropped (a port range already listens on every port);
 *   any other is left for the config reader (allocate.h).
 * Errors are added to errs with the paths as written. Returns a malloc'd note saying which
 * inbounds[i]/outbounds[i] came from which legacy key (NULL when none did), for the caller to
 * add after errors found later, which name the modern paths. */
char *evp_legacy_forms_apply(json_t *root, evp_errlist *errs);

#endif
