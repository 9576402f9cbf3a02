/* Text built for the metrics endpoint: a growing buffer, Prometheus text format 0.0.4
 * samples and HTML escaping for the status page. */
#ifndef EVP_PROM_TEXT_H
#define EVP_PROM_TEXT_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* A malloc'd, NUL-terminated text that grows as it is written; zero-initialise it. Once an
 * allocation fails, failed is set and later writes do nothing. */
typedef struct evp_text {
    char *p;
    size_t len, cap;
    int failed;
} evp_text;

void evp_text_printf(evp_text *t, const char *fmt, ...) EVP_PRINTF(2, 3);
/* Appends len bytes. */
void evp_text_add(evp_text *t, const char *s, size_t len);
/* Hands the text over (the caller frees it); NULL when a write failed. t is emptied. */
char *evp_text_take(evp_text *t);

/* Appends v as a label value: '\\', '"' and a line feed escaped, as the format requires. */
void evp_prom_label_value(evp_text *t, const char *v);
/* "# HELP name help" and "# TYPE name type" (help may not hold a line feed). */
void evp_prom_family(evp_text *t, const char *name, const char *type, const char *help);
/* One sample: name{k1="v1",...} value. labels: key, value pairs, then NULL. */
void evp_prom_sample(evp_text *t, const char *name, const char *const *labels, uint64_t value);

/* Appends v with &, <, >, " and ' as HTML character references. */
void evp_html_text(evp_text *t, const char *v);
/* n bytes for people: "512 B", "1.5 MiB". */
void evp_text_bytes(evp_text *t, uint64_t n);

#endif
