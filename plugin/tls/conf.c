/* Reads a tlsSettings object (V2Ray 4.34's keys, plus pinnedPeerCertificateChainSha256 from
 * later versions) into a tls_conf, with ALPN defaults chosen from the layer above. */
#include "conf.h"

#include "creds.h"
#include "errf.h"
#include "mem.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* TLS 1.2 is the oldest version spoken; GnuTLS's NORMAL set otherwise, but with X25519 the
 * first key exchange group, as Go's TLS (V2Ray's) has it: NORMAL puts the NIST curves first,
 * and P-256 cost a client a quarter of its CPU per connect. */
#define TLS_PRIORITY                                                                        \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"  \
    "+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:+GROUP-FFDHE2048:+GROUP-FFDHE3072:"       \
    "+GROUP-FFDHE4096:+GROUP-FFDHE6144:+GROUP-FFDHE8192"

enum { NET_TCP, NET_WS, NET_HTTP };

/* streamSettings.network as V2Ray names it ("ws"/"websocket", "h2"/"http", else tcp). */
static int stream_network(const char *stream_json)
{
    json_t *stream = stream_json ? json_loads(stream_json, 0, NULL) : NULL;
    const char *n = json_string_value(json_object_get(stream, "network"));
    int net = NET_TCP;
    if (n != NULL && (strcasecmp(n, "ws") == 0 || strcasecmp(n, "websocket") == 0))
        net = NET_WS;
    else if (n != NULL && (strcasecmp(n, "h2") == 0 || strcasecmp(n, "http") == 0))
        net = NET_HTTP;
    json_decref(stream);
    return net;
}

/* Appends one ALPN name to c; 0, or -1 and err. */
static int add_alpn(tls_conf *c, size_t *used, const char *name, size_t len, char *err,
                    size_t errlen)
{
    if (len == 0 || len > 255) {
        tls_errf(err, errlen, "alpn: a name must be 1..255 bytes");
        return -1;
    }
    if (c->n_alpn == TLS_ALPN_MAX) {
        tls_errf(err, errlen, "alpn: more than %d names", TLS_ALPN_MAX);
        return -1;
    }
    memcpy(c->alpn_text + *used, name, len);
    c->alpn_text[*used + len] = '\0';
    c->alpn[c->n_alpn].data = (unsigned char *)c->alpn_text + *used;
    c->alpn[c->n_alpn].size = (unsigned)len;
    c->n_alpn++;
    *used += len + 1;
    return 0;
}

/* The names in alpn (an array, or one comma-separated string as V2Ray's StringList reads),
 * else the defaults: V2Ray's (client h2 + http/1.1, tcp server h2), http/1.1 only when the
 * layer above is WebSocket. A WebSocket server never offers h2 (a CDN or browser would then
 * speak HTTP/2 and never upgrade). 0, or -1 and err. */
static int read_alpn(tls_conf *c, json_t *alpn, int net, const char *tag, char *err, size_t errlen)
{
    /* An h2 layer speaks HTTP/2 only: its client must not land on http/1.1 (V2Ray's asks
     * for h2 alone). */
    const char *dflt = net == NET_WS     ? "http/1.1"
                       : net == NET_HTTP ? "h2"
                       : c->server       ? "h2"
                                         : "h2,http/1.1";
    const char *text = json_is_string(alpn) ? json_string_value(alpn) : NULL;
    size_t cap = 64 + (text ? strlen(text) : 0), i, used = 0;
    json_t *name;
    json_array_foreach (alpn, i, name)
        cap += json_string_length(name) + 1;
    if (json_is_array(alpn) ? json_array_size(alpn) == 0 : text == NULL || *text == '\0')
        text = dflt;
    c->alpn_text = tls_alloc(c->host, cap);
    if (c->alpn_text == NULL) {
        tls_errf(err, errlen, "out of memory");
        return -1;
    }
    if (text == NULL) { /* a non-empty array */
        json_array_foreach (alpn, i, name) {
            if (!json_is_string(name)) {
                tls_errf(err, errlen, "alpn[%zu]: not a string", i);
                return -1;
            }
            if (add_alpn(c, &used, json_string_value(name), json_string_length(name), err,
                         errlen) != 0)
                return -1;
        }
    } else {
        for (const char *p = text;; p++) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (add_alpn(c, &used, p, len, err, errlen) != 0)
                return -1;
            if (end == NULL)
                break;
            p = end;
        }
    }
    if (!c->server || net != NET_WS)
        return 0;
    for (unsigned k = 0; k < c->n_alpn; k++) {
        if (c->alpn[k].size == 2 && memcmp(c->alpn[k].data, "h2", 2) == 0) {
            c->host->log(EVP_LOG_WARNING,
                         "tls [%s]: alpn \"h2\" not offered: a WebSocket inbound speaks "
                         "HTTP/1.1",
                         tag);
            memmove(&c->alpn[k], &c->alpn[k + 1], (c->n_alpn - k - 1) * sizeof c->alpn[0]);
            c->n_alpn--;
            k--;
        }
    }
    return 0;
}

/* pinnedPeerCertificateChainSha256: base64 SHA-256 values of the peer's chain (pin.c says
 * how the chain is hashed). 0, or -1 and err. */
static int read_pins(tls_conf *c, json_t *pins, char *err, size_t errlen)
{
    size_t i;
    json_t *pin;
    json_array_foreach (pins, i, pin) {
        gnutls_datum_t in = {(unsigned char *)json_string_value(pin),
                             (unsigned)json_string_length(pin)},
                       raw = {NULL, 0};
        if (i == TLS_PINS_MAX) {
            tls_errf(err, errlen, "pinnedPeerCertificateChainSha256: more than %d", TLS_PINS_MAX);
            return -1;
        }
        int ok =
            in.data != NULL && gnutls_base64_decode2(&in, &raw) == 0 && raw.size == TLS_SHA256_LEN;
        if (ok)
            memcpy(c->pins[i], raw.data, TLS_SHA256_LEN);
        gnutls_free(raw.data);
        if (!ok) {
            tls_errf(err, errlen, "pinnedPeerCertificateChainSha256[%zu]: not a base64 SHA-256", i);
            return -1;
        }
        c->n_pins++;
    }
    return 0;
}

/* Reads an optional boolean (absent or null: dflt) into *val; 0, or -1 and err. */
static int get_bool(json_t *obj, const char *key, int dflt, uint8_t *val, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
        tls_errf(err, errlen, "%s: not a boolean", key);
        return -1;
    }
    *val = v == NULL || json_is_null(v) ? (uint8_t)dflt : json_is_true(v);
    return 0;
}

/* Everything but the credentials; 0, or -1 and err. */
static int read_settings(tls_conf *c, json_t *root, int net, const char *tag, uint8_t *no_roots,
                         char *err, size_t errlen)
{
    uint8_t client_auth;
    if (get_bool(root, "allowInsecure", 0, &c->allow_insecure, err, errlen) != 0 ||
        get_bool(root, "disableSystemRoot", 0, no_roots, err, errlen) != 0 ||
        get_bool(root, "enableSessionResumption", 1, &c->resumption, err, errlen) != 0 ||
        get_bool(root, "verifyClientCertificate", 0, &client_auth, err, errlen) != 0)
        return -1;
    if (client_auth && c->server) {
        tls_errf(err, errlen,
                 "verifyClientCertificate: client certificates are not "
                 "supported");
        return -1;
    }
    json_t *sn = json_object_get(root, "serverName");
    if (json_is_string(sn) && json_string_length(sn) > 0) {
        c->server_name = tls_strndup(c->host, json_string_value(sn), json_string_length(sn));
        if (c->server_name == NULL) {
            tls_errf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (read_alpn(c, json_object_get(root, "alpn"), net, tag, err, errlen) != 0)
        return -1;
    return read_pins(c, json_object_get(root, "pinnedPeerCertificateChainSha256"), err, errlen);
}

tls_conf *tls_conf_build(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen)
{
    const char *tag = args->tag ? args->tag : "";
    json_t *root = json_loads(args->settings_json ? args->settings_json : "{}", 0, NULL);
    tls_conf *c = tls_calloc(host, 1, sizeof *c);
    uint8_t no_roots = 0;
    if (c == NULL) {
        tls_errf(err, errlen, "out of memory");
        goto fail;
    }
    atomic_init(&c->refs, 1);
    c->host = host;
    if (!json_is_object(root)) {
        tls_errf(err, errlen, "not a JSON object");
        goto fail;
    }
    c->server = args->server != 0;
    if (read_settings(c, root, stream_network(args->stream_json), tag, &no_roots, err, errlen) != 0)
        goto fail;
    json_t *certs = json_object_get(root, "certificates");
    if (!c->server && no_roots && json_array_size(certs) == 0 && !c->allow_insecure) {
        tls_errf(err, errlen,
                 "disableSystemRoot: with no certificates listed nothing "
                 "is trusted");
        goto fail;
    }
    if (tls_creds_build(host, certs, c->server, no_roots, &c->creds, err, errlen) != 0)
        goto fail;
    int g = gnutls_priority_init2(&c->priority, TLS_PRIORITY, NULL, 0);
    if (g < 0) {
        tls_errf(err, errlen, "tls: priorities \"%s\": %s", TLS_PRIORITY, gnutls_strerror(g));
        goto fail;
    }
    json_decref(root);
    return c;
fail:
    json_decref(root);
    tls_conf_unref(c);
    return NULL;
}

tls_conf *tls_conf_ref(tls_conf *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void tls_conf_unref(tls_conf *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (c->creds != NULL)
        gnutls_certificate_free_credentials(c->creds);
    if (c->priority != NULL)
        gnutls_priority_deinit(c->priority);
    const evp_host *h = c->host;
    if (c->alpn_text != NULL)
        tls_free(h, c->alpn_text);
    if (c->server_name != NULL)
        tls_free(h, c->server_name);
    tls_free(h, c);
}
