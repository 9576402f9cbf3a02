/* An HTTP header as V2Ray's http header writes it: lines, each picked at random among its
 * alternatives ("Host: www.baidu.com" or "Host: www.bing.com"), then, for a response without
 * a configured Date, the current Date line, then the blank line. */
#ifndef HH_TEMPLATE_H
#define HH_TEMPLATE_H

#include "evproxy/plugin.h"

#include <stddef.h>

typedef struct hh_slot {
    char **alts; /* the line's alternatives, without CRLF; owned */
    size_t n;    /* at least 1 */
} hh_slot;

typedef struct hh_template {
    hh_slot *slots; /* owned */
    size_t n;
    int add_date;   /* append "Date: <now, RFC 7231 IMF-fixdate>" */
    size_t max_len; /* the longest rendering, Date and the blank line included */
} hh_template;

/* Adds a line with n alternatives, each prefix + alt[i] + suffix (alt NULL or n == 0: one,
 * prefix + suffix); the strings are copied. 0, or -1 when out of memory. */
int hh_template_add(const evp_host *h, hh_template *t, const char *prefix, const char *const *alt,
                    size_t n, const char *suffix);
/* a + b + c in a new string from h's allocator, or NULL when out of memory. */
char *hh_concat(const evp_host *h, const char *a, const char *b, const char *c);
/* Appends one rendering of t to b: 0, or -1 when out of memory. */
int hh_template_render(const evp_host *h, const hh_template *t, evp_buf *b);
/* Frees t's lines; t is left empty. */
void hh_template_free(const evp_host *h, hh_template *t);

#endif
