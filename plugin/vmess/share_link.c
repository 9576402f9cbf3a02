/* streamSettings and a client entry -> a vmess_link, then the asked form (share_link.h).
 * Names of networks are read in any case, as V2Ray reads them. */
#include "share_link.h"

#include "inbound.h"
#include "link_format.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Joined host lists (h2's host array, the http header's Host values) are kept here. */
typedef struct link_text {
    char host[512];
    char path[512];
} link_text;

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

/* A string, or an array of strings joined with ",", into out; "" for anything else. */
static const char *joined(json_t *v, char *out, size_t n)
{
    out[0] = '\0';
    if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
        return out;
    }
    size_t i, len = 0;
    json_t *item;
    json_array_foreach (v, i, item) {
        const char *s = json_string_value(item);
        if (s && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", s);
    }
    return out;
}

/* A header's value in a name -> value(s) object, the name in any case. */
static json_t *header_of(json_t *headers, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach (headers, key, v) {
        if (strcasecmp(key, name) == 0)
            return v;
    }
    return NULL;
}

/* The transport fields of l from streamSettings ss (NULL: plain TCP). */
static void transport_fields(json_t *ss, vmess_link *l, link_text *t)
{
    const char *net = str_or(ss, "network", "tcp");
    l->network = "tcp";
    l->header = "none";
    if (strcasecmp(net, "ws") == 0 || strcasecmp(net, "websocket") == 0) {
        json_t *ws = json_object_get(ss, "wsSettings");
        l->network = "ws";
        l->path = str_or(ws, "path", "/");
        l->host = joined(header_of(json_object_get(ws, "headers"), "Host"), t->host,
                         sizeof t->host);
    } else if (strcasecmp(net, "http") == 0 || strcasecmp(net, "h2") == 0) {
        json_t *h2 = json_object_get(ss, "httpSettings");
        l->network = "http";
        l->path = str_or(h2, "path", "/");
        l->host = joined(json_object_get(h2, "host"), t->host, sizeof t->host);
    } else {
        json_t *header = json_object_get(json_object_get(ss, "tcpSettings"), "header");
        if (strcasecmp(str_or(header, "type", "none"), "http") == 0) {
            json_t *req = json_object_get(header, "request");
            l->header = "http";
            l->path = joined(json_object_get(req, "path"), t->path, sizeof t->path);
            l->host = joined(header_of(json_object_get(req, "headers"), "Host"), t->host,
                             sizeof t->host);
        }
    }
    if (strcasecmp(str_or(ss, "security", "none"), "tls") == 0) {
        l->tls = 1;
        l->sni = str_or(json_object_get(ss, "tlsSettings"), "serverName", "");
    }
}

/* The remark: the user's email, else the inbound's tag, else the address. */
static const char *remark(json_t *user, const evp_link_args *a)
{
    const char *email = str_or(user, "email", "");
    if (email[0])
        return email;
    return a->tag && a->tag[0] ? a->tag : a->address;
}

char *vmess_share_link(const evp_host *host, const evp_link_args *a, char *err, size_t errlen)
{
    const char *format = a->format ? a->format : "v2rayn";
    if (strcmp(format, "v2rayn") != 0 && strcmp(format, "uri") != 0) {
        snprintf(err, errlen, "no link format \"%s\" (v2rayn or uri)", format);
        return NULL;
    }
    json_t *user = json_loads(a->user_json, 0, NULL);
    json_t *ss = a->stream_json ? json_loads(a->stream_json, 0, NULL) : NULL;
    const char *id = str_or(user, "id", NULL);
    json_int_t alter = json_integer_value(json_object_get(user, "alterId"));
    char *text = NULL;
    if (id == NULL || alter < 0 || alter > 65535 || (a->stream_json && ss == NULL)) {
        snprintf(err, errlen, "a user is an object with an id (and alterId 0..65535)");
    } else {
        link_text t;
        vmess_link l = {.name = remark(user, a), .address = a->address, .port = a->port,
                        .id = id, .alter_id = (uint16_t)alter,
                        .security = str_or(user, "security", "auto"), .host = "", .path = "",
                        .sni = ""};
        transport_fields(ss, &l, &t);
        text = strcmp(format, "uri") == 0 ? vmess_link_uri(&l, err, errlen)
                                          : vmess_link_v2rayn(&l);
        if (text == NULL && strcmp(format, "v2rayn") == 0)
            snprintf(err, errlen, "out of memory");
    }
    json_decref(user);
    json_decref(ss);
    /* The host frees the link with libc's free: it comes from host->alloc. */
    char *out = text ? host->alloc(strlen(text) + 1) : NULL;
    if (out)
        strcpy(out, text);
    else if (text)
        snprintf(err, errlen, "out of memory");
    free(text);
    return out;
}

char *vmess_inbound_share_link(void *inst, const evp_link_args *args, char *err,
                               size_t errlen)
{
    return vmess_share_link(vmess_inbound_host(inst), args, err, errlen);
}
