/* $ref resolution. Every schema object with an "$id" is a resource, indexed at load by its
 * absolute URI (RFC 3986 resolution against the enclosing base); the document itself is the
 * resource "" when it has no $id, and the bundled metaschema is indexed the same way. A $ref is
 * resolved against the current base, then its fragment is a JSON pointer (with %- and
 * ~-escapes) into the resource, or a plain-name anchor declared by an "$id": "#name".
 * Nothing is fetched: a URI that no loaded resource declares does not resolve. */
#include "jsonschema_int.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Undoes %XX escapes of a URI fragment into a malloc'd string; NULL when malformed. */
static char *percent_decode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = hexval(s[i + 1]); /* s[n] is the NUL, so reading on stops there */
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Follows an RFC 6901 pointer ("" or "/a/b~1c/0") from doc; NULL when it leads nowhere. */
static json_t *follow_pointer(json_t *doc, const char *ptr)
{
    json_t *cur = doc;
    if (*ptr == '\0')
        return cur;
    if (*ptr != '/')
        return NULL;
    char *tok = malloc(strlen(ptr) + 1);
    if (tok == NULL)
        return NULL;
    while (cur != NULL && *ptr == '/') {
        ptr++;
        size_t n = 0;
        while (*ptr != '\0' && *ptr != '/') {
            if (ptr[0] == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
                tok[n++] = ptr[1] == '0' ? '~' : '/';
                ptr += 2;
            } else {
                tok[n++] = *ptr++;
            }
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            int canonical = n > 0 && *end == '\0' && (tok[0] != '0' || n == 1) && tok[0] >= '0' &&
                            tok[0] <= '9';
            cur = canonical ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
    }
    free(tok);
    return cur;
}

/* Length of the "scheme:" prefix of u, 0 when u has no scheme. */
static size_t scheme_len(const char *u)
{
    size_t i = 0;
    if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
        return 0;
    while (u[i] && u[i] != ':' && u[i] != '/' && u[i] != '?' && u[i] != '#')
        i++;
    return u[i] == ':' ? i + 1 : 0;
}

/* Removes "." and ".." segments from the path that starts at p (RFC 3986 5.2.4), in place:
 * the result is never longer than the input. */
static void remove_dots(char *p)
{
    size_t plen = strcspn(p, "?#"), o = 0;
    char *buf = strdup(p), *out = malloc(plen + 1);
    if (buf == NULL || out == NULL) {
        free(buf);
        free(out);
        return;
    }
    buf[plen] = '\0';
    const char *in = buf;
    while (*in) {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        } else if (strncmp(in, "./", 2) == 0 || strncmp(in, "/./", 3) == 0) {
            in += 2;
        } else if (strcmp(in, "/.") == 0) {
            in = "/";
        } else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            in = in[3] ? in + 3 : "/";
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            break;
        } else {
            do
                out[o++] = *in++;
            while (*in && *in != '/');
        }
    }
    memcpy(p, out, o);
    memmove(p + o, p + plen, strlen(p + plen) + 1);
    free(buf);
    free(out);
}

/* Resolves reference ref against base (RFC 3986 5.2); a malloc'd absolute URI, or ref itself
 * when base is empty. */
static char *uri_resolve(const char *base, const char *ref)
{
    size_t blen = strlen(base), rlen = strlen(ref);
    char *out = malloc(blen + rlen + 2);
    if (out == NULL)
        return NULL;
    size_t bs = scheme_len(base);
    if (scheme_len(ref) > 0 || blen == 0) {
        strcpy(out, ref);
        if (scheme_len(ref) > 0 && strncmp(out + scheme_len(ref), "//", 2) == 0)
            remove_dots(out + scheme_len(ref) + 2 + strcspn(out + scheme_len(ref) + 2, "/?#"));
        return out;
    }
    size_t bnofrag = strcspn(base, "#");
    if (ref[0] == '#' || rlen == 0) {
        memcpy(out, base, bnofrag);
        strcpy(out + bnofrag, ref);
        return out;
    }
    /* authority end: the first '/' after "scheme://host" */
    size_t auth_end = bs;
    if (strncmp(base + bs, "//", 2) == 0)
        auth_end = bs + 2 + strcspn(base + bs + 2, "/?#");
    if (strncmp(ref, "//", 2) == 0) {
        memcpy(out, base, bs);
        strcpy(out + bs, ref);
    } else if (ref[0] == '/') {
        memcpy(out, base, auth_end);
        strcpy(out + auth_end, ref);
    } else if (ref[0] == '?') {
        size_t path_end = auth_end + strcspn(base + auth_end, "?#");
        memcpy(out, base, path_end);
        strcpy(out + path_end, ref);
    } else {
        size_t path_end = auth_end + strcspn(base + auth_end, "?#");
        size_t dir = path_end;
        while (dir > auth_end && base[dir - 1] != '/')
            dir--;
        memcpy(out, base, dir);
        size_t n = dir;
        if (dir == auth_end && auth_end > bs) /* "http://host" + "x": the path is "/x" */
            out[n++] = '/';
        strcpy(out + n, ref);
    }
    remove_dots(out + auth_end);
    return out;
}

/* An empty fragment names the same resource: "x#" is "x". */
static void strip_empty_fragment(char *u)
{
    size_t n = strlen(u);
    if (n > 0 && u[n - 1] == '#')
        u[n - 1] = '\0';
}

static void add_resource(evp_schema *s, char *uri, json_t *schema)
{
    evp_js_resource *r = realloc(s->resources, (s->n_resources + 1) * sizeof *r);
    if (r == NULL) {
        free(uri);
        return;
    }
    s->resources = r;
    r[s->n_resources].uri = uri;
    r[s->n_resources].schema = schema;
    s->n_resources++;
}

/* Indexes node and every "$id" below it; base is the URI node's relatives resolve against. */
static void index_node(evp_schema *s, json_t *node, const char *base)
{
    const char *key;
    json_t *v;
    size_t i;
    char *own = NULL;
    if (json_is_array(node)) {
        json_array_foreach (node, i, v) {
            index_node(s, v, base);
        }
        return;
    }
    if (!json_is_object(node))
        return;
    const char *id = json_string_value(json_object_get(node, "$id"));
    /* Draft-07: "$ref" makes its siblings, "$id" included, count for nothing. */
    if (id != NULL && json_object_get(node, "$ref") == NULL) {
        char *uri = uri_resolve(base, id);
        if (uri != NULL) {
            strip_empty_fragment(uri);
            own = strdup(uri);
            if (own != NULL)
                own[strcspn(own, "#")] = '\0'; /* an anchor does not move the base */
            add_resource(s, uri, node);
        }
    }
    json_object_foreach (node, key, v) {
        if (strcmp(key, "enum") != 0 && strcmp(key, "const") != 0)
            index_node(s, v, own ? own : base);
    }
    free(own);
}

void evp_js_index(evp_schema *s, json_t *doc)
{
    const char *id = json_string_value(json_object_get(doc, "$id"));
    if (id == NULL || json_object_get(doc, "$ref") != NULL) {
        char *empty = strdup("");
        if (empty != NULL)
            add_resource(s, empty, doc);
    }
    index_node(s, doc, "");
}

/* The resource named by uri (no fragment, or an anchor fragment), or NULL. */
static const evp_js_resource *find_resource(const evp_schema *s, const char *uri, size_t len)
{
    for (size_t i = 0; i < s->n_resources; i++) {
        const char *u = s->resources[i].uri;
        if (strlen(u) == len && strncmp(u, uri, len) == 0)
            return &s->resources[i];
    }
    return NULL;
}

const char *evp_js_base_of(const evp_schema *s, json_t *schema)
{
    for (size_t i = 0; i < s->n_resources; i++) {
        if (s->resources[i].schema == schema && strchr(s->resources[i].uri, '#') == NULL)
            return s->resources[i].uri;
    }
    return NULL;
}

json_t *evp_js_resolve(const evp_schema *s, const char **base, const char *ref)
{
    char *abs = uri_resolve(*base, ref);
    if (abs == NULL)
        return NULL;
    strip_empty_fragment(abs);
    json_t *target = NULL;
    const evp_js_resource *r = find_resource(s, abs, strlen(abs));
    if (r != NULL && strchr(abs, '#') != NULL) { /* a plain-name anchor */
        target = r->schema;
        r = find_resource(s, abs, strcspn(abs, "#"));
        if (r == NULL) /* the anchor's resource is its document's; base stays */
            r = find_resource(s, *base, strlen(*base));
    } else {
        size_t cut = strcspn(abs, "#");
        r = r ? r : find_resource(s, abs, cut);
        char *frag = r && abs[cut] == '#' ? percent_decode(abs + cut + 1) : NULL;
        if (r != NULL)
            target = abs[cut] == '#' ? (frag ? follow_pointer(r->schema, frag) : NULL) : r->schema;
        free(frag);
    }
    if (target != NULL && r != NULL)
        *base = r->uri;
    free(abs);
    return r != NULL ? target : NULL;
}
