/* wsSettings as V2Ray reads them (4.34's path and headers, 4.37+'s early data), plus
 * evproxy's trustedProxies, into a ws_config. */
#ifndef WS_SETTINGS_H
#define WS_SETTINGS_H

#include "evproxy/plugin.h"
#include "ws_int.h"

#include <stddef.h>

/* A config from args (settings_json, stream_json, server); NULL and a one-line err naming
 * the setting on failure. */
ws_config *ws_config_new(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen);

void ws_config_free(ws_config *cfg);

#endif
