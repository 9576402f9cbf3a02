/* Refcounted plugin instances. */
#include "instance.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

evp_instance *evp_instance_new(evp_module *mod, int inbound, const char *tag,
                               const char *settings_json, uint16_t port, char *err,
                               size_t errlen)
{
    evp_instance *i = calloc(1, sizeof *i);
    if (i == NULL || (i->tag = strdup(tag ? tag : "")) == NULL ||
        (i->settings_json = strdup(settings_json ? settings_json : "{}")) == NULL) {
        if (i)
            free(i->tag);
        free(i);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    evp_instance_args args = {.size = sizeof args, .tag = i->tag,
                              .settings_json = settings_json ? settings_json : "{}",
                              .port = port};
    err[0] = '\0';
    const evp_host *h = &mod->host.services;
    i->inst = inbound ? evp_module_inops(mod)->instance_new(h, &args, err, errlen)
                      : evp_module_outops(mod)->instance_new(h, &args, err, errlen);
    if (i->inst == NULL) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: cannot create instance", mod->desc->name);
        free(i->settings_json);
        free(i->tag);
        free(i);
        return NULL;
    }
    atomic_init(&i->refs, 1);
    i->inbound = inbound;
    i->mod = evp_module_ref(mod);
    return i;
}

evp_instance *evp_instance_ref(evp_instance *i)
{
    atomic_fetch_add_explicit(&i->refs, 1, memory_order_relaxed);
    return i;
}

void evp_instance_unref(evp_instance *i)
{
    if (i == NULL || atomic_fetch_sub_explicit(&i->refs, 1, memory_order_acq_rel) > 1)
        return;
    if (i->inbound)
        evp_inops(i)->instance_free(i->inst);
    else
        evp_outops(i)->instance_free(i->inst);
    evp_module_unref(i->mod);
    evp_module_unref(i->mux);
    evp_instance_unref(i->mux_carrier);
    evp_transports_free(i->transports);
    free(i->settings_json);
    free(i->tag);
    free(i);
}
