/* The one symbol tls.so exports. */
#include "plugin.h"

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &tls_plugin;
}
