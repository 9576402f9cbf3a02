/* The h2 plugin's descriptor (V2Ray's "http" network, HTTP/2): a transport layer, one stream
 * per connection, for the client side, and a multiplexer for the server side, where V2Ray's
 * client puts several requests on one connection. */
#include "evproxy/plugin.h"
#include "h2_int.h"

#ifndef H2_PLUGIN_VERSION
#define H2_PLUGIN_VERSION "0.1.0"
#endif

static const evp_plugin h2_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "h2",
    .version = H2_PLUGIN_VERSION,
    .transport = &h2_transport_ops,
    .transport_schema = "http-settings",
    .mux = &h2_mux_ops,
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &h2_plugin;
}
