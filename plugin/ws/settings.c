/* Reads wsSettings with jansson (see settings.h). Errors name the key inside wsSettings: the
 * host puts "streamSettings.wsSettings: " in front. */
#include "settings.h"

#include "trusted.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void fail(char *err, size_t errlen, const char *fmt, ...) EVP_PRINTF(3, 4);
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_n(const evp_host *h, const char *s, size_t n)
{
    char *d = h->mem_alloc(h, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The string member key of obj, or NULL when absent, null or empty; -1 if not a string. */
static int get_string(json_t *obj, const char *key, const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        fail(err, errlen, "%s: not a string", key);
        return -1;
    }
    if (json_string_length(v) > 0)
        *out = json_string_value(v);
    return 0;
}

/* The path as V2Ray normalises it: "/" when empty, a '/' put in front when missing. */
static int read_path(ws_config *c, json_t *root, char *err, size_t errlen)
{
    const char *p, *legacy;
    if (get_string(root, "path", &p, err, errlen) != 0 ||
        get_string(root, "Path", &legacy, err, errlen) != 0)
        return -1;
    if (p == NULL)
        p = legacy != NULL ? legacy : "/";
    for (const char *q = p; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == 0x7f) {
            fail(err, errlen, "path: a space or control character");
            return -1;
        }
    }
    size_t n = strlen(p), lead = p[0] != '/';
    c->path = c->host->mem_alloc(c->host, n + lead + 1);
    if (c->path == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    c->path[0] = '/';
    memcpy(c->path + lead, p, n + 1);
    c->path_len = strcspn(c->path, "?");
    return 0;
}

/* Go's canonical header name (textproto): upper case after each '-', lower elsewhere. */
static void canonical_name(char *s)
{
    int up = 1;
    for (; *s; s++) {
        *s = (char)(up ? toupper((unsigned char)*s) : tolower((unsigned char)*s));
        up = *s == '-';
    }
}

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

/* Headers the WebSocket handshake sets itself: a configured one would clash. */
static int reserved_name(const char *s)
{
    static const char *const names[] = {"Upgrade",
                                        "Connection",
                                        "Sec-WebSocket-Key",
                                        "Sec-WebSocket-Version",
                                        "Sec-WebSocket-Extensions",
                                        "Content-Length",
                                        "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i]) == 0)
            return 1;
    return 0;
}

static int valid_value(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 0;
    return 1;
}

static int read_headers(ws_config *c, json_t *root, char *err, size_t errlen)
{
    json_t *obj = json_object_get(root, "headers");
    if (obj == NULL || json_is_null(obj))
        return 0;
    if (!json_is_object(obj)) {
        fail(err, errlen, "headers: not an object");
        return -1;
    }
    size_t count = json_object_size(obj);
    c->headers = c->host->mem_calloc(c->host, count ? count : 1, sizeof(*c->headers));
    if (c->headers == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach (obj, key, v) {
        const char *val = json_string_value(v);
        if (val == NULL || !valid_value(val)) {
            fail(err, errlen, "headers.%.40s: not a one-line string", key);
            return -1;
        }
        if (!is_token(key) || reserved_name(key)) {
            fail(err, errlen, "headers.%.40s: %s", key,
                 is_token(key) ? "set by the WebSocket handshake itself" : "not a header name");
            return -1;
        }
        char *value = dup_n(c->host, val, strlen(val));
        if (value == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        if (strcasecmp(key, "Host") == 0) {
            c->host->mem_free(c->host, c->host_header);
            c->host_header = value;
            continue;
        }
        ws_header *h = &c->headers[c->n_headers++];
        h->value = value;
        h->name = dup_n(c->host, key, strlen(key));
        if (h->name == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        canonical_name(h->name);
    }
    return 0;
}

static int read_early_data(ws_config *c, json_t *root, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "maxEarlyData");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            fail(err, errlen, "maxEarlyData: not an integer in 0..%d", INT32_MAX);
            return -1;
        }
        c->max_early = (uint32_t)json_integer_value(v);
    }
    const char *name;
    if (get_string(root, "earlyDataHeaderName", &name, err, errlen) != 0)
        return -1;
    if (name != NULL && (!is_token(name) || reserved_name(name))) {
        fail(err, errlen, "earlyDataHeaderName: not a header name of its own");
        return -1;
    }
    if (name != NULL && (c->ed_header = dup_n(c->host, name, strlen(name))) == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* trustedProxies (evproxy's): CIDRs; loopback when absent, nobody when empty. */
static int read_trusted(ws_config *c, json_t *root, char *err, size_t errlen)
{
    json_t *arr = json_object_get(root, "trustedProxies");
    if (arr == NULL || json_is_null(arr)) {
        c->trusted = c->host->mem_calloc(c->host, 2, sizeof(*c->trusted));
        if (c->trusted == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        c->n_trusted = ws_net_loopback(c->trusted);
        return 0;
    }
    if (!json_is_array(arr)) {
        fail(err, errlen, "trustedProxies: not an array");
        return -1;
    }
    size_t n = json_array_size(arr);
    c->trusted = c->host->mem_calloc(c->host, n ? n : 1, sizeof(*c->trusted));
    if (c->trusted == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s == NULL || ws_net_parse(s, &c->trusted[i]) != 0) {
            fail(err, errlen, "trustedProxies[%zu]: not an IP or CIDR", i);
            return -1;
        }
    }
    c->n_trusted = n;
    return 0;
}

/* Whether TLS runs below: streamSettings.security is "tls". */
static int tls_below(const char *stream_json)
{
    if (stream_json == NULL)
        return 0;
    json_t *root = json_loads(stream_json, 0, NULL);
    const char *sec = json_string_value(json_object_get(root, "security"));
    int tls = sec != NULL && strcasecmp(sec, "tls") == 0;
    json_decref(root);
    return tls;
}

ws_config *ws_config_new(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen)
{
    json_error_t jerr;
    const char *text = args->settings_json != NULL ? args->settings_json : "{}";
    json_t *root = json_loads(text, 0, &jerr);
    if (!json_is_object(root)) {
        fail(err, errlen, "not a JSON object");
        json_decref(root);
        return NULL;
    }
    ws_config *c = host->mem_calloc(host, 1, sizeof(*c));
    if (c == NULL) {
        fail(err, errlen, "out of memory");
        json_decref(root);
        return NULL;
    }
    c->host = host;
    c->server = args->server;
    c->tls_below = tls_below(args->stream_json);
    if (read_path(c, root, err, errlen) != 0 || read_headers(c, root, err, errlen) != 0 ||
        read_early_data(c, root, err, errlen) != 0 || read_trusted(c, root, err, errlen) != 0) {
        ws_config_free(c);
        c = NULL;
    }
    json_decref(root);
    return c;
}

void ws_config_free(ws_config *c)
{
    if (c == NULL)
        return;
    const evp_host *h = c->host;
    for (size_t i = 0; i < c->n_headers; i++) {
        h->mem_free(h, c->headers[i].name);
        h->mem_free(h, c->headers[i].value);
    }
    h->mem_free(h, c->headers);
    h->mem_free(h, c->path);
    h->mem_free(h, c->host_header);
    h->mem_free(h, c->ed_header);
    h->mem_free(h, c->trusted);
    h->mem_free(h, c);
}
