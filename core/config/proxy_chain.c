/* outbounds[].proxySettings as V2Ray reads it: {"tag": an outbound, "transportLayer": bool}
 * (transportLayer came with V2Ray 4.35; 4.34 ignores the key and keeps only tls over the
 * proxied stream). Where V2Ray 4.34 would dial the server directly (a tag it cannot find)
 * or never end (a loop), evproxy refuses the config: either would leave the chain. */
#include "proxy_chain.h"

#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void evp_proxy_settings_load(evp_outbound_conf *oc, json_t *out, size_t i, evp_errlist *errs)
{
    json_t *ps = json_object_get(out, "proxySettings");
    if (ps == NULL || json_is_null(ps))
        return;
    const char *tag = json_string_value(json_object_get(ps, "tag"));
    if (!json_is_object(ps) || tag == NULL || tag[0] == '\0') {
        evp_errlist_add(errs, "outbounds[%zu].proxySettings.tag: must name an outbound (V2Ray: "
                        "\"Proxy tag is not set.\")", i);
        return;
    }
    oc->proxy_tag = tag;
    oc->proxy_transport_layer = json_is_true(json_object_get(ps, "transportLayer"));
}

/* The index of the outbound tagged tag: the last of that tag, as V2Ray's handler map keeps
 * the last one added; -1 when none. */
static long outbound_index(const evp_config *c, const char *tag)
{
    long found = -1;
    for (size_t k = 0; k < c->n_outbounds; k++)
        if (strcmp(c->outbounds[k].tag, tag) == 0)
            found = (long)k;
    return found;
}

/* Appends outbound k's name to path ("tag", or "outbounds[k]" when untagged). */
static void append_name(char *path, size_t n, const evp_config *c, size_t k)
{
    size_t used = strlen(path);
    const char *tag = c->outbounds[k].tag;
    const char *sep = used ? " -> " : "";
    if (tag[0])
        snprintf(path + used, n - used, "%s\"%s\"", sep, tag);
    else
        snprintf(path + used, n - used, "%soutbounds[%zu]", sep, k);
}

/* Refuses the loop through outbound i once: from the lowest index on it, with its path. */
static void check_loop(const evp_config *c, size_t i, evp_errlist *errs)
{
    size_t k = i;
    for (size_t steps = 0; steps < c->n_outbounds; steps++) {
        if (c->outbounds[k].proxy_tag == NULL)
            return; /* the chain ends in an outbound that dials itself */
        k = c->outbounds[k].proxy_index;
        if (k < i)
            return; /* a lower index is on the same loop, or i only leads into one */
        if (k == i)
            break;
    }
    if (k != i)
        return;
    char path[512] = "";
    do {
        append_name(path, sizeof path, c, k);
        k = c->outbounds[k].proxy_index;
    } while (k != i);
    append_name(path, sizeof path, c, i);
    evp_errlist_add(errs, "outbounds[%zu].proxySettings.tag: the chain loops (%s): no "
                    "outbound in it would ever reach a server", i, path);
}

/* Over a proxied stream V2Ray 4.34 puts tls alone: ws, h2 and an HTTP header are dropped. */
static void keep_tls_only(evp_outbound_conf *oc, size_t i)
{
    evp_stream_conf *sc = &oc->stream;
    size_t kept = 0;
    for (size_t l = 0; l < sc->n; l++) {
        evp_layer_conf *lc = &sc->layers[l];
        if (strcmp(lc->name, "tls") == 0) {
            sc->layers[kept++] = *lc;
            continue;
        }
        evp_warn("outbounds[%zu].streamSettings.%s: ignored through proxySettings, as V2Ray "
                 "4.34 ignores it (only tls goes over the proxied stream; \"transportLayer\": "
                 "true keeps it, as in V2Ray 4.35+)", i, lc->where);
        free(lc->settings_json);
        evp_module_unref(lc->mod);
    }
    sc->n = kept;
}

void evp_proxy_chains_check(evp_config *c, evp_errlist *errs)
{
    int unknown = 0;
    for (size_t i = 0; i < c->n_outbounds; i++) {
        evp_outbound_conf *oc = &c->outbounds[i];
        if (oc->proxy_tag == NULL)
            continue;
        long k = outbound_index(c, oc->proxy_tag);
        if (k < 0) {
            /* V2Ray 4.34 warns and dials the server directly: past the chain. */
            evp_errlist_add(errs, "outbounds[%zu].proxySettings.tag: no outbound is tagged "
                            "\"%s\"", i, oc->proxy_tag);
            unknown = 1;
            continue;
        }
        oc->proxy_index = (size_t)k;
        if (strcmp(oc->protocol, "blackhole") == 0)
            evp_warn("outbounds[%zu].proxySettings: ignored: a blackhole dials nothing", i);
        if (oc->send_through.type != EVP_ADDR_NONE)
            evp_warn("outbounds[%zu].sendThrough: ignored through proxySettings, as in V2Ray "
                     "(the outbound opens no socket of its own)", i);
        if (!oc->proxy_transport_layer)
            keep_tls_only(oc, i);
    }
    for (size_t i = 0; !unknown && i < c->n_outbounds; i++)
        check_loop(c, i, errs);
}
