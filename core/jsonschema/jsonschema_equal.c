/* Value equality as JSON Schema defines it, and short renderings of values for messages. */
#include "jsonschema_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers compare exactly; a real equals an integer only when it holds that exact value. */
static int num_equal(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    json_t *i = json_is_integer(a) ? a : b;
    double r = json_real_value(json_is_real(a) ? a : b);
    /* 2^63 is the first double outside int64_t. */
    if (r != floor(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0)
        return 0;
    return (json_int_t)r == json_integer_value(i);
}

int evp_js_equal(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!evp_js_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *key;
        json_t *va;
        json_object_foreach (a, key, va) {
            json_t *vb = json_object_get(b, key);
            if (vb == NULL || !evp_js_equal(va, vb))
                return 0;
        }
        return 1;
    }
    default: /* true, false, null: same type is same value */
        return 1;
    }
}

/* Arrays get ", " between items so enum lists read like the config. Writes at most max - 1
 * bytes and a NUL (max >= 1); returns the bytes written. */
static size_t render_into(json_t *v, char *buf, size_t max)
{
    if (json_is_array(v)) {
        size_t n = 0;
        if (max >= 2)
            buf[n++] = '[';
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0 && n + 2 < max) {
                buf[n++] = ',';
                buf[n++] = ' ';
            }
            if (n + 1 >= max)
                break;
            n += render_into(json_array_get(v, i), buf + n, max - n);
        }
        if (n + 1 < max)
            buf[n++] = ']';
        buf[n] = '\0';
        return n;
    }
    size_t flags = JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15);
    size_t need = json_dumpb(v, NULL, 0, flags);
    if (need == 0 || need + 1 > max) {
        char *s = json_dumps(v, flags);
        size_t n = 0;
        if (s != NULL && max > 4) {
            n = max - 4;
            memcpy(buf, s, n);
            memcpy(buf + n, "...", 3);
            n += 3;
        }
        buf[n] = '\0';
        free(s);
        return n;
    }
    json_dumpb(v, buf, need, flags);
    buf[need] = '\0';
    return need;
}

const char *evp_js_render(json_t *v, char *buf, size_t max)
{
    if (max == 0)
        return "";
    render_into(v, buf, max);
    return buf;
}
