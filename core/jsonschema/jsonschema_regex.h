/* The regular expressions of "pattern" and "patternProperties". */
#ifndef EVP_JSONSCHEMA_REGEX_H
#define EVP_JSONSCHEMA_REGEX_H

#include <stddef.h>

typedef struct evp_js_regex evp_js_regex;

/* Compiles an ECMA-262-style pattern; NULL when invalid or unsupported. Caller frees. */
evp_js_regex *evp_js_regex_compile(const char *pattern, size_t len);
/* Unanchored search: 1 when s matches somewhere, 0 when not, -1 on a matcher error. */
int evp_js_regex_search(const evp_js_regex *re, const char *s, size_t len);
/* Frees re; NULL is a no-op. */
void evp_js_regex_free(evp_js_regex *re);

#endif
