/* Loaded protocol and transport modules (built-in or dlopen'd .so) and their refcounts. */
#ifndef EVP_MODULE_H
#define EVP_MODULE_H

#include "evproxy/plugin.h"
#include "host_mem.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>

typedef struct evp_module {
    atomic_int refs; /* atomic: a reload builds its instances on another thread */
    void *handle; /* dlopen handle; NULL for a built-in */
    const evp_plugin *desc;
    char *origin; /* the .so file it was loaded from; NULL for a built-in */
    struct stat origin_stat; /* origin's identity at load, to notice a replaced file */
    evp_host_table host; /* this module's own services: its allocations are counted here */
    /* The plugin's ops as this host reads them: copied at load up to the plugin's size and
     * zeroed past it, so a field a smaller (older) plugin lacks reads as absent. */
    evp_inbound_ops in_ops;
    evp_outbound_ops out_ops;
    evp_transport_ops tr_ops;
    evp_mux_ops mux_ops;
} evp_module;

/* The descriptor's 1.6 fields, or NULL when the plugin was built before them. */
static inline const evp_transport_ops *evp_plugin_transport(const evp_plugin *d)
{
    return d->size >= offsetof(evp_plugin, transport) + sizeof d->transport ? d->transport : NULL;
}
static inline const char *evp_plugin_transport_schema(const evp_plugin *d)
{
    return d->size >= offsetof(evp_plugin, transport_schema) + sizeof d->transport_schema
               ? d->transport_schema
               : NULL;
}

/* The descriptor's 1.7 field, or NULL when the plugin was built before it. */
static inline const evp_mux_ops *evp_plugin_mux(const evp_plugin *d)
{
    return d->size >= offsetof(evp_plugin, mux) + sizeof d->mux ? d->mux : NULL;
}

/* The module's inbound / outbound ops (normalised, see above), or NULL when it has none. */
static inline const evp_inbound_ops *evp_module_inops(const evp_module *m)
{
    return m->desc->inbound ? &m->in_ops : NULL;
}
static inline const evp_outbound_ops *evp_module_outops(const evp_module *m)
{
    return m->desc->outbound ? &m->out_ops : NULL;
}

/* The module's transport ops (normalised), or NULL when it is no transport layer. */
static inline const evp_transport_ops *evp_module_trops(const evp_module *m)
{
    return evp_plugin_transport(m->desc) ? &m->tr_ops : NULL;
}

/* The module's multiplexer ops (normalised), or NULL when it has none. */
static inline const evp_mux_ops *evp_module_muxops(const evp_module *m)
{
    return evp_plugin_mux(m->desc) ? &m->mux_ops : NULL;
}

/* Loads the plugin file at path from a private copy (so the file may be replaced while it
 * runs). NULL and a one-line err naming the file and the cause on failure. refs = 1. */
evp_module *evp_module_open(const char *path, char *err, size_t errlen);
/* Wraps a linked-in descriptor; checked like a loaded one. refs = 1. */
evp_module *evp_module_builtin(const evp_plugin *desc, char *err, size_t errlen);
/* Takes a reference. */
evp_module *evp_module_ref(evp_module *m);
/* Drops a reference; the last one calls fini and unloads the code. */
void evp_module_unref(evp_module *m);
/* True when the module's origin file was replaced or rewritten since it was loaded. */
int evp_module_changed(const evp_module *m);
/* Checks a descriptor against this host's ABI, its ops structs' sizes and required hooks
 * included: 0 ok, -1 with the cause in err. */
int evp_module_check(const evp_plugin *desc, char *err, size_t errlen);

#endif
