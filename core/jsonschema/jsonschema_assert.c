/* The assertion keywords, which look at one value alone: type, enum, const, the numeric,
 * string, array-size and object-size limits, uniqueItems, required and format. */
#include "jsonschema_int.h"

#include <math.h>
#include <string.h>

#define SHORT 64 /* bytes of a value shown in a message */

/* "integer" includes reals with no fractional part, as draft-07 says. */
static int has_type(json_t *v, const char *type)
{
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) ||
               (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                isfinite(json_real_value(v)));
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return 0;
}

static int check_type(evp_js_ctx *c, json_t *type, json_t *inst)
{
    /* Type names are rendered as JSON (escaped): a schema's odd name must not break the
     * one-line error format (found by fuzzing). */
    char buf[SHORT], want[256], name[SHORT];
    if (json_is_string(type)) {
        if (has_type(inst, json_string_value(type)))
            return 1;
        snprintf(want, sizeof want, "%s", evp_js_render(type, name, sizeof name));
    } else if (json_is_array(type)) {
        size_t i, len = 0;
        json_t *t;
        json_array_foreach (type, i, t) {
            if (json_is_string(t) && has_type(inst, json_string_value(t)))
                return 1;
        }
        want[0] = '\0';
        json_array_foreach (type, i, t) {
            int n = snprintf(want + len, sizeof want - len, "%s%s", i ? " or " : "",
                             json_is_string(t) ? evp_js_render(t, name, sizeof name) : "\"?\"");
            if (n < 0 || (size_t)n >= sizeof want - len)
                break;
            len += (size_t)n;
        }
    } else {
        return 1;
    }
    evp_js_fail(c, "%s is not of type %s", evp_js_render(inst, buf, sizeof buf), want);
    return 0;
}

/* Compares two numbers: <0, 0, >0. Integers compare exactly, the rest as doubles. */
static int num_cmp(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

static int is_multiple(json_t *v, json_t *m)
{
    if (json_is_integer(v) && json_is_integer(m)) {
        json_int_t d = json_integer_value(m);
        return d > 0 && json_integer_value(v) % d == 0;
    }
    double q = json_number_value(v) / json_number_value(m);
    /* Decimal fractions are inexact in binary: 0.0075 / 0.0001 is 74.99999999999999. The
     * distance to the nearest integer by floor, which the compiler inlines: round() was the
     * only libm call, and linking libm costs each process ~300 KiB resident. */
    if (!isfinite(q))
        return 0;
    double frac = q - floor(q);
    return (frac < 0.5 ? frac : 1.0 - frac) < 1e-9;
}

static int check_number(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    char a[SHORT], b[SHORT];
    int ok = 1;
    json_t *k;
    if (json_is_number(k = json_object_get(schema, "minimum")) && num_cmp(inst, k) < 0) {
        evp_js_fail(c, "%s is less than the minimum %s", evp_js_render(inst, a, SHORT),
                    evp_js_render(k, b, SHORT));
        ok = 0;
    }
    if (json_is_number(k = json_object_get(schema, "maximum")) && num_cmp(inst, k) > 0) {
        evp_js_fail(c, "%s is greater than the maximum %s", evp_js_render(inst, a, SHORT),
                    evp_js_render(k, b, SHORT));
        ok = 0;
    }
    if (json_is_number(k = json_object_get(schema, "exclusiveMinimum")) && num_cmp(inst, k) <= 0) {
        evp_js_fail(c, "%s is not greater than the exclusive minimum %s",
                    evp_js_render(inst, a, SHORT), evp_js_render(k, b, SHORT));
        ok = 0;
    }
    if (json_is_number(k = json_object_get(schema, "exclusiveMaximum")) && num_cmp(inst, k) >= 0) {
        evp_js_fail(c, "%s is not less than the exclusive maximum %s",
                    evp_js_render(inst, a, SHORT), evp_js_render(k, b, SHORT));
        ok = 0;
    }
    k = json_object_get(schema, "multipleOf");
    if (json_is_number(k) && json_number_value(k) > 0 && !is_multiple(inst, k)) {
        evp_js_fail(c, "%s is not a multiple of %s", evp_js_render(inst, a, SHORT),
                    evp_js_render(k, b, SHORT));
        ok = 0;
    }
    return ok;
}

/* Length in code points: count the bytes that do not continue a UTF-8 sequence. */
static size_t utf8_length(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += ((unsigned char)s[i] & 0xC0) != 0x80;
    return len;
}

/* A limit keyword as a non-negative count; -1 when absent or not an integer. */
static json_int_t count_kw(json_t *schema, const char *kw)
{
    json_t *k = json_object_get(schema, kw);
    if (json_is_integer(k))
        return json_integer_value(k) < 0 ? -1 : json_integer_value(k);
    if (json_is_real(k) && json_real_value(k) >= 0 && json_real_value(k) < 9.2e18 &&
        json_real_value(k) == floor(json_real_value(k)))
        return (json_int_t)json_real_value(k);
    return -1;
}

static int check_string(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    char a[SHORT], b[SHORT];
    const char *s = json_string_value(inst);
    size_t n = json_string_length(inst);
    size_t len = utf8_length(s, n);
    int ok = 1;
    json_int_t lim;
    if ((lim = count_kw(schema, "minLength")) >= 0 && len < (size_t)lim) {
        evp_js_fail(c, "%s is shorter than %lld characters", evp_js_render(inst, a, SHORT),
                    (long long)lim);
        ok = 0;
    }
    if ((lim = count_kw(schema, "maxLength")) >= 0 && len > (size_t)lim) {
        evp_js_fail(c, "%s is longer than %lld characters", evp_js_render(inst, a, SHORT),
                    (long long)lim);
        ok = 0;
    }
    const char *pat = json_string_value(json_object_get(schema, "pattern"));
    if (pat != NULL) {
        const evp_js_regex *re = evp_js_find_pattern(c->s, pat);
        int m = re ? evp_js_regex_search(re, s, n) : -1;
        if (m != 1) {
            json_t *p = json_string(pat);
            if (re == NULL)
                evp_js_fail(c, "the schema's pattern %s is not a supported regular expression",
                            evp_js_render(p, b, SHORT));
            else
                evp_js_fail(c, "%s does not match the pattern %s", evp_js_render(inst, a, SHORT),
                            evp_js_render(p, b, SHORT));
            json_decref(p);
            ok = 0;
        }
    }
    const char *fmt = json_string_value(json_object_get(schema, "format"));
    const char *what;
    if (fmt != NULL && !evp_js_format_ok(fmt, s, n, &what)) {
        evp_js_fail(c, "%s is not %s", evp_js_render(inst, a, SHORT), what);
        ok = 0;
    }
    return ok;
}

static int check_array(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    size_t n = json_array_size(inst);
    int ok = 1;
    json_int_t lim;
    if ((lim = count_kw(schema, "minItems")) >= 0 && n < (size_t)lim) {
        evp_js_fail(c, "array has %zu items, fewer than the minimum %lld", n, (long long)lim);
        ok = 0;
    }
    if ((lim = count_kw(schema, "maxItems")) >= 0 && n > (size_t)lim) {
        evp_js_fail(c, "array has %zu items, more than the maximum %lld", n, (long long)lim);
        ok = 0;
    }
    if (json_is_true(json_object_get(schema, "uniqueItems"))) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                if (evp_js_equal(json_array_get(inst, i), json_array_get(inst, j))) {
                    evp_js_fail(c, "items %zu and %zu are equal; items must be unique", i, j);
                    return 0;
                }
            }
        }
    }
    return ok;
}

static int check_object(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    size_t n = json_object_size(inst);
    int ok = 1;
    json_int_t lim;
    if ((lim = count_kw(schema, "minProperties")) >= 0 && n < (size_t)lim) {
        evp_js_fail(c, "object has %zu properties, fewer than the minimum %lld", n, (long long)lim);
        ok = 0;
    }
    if ((lim = count_kw(schema, "maxProperties")) >= 0 && n > (size_t)lim) {
        evp_js_fail(c, "object has %zu properties, more than the maximum %lld", n, (long long)lim);
        ok = 0;
    }
    size_t i;
    json_t *name;
    json_array_foreach (json_object_get(schema, "required"), i, name) {
        const char *key = json_string_value(name);
        if (key != NULL && json_object_get(inst, key) == NULL) {
            evp_js_fail(c, "required property \"%s\" is missing", key);
            ok = 0;
        }
    }
    return ok;
}

int evp_js_assert(evp_js_ctx *c, json_t *schema, json_t *inst)
{
    char a[SHORT], b[512];
    int ok = 1;
    json_t *k;
    if ((k = json_object_get(schema, "type")) != NULL)
        ok &= check_type(c, k, inst);
    if (json_is_array(k = json_object_get(schema, "enum"))) {
        size_t i;
        json_t *v;
        int found = 0;
        json_array_foreach (k, i, v) {
            if (evp_js_equal(v, inst)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            evp_js_fail(c, "%s is not one of %s", evp_js_render(inst, a, SHORT),
                        evp_js_render(k, b, sizeof b));
            ok = 0;
        }
    }
    if ((k = json_object_get(schema, "const")) != NULL && !evp_js_equal(k, inst)) {
        evp_js_fail(c, "%s is not the constant %s", evp_js_render(inst, a, SHORT),
                    evp_js_render(k, b, sizeof b));
        ok = 0;
    }
    if (json_is_number(inst))
        ok &= check_number(c, schema, inst);
    else if (json_is_string(inst))
        ok &= check_string(c, schema, inst);
    else if (json_is_array(inst))
        ok &= check_array(c, schema, inst);
    else if (json_is_object(inst))
        ok &= check_object(c, schema, inst);
    return ok;
}
