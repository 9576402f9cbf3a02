/* The vmess plugin's SIP003 options (evp_plugin.sip003_settings, ABI 1.2):
 *   id=UUID  alterId=N  email=ADDR (server)  security=NAME (client)
 * become the inbound's clients or the outbound's vnext. */
#ifndef VMESS_SIP003_H
#define VMESS_SIP003_H

#include "evproxy/plugin.h"

/* The settings JSON text (host->alloc'd), or NULL and err. */
char *vmess_sip003_settings(const evp_host *host, const evp_sip003_args *args, char *err,
                            size_t errlen);

#endif
