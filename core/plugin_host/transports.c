/* Building and freeing an inbound's or outbound's transport layer instances. */
#include "transports.h"

#include <stdio.h>
#include <stdlib.h>

evp_transports *evp_transports_new(const evp_layer_conf *layers, size_t n, int server,
                                   const char *tag, const char *stream_json, char *err,
                                   size_t errlen)
{
    evp_transports *t = calloc(1, sizeof *t + n * sizeof t->layer[0]);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->server = server;
    for (; t->n < n; t->n++) {
        const evp_layer_conf *lc = &layers[t->n];
        evp_transport_args args = {.size = sizeof args, .server = server, .tag = tag ? tag : "",
                                   .settings_json = lc->settings_json ? lc->settings_json : "{}",
                                   .stream_json = stream_json ? stream_json : "{}"};
        char why[400] = "";
        void *inst = evp_module_trops(lc->mod)->instance_new(&lc->mod->host.services, &args,
                                                             why, sizeof why);
        if (inst == NULL) {
            snprintf(err, errlen, "streamSettings.%s: %s", lc->where,
                     why[0] ? why : "the layer refused its settings");
            evp_transports_free(t);
            return NULL;
        }
        t->layer[t->n].mod = evp_module_ref(lc->mod);
        t->layer[t->n].inst = inst;
    }
    return t;
}

void evp_transports_free(evp_transports *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        evp_module_trops(t->layer[i].mod)->instance_free(t->layer[i].inst);
        evp_module_unref(t->layer[i].mod);
    }
    free(t);
}
