/* JSON Schema draft-07 validator: loading, the error/path plumbing and the public entry points.
 * Claimed: every validation keyword of draft-07, $ref within the document (JSON pointers with
 * %- and ~-escapes, $id-based bases and anchors), the bundled draft-07 metaschema by its $id,
 * and format uuid/ipv4/ipv6/hostname. Not claimed: remote refs (nothing is ever fetched). */
#include "jsonschema_int.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EVP_PREFIX
#define EVP_PREFIX "/usr/local"
#endif

#define META_FILE "draft-07.json"

/* Compiles every pattern the document may use, so validation only reads the schema. */
static void collect_patterns(evp_schema *s, json_t *node);

static void add_pattern(evp_schema *s, const char *src)
{
    for (size_t i = 0; i < s->n_patterns; i++)
        if (strcmp(s->patterns[i].src, src) == 0)
            return;
    evp_js_pattern *p = realloc(s->patterns, (s->n_patterns + 1) * sizeof *p);
    if (p == NULL)
        return;
    s->patterns = p;
    p[s->n_patterns].src = strdup(src);
    if (p[s->n_patterns].src == NULL)
        return;
    p[s->n_patterns].re = evp_js_regex_compile(src, strlen(src));
    s->n_patterns++;
}

static void collect_patterns(evp_schema *s, json_t *node)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_array(node)) {
        json_array_foreach (node, i, v)
            collect_patterns(s, v);
        return;
    }
    if (!json_is_object(node))
        return;
    json_object_foreach (node, key, v) {
        if (strcmp(key, "pattern") == 0 && json_is_string(v))
            add_pattern(s, json_string_value(v));
        if (strcmp(key, "patternProperties") == 0 && json_is_object(v)) {
            const char *pk;
            json_t *pv;
            json_object_foreach (v, pk, pv)
                add_pattern(s, pk);
        }
        collect_patterns(s, v);
    }
}

/* Whether any "$ref" in node names the metaschema. */
static int wants_meta(json_t *node)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_array(node)) {
        json_array_foreach (node, i, v)
            if (wants_meta(v))
                return 1;
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    json_object_foreach (node, key, v) {
        if (strcmp(key, "$ref") == 0 && json_is_string(v) &&
            strncmp(json_string_value(v), EVP_JS_META_ID, strlen(EVP_JS_META_ID)) == 0)
            return 1;
        if (wants_meta(v))
            return 1;
    }
    return 0;
}

/* The metaschema: the document itself when it is the metaschema, else the bundled file next to
 * the schema, in ./schema (the source tree) or in the installed share folder. */
static json_t *find_meta(json_t *doc, const char *dir)
{
    const char *id = json_string_value(json_object_get(doc, "$id"));
    if (id != NULL && strncmp(id, EVP_JS_META_ID, strlen(EVP_JS_META_ID)) == 0)
        return json_incref(doc);
    const char *dirs[] = {dir, "schema", EVP_PREFIX "/share/evproxy/schema"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (dirs[i] == NULL)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dirs[i], META_FILE);
        json_t *meta = json_load_file(path, 0, NULL);
        if (meta != NULL)
            return meta;
    }
    return NULL;
}

static evp_schema *wrap(json_t *doc, const char *dir)
{
    evp_schema *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->doc = json_incref(doc);
    if (wants_meta(doc)) {
        s->meta = find_meta(doc, dir);
        if (s->meta != NULL && s->meta != doc)
            collect_patterns(s, s->meta);
    }
    collect_patterns(s, doc);
    evp_js_index(s, doc);
    if (s->meta != NULL && s->meta != doc)
        evp_js_index(s, s->meta);
    return s;
}

evp_schema *evp_schema_load(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_DECODE_ANY, &je);
    if (doc == NULL) {
        if (je.line > 0)
            snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            snprintf(err, errlen, "%s: %s", path, je.text);
        return NULL;
    }
    if (!json_is_object(doc) && !json_is_boolean(doc)) {
        snprintf(err, errlen, "%s: a schema must be an object or a boolean", path);
        json_decref(doc);
        return NULL;
    }
    char *copy = strdup(path);
    evp_schema *s = copy ? wrap(doc, dirname(copy)) : NULL;
    free(copy);
    json_decref(doc);
    if (s == NULL)
        snprintf(err, errlen, "%s: out of memory", path);
    return s;
}

evp_schema *evp_schema_from_json(json_t *schema)
{
    return wrap(schema, NULL);
}

void evp_schema_free(evp_schema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_patterns; i++) {
        free(s->patterns[i].src);
        evp_js_regex_free(s->patterns[i].re);
    }
    free(s->patterns);
    for (size_t i = 0; i < s->n_resources; i++)
        free(s->resources[i].uri);
    free(s->resources);
    json_decref(s->meta);
    json_decref(s->doc);
    free(s);
}

const evp_js_regex *evp_js_find_pattern(const evp_schema *s, const char *src)
{
    for (size_t i = 0; i < s->n_patterns; i++)
        if (strcmp(s->patterns[i].src, src) == 0)
            return s->patterns[i].re;
    return NULL;
}

int evp_js_done(const evp_js_ctx *c)
{
    return c->errs == NULL || c->errs->count >= c->max_errors;
}

void evp_js_fail(evp_js_ctx *c, const char *fmt, ...)
{
    if (evp_js_done(c))
        return;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->len > 0)
        evp_errlist_add(c->errs, "%s: %s", c->path, msg);
    else if (c->relative)
        evp_errlist_add(c->errs, "%s", msg);
    else
        evp_errlist_add(c->errs, "(root): %s", msg);
}

static void path_append(evp_js_ctx *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = (c->cap ? c->cap * 2 : 128) + n;
        char *p = realloc(c->path, cap);
        if (p == NULL)
            return;
        c->path = p;
        c->cap = cap;
    }
    memcpy(c->path + c->len, s, n);
    c->len += n;
    c->path[c->len] = '\0';
}

/* A plain name reads as .name; anything else is quoted so the path stays unambiguous. */
static int plain_key(const char *k)
{
    if (*k == '\0' || (*k >= '0' && *k <= '9'))
        return 0;
    for (; *k; k++) {
        char ch = *k;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '$'))
            return 0;
    }
    return 1;
}

size_t evp_js_path_key(evp_js_ctx *c, const char *key)
{
    size_t old = c->len;
    if (evp_js_done(c))
        return old; /* nobody will read the path */
    if (plain_key(key)) {
        if (c->len > 0)
            path_append(c, ".", 1);
        path_append(c, key, strlen(key));
    } else {
        json_t *k = json_string(key);
        char *q = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
        path_append(c, "[", 1);
        if (q)
            path_append(c, q, strlen(q));
        path_append(c, "]", 1);
        free(q);
        json_decref(k);
    }
    return old;
}

size_t evp_js_path_index(evp_js_ctx *c, size_t i)
{
    size_t old = c->len;
    if (evp_js_done(c))
        return old;
    char step[32];
    int n = snprintf(step, sizeof step, "[%zu]", i);
    path_append(c, step, (size_t)n);
    return old;
}

void evp_js_path_pop(evp_js_ctx *c, size_t len)
{
    if (len <= c->len) {
        c->len = len;
        if (c->path)
            c->path[len] = '\0';
    }
}

int evp_schema_validate(const evp_schema *s, json_t *instance, const char *path_prefix,
                        int max_errors, char **errors)
{
    evp_errlist errs = {0};
    const char *base = evp_js_base_of(s, s->doc);
    unsigned long steps = 0;
    evp_js_ctx c = {
        .s = s, .base = base ? base : "", .errs = &errs, .max_errors = max_errors, .steps = &steps};
    if (path_prefix != NULL)
        path_append(&c, path_prefix, strlen(path_prefix));
    int ok = evp_js_check(&c, s->doc, instance);
    if (steps > EVP_JS_MAX_STEPS) {
        /* Cut short, a "not" may have passed on a false no: the answer is invalid. */
        ok = 0;
        evp_js_fail(&c, "the schema takes too long to check against this value");
    }
    free(c.path);
    if (ok) {
        free(evp_errlist_take(&errs));
        if (errors)
            *errors = NULL;
        return 0;
    }
    if (errs.count == 0) /* invalid but unreported (max_errors <= 0): still count one */
        errs.count = 1;
    int n = errs.count;
    char *text = evp_errlist_take(&errs);
    if (errors)
        *errors = text;
    else
        free(text);
    return n;
}
