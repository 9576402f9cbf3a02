/* Config files with comments, as V2Ray 4.34 reads them (infra/conf/json/reader.go): `//` and
 * `#` to the end of the line and `/ * ... * /` blocks, outside strings, are dropped. */
#ifndef EVP_JSON_COMMENTS_H
#define EVP_JSON_COMMENTS_H

#include <jansson.h>
#include <stddef.h>

/* Copies text[0..len) into out (len bytes of room) without its comments, keeping their
 * newlines so that error line numbers still match the file. Returns the length written. */
size_t evp_json_strip_comments(const char *text, size_t len, char *out);

/* json_load_file with comments stripped first; NULL and je filled (source: path) on error. */
json_t *evp_json_load_commented(const char *path, size_t flags, json_error_t *je);

#endif
