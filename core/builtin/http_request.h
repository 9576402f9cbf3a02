/* An HTTP/1.x proxy request head: found, split into its parts and rewritten for the origin.
 * Pure functions over the client's bytes (nothing here allocates or keeps pointers). */
#ifndef EVP_BUILTIN_HTTP_REQUEST_H
#define EVP_BUILTIN_HTTP_REQUEST_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* A piece of the head: len bytes at p (not NUL-terminated). */
typedef struct evp_http_span {
    const char *p;
    size_t len;
} evp_http_span;

typedef struct evp_http_head {
    evp_http_span method, target, version; /* the request line's three words */
    evp_http_span fields; /* the header lines after the request line, blank line excluded */
} evp_http_head;

/* The length of the head at the start of p[0..n), blank line included (CRLF or bare LF
 * line ends, as Go's reader takes them); 0 when it has not ended yet; -1 when it has not
 * ended within max bytes. */
long evp_http_head_end(const uint8_t *p, size_t n, size_t max);

/* Splits a whole head (as measured by evp_http_head_end): 0, or -1 when the request line is
 * not "METHOD TARGET HTTP/1.x" or a header line has no "name:". */
int evp_http_head_parse(const char *p, size_t len, evp_http_head *h);

/* The value of the first header named name (any case), blanks trimmed; 0 when absent. */
int evp_http_head_get(const evp_http_head *h, const char *name, evp_http_span *value);

/* Fills a (type, bytes, port) from "host", "host:port" or "[v6]:port"; default_port when no
 * port is given. -1 when the host or port is not valid. */
int evp_http_authority(evp_http_span authority, uint16_t default_port, evp_addr *a);

/* For an absolute-form target "http://authority/path?q" (scheme in any case): the authority,
 * the origin-form rest ("/" when empty) and the scheme's default port. -1 for another form. */
int evp_http_absolute(evp_http_span target, evp_http_span *authority, evp_http_span *origin,
                      uint16_t *default_port);

/* Writes the head the origin gets into out (cap bytes): "METHOD ORIGIN VERSION", then
 * "Host: HOST", then the client's fields less Host and the hop-by-hop ones (Connection and
 * what it names, Keep-Alive, Proxy-*, TE, Trailer(s), Transfer-Encoding, Upgrade), then
 * "Connection: close" and the blank line. Returns the length, or 0 when cap is too small. */
size_t evp_http_origin_head(const evp_http_head *h, evp_http_span origin, evp_http_span host,
                            char *out, size_t cap);

#endif
