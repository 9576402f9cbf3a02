/* An inbound's "sniffing" settings, read as V2Ray 4.34 reads them. */
#ifndef EVP_SNIFF_CONF_H
#define EVP_SNIFF_CONF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Reads inbound's "sniffing" object (or V2Ray's older "domainOverride" list) into
 * EVP_SNIFF_* bits (sniff.h). 0, or -1 with err set (a destOverride entry V2Ray does not
 * know); "fakedns" and "quic" are warned about, naming where, and ignored. */
int evp_sniff_conf(const json_t *inbound, const char *where, uint8_t *bits, char *err,
                   size_t errlen);

#endif
