/* Where plugins and schemas are: the build tree when run from it, else the install dirs. */
#ifndef EVP_PATHS_H
#define EVP_PATHS_H

#include <stddef.h>

/* Fills out with the plugin directory: override, $EVPROXY_PLUGIN_DIR, <exe dir>/plugins,
 * <exe dir>/../lib/evproxy/plugins or PREFIX/lib/evproxy/plugins, the first that applies. */
void evp_plugin_dir(const char *override, char *out, size_t n);
/* The same for schemas: override, $EVPROXY_SCHEMA_DIR, <exe dir>/../schema,
 * <exe dir>/../share/evproxy/schema, PREFIX/share/evproxy/schema. */
void evp_schema_dir(const char *override, char *out, size_t n);

#endif
