/* streamSettings as V2Ray 4.34 reads them, mapped to transport layers (see the header). What
 * evproxy cannot speak is refused with its path: it must never fall back to plain TCP,
 * where the far end would see garbage (or the client would speak in the clear). */
#include "stream_settings.h"

#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

/* Why a network evproxy does not speak is refused, or NULL for one it speaks. Names are
 * compared in any case, as V2Ray 4.34 lowercases network, security and header type. */
static const char *network_refusal(const char *net)
{
    if (strcasecmp(net, "tcp") == 0 || strcasecmp(net, "raw") == 0 ||
        strcasecmp(net, "ws") == 0 || strcasecmp(net, "websocket") == 0 ||
        strcasecmp(net, "http") == 0 || strcasecmp(net, "h2") == 0)
        return NULL;
    if (strcasecmp(net, "kcp") == 0 || strcasecmp(net, "mkcp") == 0)
        return "is not supported (mKCP runs over UDP; use tcp or ws)";
    if (strcasecmp(net, "quic") == 0)
        return "is not supported (QUIC; use tcp or ws, with tls)";
    if (strcasecmp(net, "domainsocket") == 0 || strcasecmp(net, "ds") == 0)
        return "is not supported (Unix domain sockets; use tcp on loopback)";
    return "is not supported (tcp, ws or http)";
}

/* The object where acceptProxyProtocol is true (tcpSettings, wsSettings or sockopt) and its
 * key, or NULL. */
static json_t *proxy_protocol_at(json_t *ss, const char **key)
{
    static const char *const keys[] = {"tcpSettings", "wsSettings", "sockopt"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *o = json_object_get(ss, keys[i]);
        if (json_is_true(json_object_get(o, "acceptProxyProtocol"))) {
            *key = keys[i];
            return o;
        }
    }
    return NULL;
}

/* Adds layer name with settings (NULL: {}) found under key; its module must be a
 * transport, its settings must fit its schema. */
static void add_layer(evp_stream_conf *sc, const char *name, const char *key, json_t *settings,
                      const char *where, const char *what, const char *schema_dir,
                      evp_registry *reg, evp_errlist *errs)
{
    char err[512], path[160];
    evp_module *mod = evp_registry_get(reg, name, err, sizeof err);
    if (mod == NULL || evp_module_trops(mod) == NULL) {
        if (mod == NULL)
            evp_errlist_add(errs, "%s.streamSettings.%s: no transport layer \"%s\": %s", where,
                            what, name, err);
        else
            evp_errlist_add(errs, "%s.streamSettings.%s: \"%s\" is not a transport layer",
                            where, what, name);
        evp_module_unref(mod);
        return;
    }
    const char *schema = evp_plugin_transport_schema(mod->desc);
    json_t *empty = json_object();
    json_t *obj = json_is_object(settings) ? settings : empty;
    snprintf(path, sizeof path, "%s.streamSettings.%s", where, key);
    if (schema)
        evp_config_validate(schema_dir, schema, obj, path, errs);
    evp_layer_conf *lc = &sc->layers[sc->n++];
    lc->name = name;
    lc->where = key;
    lc->mod = mod;
    lc->settings_json = json_dumps(obj, JSON_COMPACT);
    json_decref(empty);
}

void evp_stream_conf_load(evp_stream_conf *sc, json_t *bound, int server, const char *where,
                          const char *schema_dir, evp_registry *reg, evp_errlist *errs)
{
    memset(sc, 0, sizeof *sc);
    json_t *ss = json_object_get(bound, "streamSettings");
    if (!json_is_object(ss))
        return;
    const char *net = str_or(ss, "network", "tcp");
    const char *sec = str_or(ss, "security", "none");
    const char *why = network_refusal(net);
    int errors = errs->count;
    if (why)
        evp_errlist_add(errs, "%s.streamSettings.network: \"%s\" %s", where, net, why);
    if (strcasecmp(sec, "xtls") == 0)
        evp_errlist_add(errs, "%s.streamSettings.security: \"xtls\" is not supported (XTLS "
                        "splices TLS records in ways V2Ray 4.34 does not; use tls)", where);
    else if (strcasecmp(sec, "none") != 0 && strcasecmp(sec, "tls") != 0 && sec[0] != '\0')
        evp_errlist_add(errs, "%s.streamSettings.security: \"%s\" is not supported (none or "
                        "tls)", where, sec);
    json_t *tcp = json_object_get(ss, "tcpSettings");
    const char *htype = str_or(json_object_get(tcp, "header"), "type", "none");
    int is_tcp = strcasecmp(net, "tcp") == 0 || strcasecmp(net, "raw") == 0;
    if (is_tcp && strcasecmp(htype, "none") != 0 && strcasecmp(htype, "http") != 0)
        evp_errlist_add(errs, "%s.streamSettings.tcpSettings.header.type: \"%s\" is not "
                        "supported (none or http)", where, htype);
    int is_h2 = strcasecmp(net, "http") == 0 || strcasecmp(net, "h2") == 0;
    /* V2Ray's h2 server also serves h2c (behind a TLS front); its client refuses to dial
     * without tls ("TLS must be enabled for http transport"), as evproxy's does. */
    if (is_h2 && !server && strcasecmp(sec, "tls") != 0)
        evp_errlist_add(errs, "%s.streamSettings.security: network \"%s\" needs \"tls\" on an "
                        "outbound, as V2Ray's client does", where, net);
    if (errs->count != errors)
        return;
    const char *pp_key = NULL;
    json_t *pp = proxy_protocol_at(ss, &pp_key);
    if (pp && !server)
        evp_warn("%s.streamSettings.%s.acceptProxyProtocol: ignored on an outbound", where,
                 pp_key);
    else if (pp)
        add_layer(sc, "proxy-protocol", pp_key, pp, where, pp_key, schema_dir, reg, errs);
    if (strcasecmp(sec, "tls") == 0)
        add_layer(sc, "tls", "tlsSettings", json_object_get(ss, "tlsSettings"), where,
                  "security", schema_dir, reg, errs);
    if (is_h2)
        add_layer(sc, "h2", "httpSettings", json_object_get(ss, "httpSettings"), where,
                  "network", schema_dir, reg, errs);
    else if (!is_tcp)
        add_layer(sc, "ws", "wsSettings", json_object_get(ss, "wsSettings"), where, "network",
                  schema_dir, reg, errs);
    else if (strcasecmp(htype, "http") == 0)
        add_layer(sc, "http-header", "tcpSettings", tcp, where, "tcpSettings.header.type",
                  schema_dir, reg, errs);
    if (sc->n > 0)
        sc->stream_json = json_dumps(ss, JSON_COMPACT);
}

void evp_stream_conf_free(evp_stream_conf *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free(sc->layers[i].settings_json);
        evp_module_unref(sc->layers[i].mod);
    }
    free(sc->stream_json);
    memset(sc, 0, sizeof *sc);
}

evp_transports *evp_stream_conf_build(const evp_stream_conf *sc, int server, const char *tag,
                                      char *err, size_t errlen)
{
    err[0] = '\0';
    if (sc->n == 0)
        return NULL;
    return evp_transports_new(sc->layers, sc->n, server, tag, sc->stream_json, err, errlen);
}
