/* httpSettings as V2Ray reads them (host, path; method and headers from later V2Ray) into an
 * h2_config. Errors name the key inside httpSettings: the host prefixes the rest. */
#include "h2_int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static char *dup_str(const evp_host *h, const char *s, size_t lead_slash)
{
    size_t n = strlen(s);
    char *d = h->mem_alloc(h, n + lead_slash + 1);
    if (d != NULL) {
        d[0] = '/';
        memcpy(d + lead_slash, s, n + 1);
    }
    return d;
}

/* A value V2Ray reads as a StringList: one string split at commas, or an array of strings.
 * Calls add(ctx, item) for each; -1 when add failed or the value has another type. */
static int each_string(json_t *v, int (*add)(void *, const char *), void *ctx)
{
    if (json_is_string(v)) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            if (add(ctx, t) != 0)
                return -1;
        return 0;
    }
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return -1;
    json_array_foreach (v, i, item)
        if (!json_is_string(item) || add(ctx, json_string_value(item)) != 0)
            return -1;
    return 0;
}

static int add_host(void *ctx, const char *name)
{
    h2_config *c = ctx;
    char **grown = c->host->mem_realloc(c->host, c->hosts, (c->n_hosts + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    c->hosts = grown;
    if ((c->hosts[c->n_hosts] = dup_str(c->host, name, 0)) == NULL)
        return -1;
    c->n_hosts++;
    return 0;
}

/* headers: Go's Header.Set keeps the last value of a list. */
static int set_last(void *ctx, const char *value)
{
    h2_config *c = ctx;
    h2_header *h = &c->headers[c->n_headers];
    c->host->mem_free(c->host, h->value);
    h->value = dup_str(c->host, value, 0);
    return h->value ? 0 : -1;
}

static int read_headers(h2_config *c, json_t *obj, char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    if (obj == NULL)
        return 0;
    c->headers = c->host->mem_calloc(c->host, json_object_size(obj) + 1, sizeof *c->headers);
    if (c->headers == NULL)
        return snprintf(err, errlen, "out of memory"), -1;
    json_object_foreach (obj, name, v) {
        h2_header *h = &c->headers[c->n_headers];
        if ((h->name = dup_str(c->host, name, 0)) == NULL)
            return snprintf(err, errlen, "out of memory"), -1;
        for (char *p = h->name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (each_string(v, set_last, c) != 0 || h->value == NULL)
            return snprintf(err, errlen, "headers.%s: not a string or list of strings", name),
                   -1;
        c->n_headers++;
    }
    return 0;
}

h2_config *h2_config_new(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loads(args->settings_json ? args->settings_json : "{}", 0, &jerr);
    h2_config *c = host->mem_calloc(host, 1, sizeof *c);
    if (root == NULL || c == NULL) {
        snprintf(err, errlen, root ? "out of memory" : "not JSON: %s", jerr.text);
        json_decref(root);
        host->mem_free(host, c);
        return NULL;
    }
    c->host = host;
    c->server = args->server;
    json_t *hosts = json_object_get(root, "host");
    const char *path = json_string_value(json_object_get(root, "path"));
    const char *method = json_string_value(json_object_get(root, "method"));
    int bad = 0;
    if (hosts != NULL && !json_is_null(hosts) && each_string(hosts, add_host, c) != 0)
        bad = snprintf(err, errlen, "host: not a string or list of strings");
    else if (c->n_hosts == 0 && add_host(c, "www.example.com") != 0)
        bad = snprintf(err, errlen, "out of memory");
    else if ((c->path = dup_str(host, path && *path ? path : "/",
                                path && *path && *path != '/')) == NULL ||
             (c->method = dup_str(host, method && *method ? method : "PUT", 0)) == NULL)
        bad = snprintf(err, errlen, "out of memory");
    else if (read_headers(c, json_object_get(root, "headers"), err, errlen) != 0)
        bad = 1;
    json_decref(root);
    if (bad) {
        h2_config_free(c);
        return NULL;
    }
    return c;
}

void h2_config_free(h2_config *c)
{
    if (c == NULL)
        return;
    const evp_host *h = c->host;
    for (size_t i = 0; i < c->n_hosts; i++)
        h->mem_free(h, c->hosts[i]);
    for (size_t i = 0; c->headers && c->headers[i].name; i++) {
        h->mem_free(h, c->headers[i].name);
        h->mem_free(h, c->headers[i].value);
    }
    h->mem_free(h, c->hosts);
    h->mem_free(h, c->headers);
    h->mem_free(h, c->path);
    h->mem_free(h, c->method);
    h->mem_free(h, c);
}
