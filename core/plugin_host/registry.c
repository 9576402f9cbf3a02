/* Protocol registry: built-in modules and plugins found in the plugin directory. */
#include "registry.h"

#include "builtin/builtin.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add(evp_registry *r, evp_module *m)
{
    evp_module **mods = realloc(r->mods, (r->n + 1) * sizeof *mods);
    if (mods == NULL)
        return -1;
    r->mods = mods;
    r->mods[r->n++] = m;
    return 0;
}

/* The transport layers linked in (core/builtin): adding one is one line here. */
static const evp_plugin *const builtin_transports[] = {
    &evp_builtin_proxy_protocol,
    NULL,
};

/* Wraps desc as a module and adds it; -1 after logging why not. */
static int add_builtin(evp_registry *r, const evp_plugin *desc)
{
    char err[256];
    evp_module *m = evp_module_builtin(desc, err, sizeof err);
    if (m == NULL) {
        evp_err("built-in plugin: %s", err);
        return -1;
    }
    if (add(r, m) != 0) {
        evp_module_unref(m);
        return -1;
    }
    return 0;
}

int evp_registry_init(evp_registry *r, const char *plugin_dir)
{
    static const evp_plugin *(*const builtins[])(void) = {
        evp_builtin_socks, evp_builtin_dokodemo, evp_builtin_freedom, evp_builtin_blackhole,
        evp_builtin_carrier, evp_builtin_http, evp_builtin_dns};
    memset(r, 0, sizeof *r);
    r->plugin_dir = strdup(plugin_dir ? plugin_dir : ".");
    if (r->plugin_dir == NULL)
        return -1;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (add_builtin(r, builtins[i]()) != 0)
            return -1;
    for (size_t i = 0; builtin_transports[i] != NULL; i++)
        if (add_builtin(r, builtin_transports[i]) != 0)
            return -1;
    return 0;
}

static int valid_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '-' && *s != '_')
            return 0;
    return 1;
}

evp_module *evp_registry_get(evp_registry *r, const char *protocol, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->mods[i]->desc->name, protocol) == 0)
            return evp_module_ref(r->mods[i]);
    if (!valid_name(protocol)) {
        snprintf(err, errlen, "unknown protocol \"%s\"", protocol);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", r->plugin_dir, protocol);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "unknown protocol \"%s\" (no built-in, and no plugin %s)", protocol,
                 path);
        return NULL;
    }
    fclose(f);
    evp_module *m = evp_module_open(path, err, errlen);
    if (m == NULL)
        return NULL;
    if (strcmp(m->desc->name, protocol) != 0) {
        snprintf(err, errlen, "%s: names itself \"%s\", not \"%s\"", path, m->desc->name,
                 protocol);
        evp_module_unref(m);
        return NULL;
    }
    if (add(r, m) != 0) {
        evp_module_unref(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return evp_module_ref(m);
}

int evp_registry_reload_changed(evp_registry *r, evp_registry *fresh, char *err, size_t errlen)
{
    memset(fresh, 0, sizeof *fresh);
    fresh->plugin_dir = strdup(r->plugin_dir);
    for (size_t i = 0; i < r->n; i++) {
        evp_module *m = r->mods[i];
        evp_module *next = NULL;
        if (evp_module_changed(m)) {
            next = evp_module_open(m->origin, err, errlen);
            if (next == NULL)
                goto fail;
            if (strcmp(next->desc->name, m->desc->name) != 0) {
                snprintf(err, errlen, "%s: now names itself \"%s\", not \"%s\"", m->origin,
                         next->desc->name, m->desc->name);
                evp_module_unref(next);
                goto fail;
            }
            evp_info("plugin %s: loading new version %s", m->desc->name,
                     next->desc->version ? next->desc->version : "?");
        } else {
            next = evp_module_ref(m);
        }
        if (add(fresh, next) != 0) {
            evp_module_unref(next);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    evp_registry_free(fresh);
    return -1;
}

void evp_registry_adopt(evp_registry *r, evp_registry *fresh)
{
    evp_registry_free(r);
    *r = *fresh;
    memset(fresh, 0, sizeof *fresh);
}

void evp_registry_free(evp_registry *r)
{
    for (size_t i = 0; i < r->n; i++)
        evp_module_unref(r->mods[i]);
    free(r->mods);
    free(r->plugin_dir);
    memset(r, 0, sizeof *r);
}
