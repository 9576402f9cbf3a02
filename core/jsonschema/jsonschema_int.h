/* Internals shared by the jsonschema_*.c files; nothing here leaves the core. */
#ifndef EVP_JSONSCHEMA_INT_H
#define EVP_JSONSCHEMA_INT_H

#include "errlist.h"
#include "jsonschema.h"
#include "jsonschema_regex.h"

#include <stddef.h>

/* The $id of the draft-07 metaschema, which schema/draft-07.json bundles. */
#define EVP_JS_META_ID "http://json-schema.org/draft-07/schema"

typedef struct evp_js_pattern {
    char *src;        /* owned copy of the pattern text */
    evp_js_regex *re; /* NULL when the pattern does not compile */
} evp_js_pattern;

/* A schema object named by a URI ("" for a document without $id; "uri#name" for an anchor). */
typedef struct evp_js_resource {
    char *uri;      /* owned */
    json_t *schema; /* borrowed from doc or meta */
} evp_js_resource;

struct evp_schema {
    json_t *doc;              /* owned reference */
    json_t *meta;             /* owned reference to the metaschema, or NULL when not needed/found */
    evp_js_pattern *patterns; /* compiled once at load, so validation never writes */
    size_t n_patterns;
    evp_js_resource *resources; /* the $id index of doc and meta */
    size_t n_resources;
};

/* The most sub-schema checks one validation may make (real configs need a few thousand). */
#define EVP_JS_MAX_STEPS 1000000ul

/* One validation walk. errs == NULL asks only for a yes/no answer (stops at the first failure). */
typedef struct evp_js_ctx {
    const evp_schema *s;
    const char *base; /* URI that $refs resolve against right now (borrowed from the index) */
    evp_errlist *errs;
    int max_errors;
    int depth;    /* guards against $ref cycles that consume no instance */
    int relative; /* paths are relative to a parent error: no "(root)" label */
    char *path;   /* current instance path, NUL-terminated, owned */
    size_t len, cap;
    /* Sub-schema checks made so far by this validation, shared with its quiet sub-checks:
     * nested anyOf/oneOf under a recursive $ref can take exponential time (found by
     * fuzzing), so a validation stops after EVP_JS_MAX_STEPS of them. */
    unsigned long *steps;
} evp_js_ctx;

/* Validates instance against schema (an object or a boolean); 1 when valid, 0 when not. */
int evp_js_check(evp_js_ctx *c, json_t *schema, json_t *instance);
/* Runs the keywords that look at one value only (type, enum, numbers, strings, counts...). */
int evp_js_assert(evp_js_ctx *c, json_t *schema, json_t *instance);
/* Adds "PATH: message" unless the context is quiet or full. */
void evp_js_fail(evp_js_ctx *c, const char *fmt, ...) EVP_PRINTF(2, 3);
/* Whether the context has stopped collecting (quiet mode, or max_errors reached). */
int evp_js_done(const evp_js_ctx *c);

/* Appends ".key" ("key" at the start, ["k y"] when not a plain name); returns the old length. */
size_t evp_js_path_key(evp_js_ctx *c, const char *key);
/* Appends "[i]"; returns the old length. */
size_t evp_js_path_index(evp_js_ctx *c, size_t i);
/* Cuts the path back to a length returned by a push. */
void evp_js_path_pop(evp_js_ctx *c, size_t len);

/* JSON Schema equality: numbers by value (1 == 1.0), objects ignoring key order. */
int evp_js_equal(json_t *a, json_t *b);
/* Renders v compactly for a message into buf (cut with "..." past max bytes). */
const char *evp_js_render(json_t *v, char *buf, size_t max);

/* Indexes doc's resources (itself and every "$id") into s; call once per document. */
void evp_js_index(evp_schema *s, json_t *doc);
/* The base URI a schema object with an "$id" sets, or NULL when it sets none. */
const char *evp_js_base_of(const evp_schema *s, json_t *schema);
/* Resolves a $ref against *base; NULL when it cannot, else *base becomes the target's base. */
json_t *evp_js_resolve(const evp_schema *s, const char **base, const char *ref);

/* Checks a "format" keyword value; 1 when valid or the format is one we do not check. */
int evp_js_format_ok(const char *format, const char *s, size_t len, const char **what);

/* The compiled pattern for src (from the load-time cache), or NULL when it does not compile. */
const evp_js_regex *evp_js_find_pattern(const evp_schema *s, const char *src);

#endif
