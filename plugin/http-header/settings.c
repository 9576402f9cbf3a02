/* Reading tcpSettings.header: V2Ray 4.34's defaults, its StringList, its header order. */
#include "settings.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct default_header {
    const char *name;
    const char *values[2];
    size_t n;
} default_header;

/* AuthenticatorRequest.Build's and AuthenticatorResponse.Build's defaults, in their order. */
static const default_header request_defaults[] = {
    {"Host", {"www.baidu.com", "www.bing.com"}, 2},
    {"User-Agent",
     {"Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/53.0.2785.143 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 10_0_2 like Mac OS X) AppleWebKit/601.1 (KHTML, "
      "like Gecko) CriOS/53.0.2785.109 Mobile/14A456 Safari/601.1.46"},
     2},
    {"Accept-Encoding", {"gzip, deflate"}, 1},
    {"Connection", {"keep-alive"}, 1},
    {"Pragma", {"no-cache"}, 1},
};
static const default_header response_defaults[] = {
    {"Content-Type", {"application/octet-stream", "video/mpeg"}, 2},
    {"Transfer-Encoding", {"chunked"}, 1},
    {"Connection", {"keep-alive"}, 1},
    {"Pragma", {"no-cache"}, 1},
    {"Cache-Control", {"private", "no-cache"}, 2},
};
/* resp.go's 400 and 404 share these. */
static const default_header refusal_headers[] = {
    {"Connection", {"close"}, 1},
    {"Cache-Control", {"private"}, 1},
    {"Content-Length", {"0"}, 1},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "tcpSettings: out of memory");
    return -1;
}

static void strs_free(const evp_host *h, hh_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        h->mem_free(h, s->v[i]);
    h->mem_free(h, s->v);
    s->v = NULL;
    s->n = 0;
}

static int strs_push(const evp_host *h, hh_strs *s, const char *p, size_t len)
{
    char **v = h->mem_realloc(h, s->v, (s->n + 1) * sizeof *v);
    if (v == NULL)
        return -1;
    s->v = v;
    if ((v[s->n] = h->mem_alloc(h, len + 1)) == NULL)
        return -1;
    memcpy(v[s->n], p, len);
    v[s->n++][len] = '\0';
    return 0;
}

/* A header line must stay one line: no CR, LF or NUL in what goes into it. */
static int one_line(const json_t *str)
{
    const char *p = json_string_value(str);
    size_t n = json_string_length(str);
    return strlen(p) == n && strpbrk(p, "\r\n") == NULL;
}

/* V2Ray's StringList: an array of strings, or one string split at every comma. */
static int strs_from_json(const evp_host *h, const json_t *v, hh_strs *out, const char *path,
                          char *err, size_t errlen)
{
    if (json_is_string(v)) {
        if (!one_line(v))
            goto line_break;
        const char *p = json_string_value(v);
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (strs_push(h, out, p, len) != 0)
                return oom(err, errlen);
            if (comma == NULL)
                return 0;
            p = comma + 1;
        }
    }
    if (!json_is_array(v)) {
        snprintf(err, errlen, "%s: not a string or an array of strings", path);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach (v, i, e) {
        if (!json_is_string(e)) {
            snprintf(err, errlen, "%s[%zu]: not a string", path, i);
            return -1;
        }
        if (!one_line(e))
            goto line_break;
        if (strs_push(h, out, json_string_value(e), json_string_length(e)) != 0)
            return oom(err, errlen);
    }
    return 0;
line_break:
    snprintf(err, errlen, "%s: a CR, LF or NUL would break the header's lines", path);
    return -1;
}

/* The string at o[key]: def when absent, null or "" (V2Ray's "if len(v.X) > 0"). */
static int get_text(const json_t *o, const char *key, const char *def, const char **out,
                    const char *path, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    *out = def;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !one_line(v)) {
        snprintf(err, errlen, "%s.%s: not a one-line string", path, key);
        return -1;
    }
    if (json_string_length(v) > 0)
        *out = json_string_value(v);
    return 0;
}

static int add_defaults(const evp_host *h, hh_template *t, const default_header *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: ", d[i].name);
        if (hh_template_add(h, t, prefix, d[i].values, d[i].n, "") != 0)
            return -1;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* headers {name: StringList} in name order (Go's sort.Strings), or the defaults when the
 * object is absent or empty. *has_date: one of them is named Date (any case). */
static int add_headers(const evp_host *h, hh_template *t, const json_t *o, const char *path,
                       const default_header *defaults, size_t n_defaults, int *has_date, char *err,
                       size_t errlen)
{
    const json_t *hdrs = json_object_get(o, "headers");
    *has_date = 0;
    if (hdrs == NULL || json_is_null(hdrs) || json_object_size(hdrs) == 0)
        return add_defaults(h, t, defaults, n_defaults) == 0 ? 0 : oom(err, errlen);
    if (!json_is_object(hdrs)) {
        snprintf(err, errlen, "%s.headers: not an object", path);
        return -1;
    }
    size_t n = json_object_size(hdrs), i = 0;
    const char **names = h->mem_calloc(h, n, sizeof *names);
    if (names == NULL)
        return oom(err, errlen);
    const char *name;
    const json_t *v;
    json_object_foreach ((json_t *)hdrs, name, v)
        names[i++] = name;
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        char where[320], shown[4 * 50 + 1];
        hh_strs values = {0};
        /* The name is the user's: escaped, so a reason naming it stays one line. */
        size_t name_len = strlen(names[i]);
        h->log_escape(names[i], name_len < 50 ? name_len : 50, shown, sizeof shown);
        snprintf(where, sizeof where, "%s.headers.%s", path, shown);
        v = json_object_get(hdrs, names[i]);
        if (json_is_null(v)) {
            snprintf(err, errlen, "%s: empty HTTP header value", where);
            rc = -1;
        } else if (strpbrk(names[i], "\r\n") != NULL) {
            snprintf(err, errlen, "%s: a CR or LF in a header name", where);
            rc = -1;
        } else if ((rc = strs_from_json(h, v, &values, where, err, errlen)) == 0) {
            char *prefix = hh_concat(h, names[i], ": ", "");
            if (prefix == NULL ||
                hh_template_add(h, t, prefix, (const char *const *)values.v, values.n, "") != 0)
                rc = oom(err, errlen);
            h->mem_free(h, prefix);
            *has_date |= strcasecmp(names[i], "Date") == 0;
        }
        strs_free(h, &values);
    }
    h->mem_free(h, (void *)names);
    return rc;
}

/* header[key] when it is an object or absent (NULL: jansson's getters then find nothing, so
 * every field keeps its default); -1 and err when it is something else. */
static int section(const json_t *header, const char *key, const json_t **out, char *err,
                   size_t errlen)
{
    *out = json_object_get(header, key);
    if (*out == NULL || json_is_null(*out) || json_is_object(*out))
        return 0;
    snprintf(err, errlen, "tcpSettings.header.%s: not an object", key);
    return -1;
}

static int parse_request(const evp_host *h, const json_t *header, hh_settings *s, char *err,
                         size_t errlen)
{
    static const char where[] = "tcpSettings.header.request";
    const json_t *o, *path;
    const char *version, *method;
    if (section(header, "request", &o, err, errlen) != 0 ||
        get_text(o, "version", "1.1", &version, where, err, errlen) != 0 ||
        get_text(o, "method", "GET", &method, where, err, errlen) != 0)
        return -1;
    if ((path = json_object_get(o, "path")) != NULL && !json_is_null(path) &&
        strs_from_json(h, path, &s->paths, "tcpSettings.header.request.path", err, errlen) != 0)
        return -1;
    if (s->paths.n == 0 && strs_push(h, &s->paths, "/", 1) != 0)
        return oom(err, errlen);
    char *method_sp = hh_concat(h, method, " ", ""),
         *sp_version = hh_concat(h, " HTTP/", version, "");
    int rc = method_sp == NULL || sp_version == NULL ||
             hh_template_add(h, &s->request, method_sp, (const char *const *)s->paths.v, s->paths.n,
                             sp_version) != 0;
    h->mem_free(h, method_sp);
    h->mem_free(h, sp_version);
    if (rc)
        return oom(err, errlen);
    int has_date;
    return add_headers(h, &s->request, o, where, request_defaults, N_OF(request_defaults),
                       &has_date, err, errlen);
}

static int parse_response(const evp_host *h, const json_t *header, hh_settings *s, char *err,
                          size_t errlen)
{
    static const char where[] = "tcpSettings.header.response";
    const json_t *o;
    const char *version, *status, *reason;
    if (section(header, "response", &o, err, errlen) != 0 ||
        get_text(o, "version", "1.1", &version, where, err, errlen) != 0 ||
        get_text(o, "status", "200", &status, where, err, errlen) != 0 ||
        get_text(o, "reason", "OK", &reason, where, err, errlen) != 0)
        return -1;
    char *head = hh_concat(h, "HTTP/", version, " "), *tail = hh_concat(h, " ", reason, "");
    const char *code[1] = {status};
    int rc =
        head == NULL || tail == NULL || hh_template_add(h, &s->response, head, code, 1, tail) != 0;
    h->mem_free(h, head);
    h->mem_free(h, tail);
    if (rc)
        return oom(err, errlen);
    int has_date;
    if (add_headers(h, &s->response, o, where, response_defaults, N_OF(response_defaults),
                    &has_date, err, errlen) != 0)
        return -1;
    s->response.add_date = !has_date;
    return 0;
}

static int refusal(const evp_host *h, hh_template *t, const char *status_line)
{
    t->add_date = 1;
    return hh_template_add(h, t, status_line, NULL, 0, "") != 0 ||
                   add_defaults(h, t, refusal_headers, N_OF(refusal_headers)) != 0
               ? -1
               : 0;
}

static int parse_header(const evp_host *h, const json_t *root, hh_settings *s, char *err,
                        size_t errlen)
{
    const json_t *header = json_object_get(root, "header"), *type;
    if (!json_is_object(header)) {
        snprintf(err, errlen, "tcpSettings.header: %s", header ? "not an object" : "missing");
        return -1;
    }
    type = json_object_get(header, "type");
    if (!json_is_string(type) || strcasecmp(json_string_value(type), "http") != 0) {
        snprintf(err, errlen,
                 "tcpSettings.header.type: not \"http\" (the http-header layer "
                 "runs only for it)");
        return -1;
    }
    if (parse_request(h, header, s, err, errlen) != 0 ||
        parse_response(h, header, s, err, errlen) != 0)
        return -1;
    if (refusal(h, &s->bad_request, "HTTP/1.1 400 Bad Request") != 0 ||
        refusal(h, &s->not_found, "HTTP/1.1 404 Not Found") != 0)
        return oom(err, errlen);
    return 0;
}

int hh_settings_parse(const evp_host *h, const char *json, hh_settings *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *root = json_loads(json ? json : "{}", JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "tcpSettings: bad JSON at line %d: %s", je.line, je.text);
        for (char *c = err; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20)
                *c = ' '; /* jansson quotes the text near the error, line breaks and all */
        return -1;
    }
    int rc = json_is_object(root) ? parse_header(h, root, s, err, errlen) : -1;
    if (!json_is_object(root))
        snprintf(err, errlen, "tcpSettings: not an object");
    json_decref(root);
    if (rc != 0)
        hh_settings_free(h, s);
    return rc;
}

void hh_settings_free(const evp_host *h, hh_settings *s)
{
    hh_template_free(h, &s->request);
    hh_template_free(h, &s->response);
    hh_template_free(h, &s->bad_request);
    hh_template_free(h, &s->not_found);
    strs_free(h, &s->paths);
}
