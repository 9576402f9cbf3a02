/* The shadowsocks plugin's SIP003 options (evp_plugin.sip003_settings), for
 * `protocol=shadowsocks` in vmess-plugin's options:
 *   password=P (required, unless the server reads clients=FILE)
 *   method=M   default chacha20-ietf-poly1305: what ss-libev 3.3.5 uses without -m, and
 *              what Debian's shipped config.json names
 *   email=E    server: the user's label for logs and counters
 * become the inbound's method/password or the outbound's servers[0]. */
#ifndef SS_SIP003_H
#define SS_SIP003_H

#include "evproxy/plugin.h"

#include <stddef.h>

#define SS_SIP003_DEFAULT_METHOD "chacha20-ietf-poly1305"

/* The settings JSON text (host->alloc'd), or NULL and err. */
char *ss_sip003_settings(const evp_host *host, const evp_sip003_args *args, char *err,
                         size_t errlen);

#endif
