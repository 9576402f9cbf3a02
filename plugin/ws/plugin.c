/* The ws plugin's descriptor: a transport layer only (RFC 6455 under any protocol). */
#include "evproxy/plugin.h"
#include "ws_int.h"

#ifndef WS_PLUGIN_VERSION
#define WS_PLUGIN_VERSION "0.1.0"
#endif

static const evp_plugin ws_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "ws",
    .version = WS_PLUGIN_VERSION,
    .transport = &ws_transport_ops,
    .transport_schema = "ws-settings",
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &ws_plugin;
}
