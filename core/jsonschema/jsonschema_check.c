/* The applicator keywords: $ref, properties and items families, contains, dependencies,
 * propertyNames, allOf/anyOf/oneOf/not and if/then/else. They recurse into evp_js_check. */
#include "jsonschema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any real schema; only a $ref loop that consumes no instance gets here. */
#define MAX_DEPTH 200

/* A sub-check that only answers yes or no. */
static int quiet(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    evp_js_ctx q = {.s = c->s, .base = c->base, .depth = c->depth, .steps = c->steps};
    return evp_js_check(&q, schema, inst);
}

/* A sub-check that keeps its first error, with a path relative to here, in buf. */
static int explain(evp_js_ctx *c, json_t *schema, json_t *inst, char *buf, size_t size)
{
    evp_errlist errs = {0};
    evp_js_ctx q = {.s = c->s,
                    .base = c->base,
                    .depth = c->depth,
                    .steps = c->steps,
                    .errs = &errs,
                    .max_errors = 1,
                    .relative = 1};
    int ok = evp_js_check(&q, schema, inst);
    free(q.path);
    char *text = evp_errlist_take(&errs);
    snprintf(buf, size, "%s", text ? text : "");
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    free(text);
    return ok;
}

/* key as a JSON string in buf: a name holding a newline or a quote must not break the
 * one-line "PATH: MESSAGE" format of errors (found by fuzzing). */
static const char *quoted(const char *key, char *buf, size_t size)
{
    json_t *s = json_string(key);
    if (s == NULL)
        snprintf(buf, size, "\"?\"");
    else
        evp_js_render(s, buf, size);
    json_decref(s);
    return buf;
}

/* Whether key is matched by any patternProperties pattern; -1 when a pattern is broken. */
static int pattern_matches(evp_js_ctx *c, const char *pattern, const char *key)
{
    const evp_js_regex *re = evp_js_find_pattern(c->s, pattern);
    if (re == NULL) {
        evp_js_fail(c, "the schema's pattern \"%s\" is not a supported regular expression",
                    pattern);
        return -1;
    }
    return evp_js_regex_search(re, key, strlen(key));
}

static int check_object(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    json_t *props = json_object_get(schema, "properties");
    json_t *pprops = json_object_get(schema, "patternProperties");
    json_t *addl = json_object_get(schema, "additionalProperties");
    json_t *names = json_object_get(schema, "propertyNames");
    json_t *deps = json_object_get(schema, "dependencies");
    int ok = 1;
    const char *key;
    json_t *val;
    json_object_foreach (inst, key, val) {
        int matched = 0;
        json_t *sub = json_object_get(props, key);
        if (sub != NULL) {
            matched = 1;
            size_t at = evp_js_path_key(c, key);
            ok &= evp_js_check(c, sub, val);
            evp_js_path_pop(c, at);
        }
        const char *pat;
        json_t *psub;
        json_object_foreach (pprops, pat, psub) {
            int m = pattern_matches(c, pat, key);
            if (m < 0)
                ok = 0;
            if (m != 1)
                continue;
            matched = 1;
            size_t at = evp_js_path_key(c, key);
            ok &= evp_js_check(c, psub, val);
            evp_js_path_pop(c, at);
        }
        if (!matched && json_is_false(addl)) {
            char q[256];
            evp_js_fail(c, "unknown property %s (no additional properties are allowed)",
                        quoted(key, q, sizeof q));
            ok = 0;
        } else if (!matched && addl != NULL) {
            size_t at = evp_js_path_key(c, key);
            ok &= evp_js_check(c, addl, val);
            evp_js_path_pop(c, at);
        }
        if (names != NULL) {
            json_t *name = json_string(key);
            char why[512], q[256];
            if (name != NULL && !explain(c, names, name, why, sizeof why)) {
                evp_js_fail(c, "property name %s is invalid: %s", quoted(key, q, sizeof q), why);
                ok = 0;
            }
            json_decref(name);
        }
        json_t *dep = json_object_get(deps, key);
        if (json_is_array(dep)) {
            size_t i;
            json_t *need;
            json_array_foreach (dep, i, need) {
                const char *n = json_string_value(need);
                if (n != NULL && json_object_get(inst, n) == NULL) {
                    char q1[256], q2[256];
                    evp_js_fail(c, "property %s is required when %s is present",
                                quoted(n, q1, sizeof q1), quoted(key, q2, sizeof q2));
                    ok = 0;
                }
            }
        } else if (dep != NULL) {
            ok &= evp_js_check(c, dep, inst);
        }
        if (!ok && evp_js_done(c))
            return 0;
    }
    return ok;
}

static int check_array(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    json_t *items = json_object_get(schema, "items");
    json_t *addl = json_object_get(schema, "additionalItems");
    json_t *contains = json_object_get(schema, "contains");
    size_t n = json_array_size(inst);
    int ok = 1;
    for (size_t i = 0; i < n && items != NULL; i++) {
        json_t *sub = items;
        if (json_is_array(items)) {
            sub = json_array_get(items, i);
            if (sub == NULL && json_is_false(addl)) {
                evp_js_fail(c, "array has %zu items, more than the %zu allowed", n,
                            json_array_size(items));
                ok = 0;
                break;
            }
            if (sub == NULL)
                sub = addl;
        }
        if (sub == NULL)
            break;
        size_t at = evp_js_path_index(c, i);
        ok &= evp_js_check(c, sub, json_array_get(inst, i));
        evp_js_path_pop(c, at);
        if (!ok && evp_js_done(c))
            return 0;
    }
    if (contains != NULL) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = quiet(c, contains, json_array_get(inst, i));
        if (!found) {
            evp_js_fail(c, "no item of the array matches the \"contains\" schema");
            ok = 0;
        }
    }
    return ok;
}

/* Explains why no alternative of anyOf/oneOf matched: "[0] why; [1] why". */
static void fail_alternatives(evp_js_ctx *c, const char *kw, json_t *alts, json_t *inst)
{
    if (evp_js_done(c))
        return;
    char all[900] = "", why[300];
    size_t len = 0, i;
    json_t *sub;
    json_array_foreach (alts, i, sub) {
        explain(c, sub, inst, why, sizeof why);
        int n = snprintf(all + len, sizeof all - len, "%s[%zu] %s", i ? "; " : "", i, why);
        if (n < 0 || (size_t)n >= sizeof all - len)
            break;
        len += (size_t)n;
    }
    evp_js_fail(c, "matches none of the %zu alternatives of %s: %s", json_array_size(alts), kw,
                all);
}

static int check_combinators(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    int ok = 1;
    size_t i;
    json_t *sub;
    json_t *all = json_object_get(schema, "allOf");
    json_array_foreach (all, i, sub) {
        ok &= evp_js_check(c, sub, inst);
        if (!ok && evp_js_done(c))
            return 0;
    }
    json_t *any = json_object_get(schema, "anyOf");
    if (json_is_array(any)) {
        int found = 0;
        json_array_foreach (any, i, sub) {
            if (quiet(c, sub, inst)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            fail_alternatives(c, "anyOf", any, inst);
            ok = 0;
        }
    }
    json_t *one = json_object_get(schema, "oneOf");
    if (json_is_array(one)) {
        size_t first = 0, count = 0;
        json_array_foreach (one, i, sub) {
            if (!quiet(c, sub, inst))
                continue;
            if (count++ == 0) {
                first = i;
            } else {
                evp_js_fail(c, "matches alternatives %zu and %zu of oneOf; exactly one may match",
                            first, i);
                break;
            }
        }
        if (count == 0)
            fail_alternatives(c, "oneOf", one, inst);
        if (count != 1)
            ok = 0;
    }
    json_t *not = json_object_get(schema, "not");
    if (not != NULL && quiet(c, not, inst)) {
        evp_js_fail(c, "must not match the schema in \"not\"");
        ok = 0;
    }
    json_t *if_ = json_object_get(schema, "if");
    if (if_ != NULL) {
        json_t *branch = json_object_get(schema, quiet(c, if_, inst) ? "then" : "else");
        if (branch != NULL)
            ok &= evp_js_check(c, branch, inst);
    }
    return ok;
}

static int check_ref(evp_js_ctx *c, const char *ref, json_t *inst)
{
    const char *base = c->base;
    json_t *target = evp_js_resolve(c->s, &base, ref);
    if (target == NULL) {
        evp_js_fail(c, "cannot resolve the schema reference \"%s\"", ref);
        return 0;
    }
    const char *saved = c->base;
    c->base = base;
    int ok = evp_js_check(c, target, inst);
    c->base = saved;
    return ok;
}

int evp_js_check(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    char buf[64];
    if (json_is_true(schema))
        return 1;
    if (json_is_false(schema)) {
        evp_js_fail(c, "%s is not allowed here", evp_js_render(inst, buf, sizeof buf));
        return 0;
    }
    if (!json_is_object(schema))
        return 1; /* not a schema: nothing to check against */
    if (c->steps != NULL && ++*c->steps > EVP_JS_MAX_STEPS)
        return 0; /* evp_schema_validate says why */
    if (c->depth >= MAX_DEPTH) {
        evp_js_fail(c, "the schema nests too deeply (a $ref loop?)");
        return 0;
    }
    c->depth++;
    const char *saved_base = c->base;
    int ok;
    /* Draft-07: a $ref replaces every keyword beside it. */
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    if (ref != NULL) {
        ok = check_ref(c, ref, inst);
    } else {
        const char *base = json_object_get(schema, "$id") ? evp_js_base_of(c->s, schema) : NULL;
        if (base != NULL)
            c->base = base;
        ok = evp_js_assert(c, schema, inst);
        if (ok || !evp_js_done(c)) {
            if (json_is_object(inst))
                ok &= check_object(c, schema, inst);
            else if (json_is_array(inst))
                ok &= check_array(c, schema, inst);
        }
        if (ok || !evp_js_done(c))
            ok &= check_combinators(c, schema, inst);
    }
    c->base = saved_base;
    c->depth--;
    return ok;
}
