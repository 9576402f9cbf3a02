/* Protocol or transport layer name -> module: built-ins first, then NAME.so in the plugin directory. */
#ifndef EVP_REGISTRY_H
#define EVP_REGISTRY_H

#include "module.h"

#include <stddef.h>

typedef struct evp_registry {
    evp_module **mods; /* one reference each */
    size_t n;
    char *plugin_dir;
} evp_registry;

/* Starts a registry holding the built-ins, searching plugin_dir (copied) for the rest. */
int evp_registry_init(evp_registry *r, const char *plugin_dir);
/* Returns a new reference to the module for protocol, loading NAME.so on first use;
 * NULL and a one-line err otherwise. */
evp_module *evp_registry_get(evp_registry *r, const char *protocol, char *err, size_t errlen);
/* Loads afresh every .so whose file changed into *fresh (a registry copy to adopt with
 * evp_registry_adopt); -1 and err when a changed file will not load (nothing changes). */
int evp_registry_reload_changed(evp_registry *r, evp_registry *fresh, char *err, size_t errlen);
/* Replaces r's contents with fresh's (r's old references are dropped). */
void evp_registry_adopt(evp_registry *r, evp_registry *fresh);
/* Drops every reference. */
void evp_registry_free(evp_registry *r);

#endif
