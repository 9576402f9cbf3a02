/* The HTTP/1.1 heads of the upgrade: finding a head's end in bounded input, reading its
 * header fields (names case-insensitive, token lists), and writing heads out. */
#ifndef WS_HTTP_H
#define WS_HTTP_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* A request or response head: its first line, then its header lines (borrowed text). */
typedef struct ws_head {
    const char *text; /* the first line starts here */
    size_t len;       /* through the blank line */
    size_t first_len; /* the first line, without its line end */
} ws_head;

/* The length of the head at p (through the empty line; LF or CRLF line ends), 0 when it has
 * not ended within n bytes. */
size_t ws_http_head_end(const uint8_t *p, size_t n);

/* Checks every header line of a head of len bytes (a name token, ':', a value; no NUL, no
 * folded line) and fills h. 0, or -1 when malformed. */
int ws_http_parse(const uint8_t *p, size_t len, ws_head *h);

/* The next header named name (any case) after *pos (0 to start): its value, trimmed of
 * spaces and tabs, in *val and *val_len, and 1; 0 when there is no other. */
int ws_http_next(const ws_head *h, const char *name, size_t *pos, const char **val,
                 size_t *val_len);

/* 1 when some header named name is a comma list holding token (any case), else 0. */
int ws_http_has_token(const ws_head *h, const char *name, const char *token);

/* Appends n bytes to b through host; 0, or -1 when out of memory. */
int ws_put(const evp_host *host, evp_buf *b, const void *p, size_t n);

/* Appends the text s. */
int ws_puts(const evp_host *host, evp_buf *b, const char *s);

/* Appends "name: value\r\n". */
int ws_put_header(const evp_host *host, evp_buf *b, const char *name, const char *value,
                  size_t value_len);

/* Writes the IMF-fixdate of unix time t ("Sun, 06 Nov 1994 08:49:37 GMT") to out. */
void ws_http_date(int64_t t, char out[32]);

#endif
