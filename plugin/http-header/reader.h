/* Reading the other side's header: a server reads the client's request as V2Ray 4.34's
 * HeaderReader does (up to the blank line, at most HH_HEADER_MAX bytes, checked like Go's
 * net/http readRequest, the path one it serves); a client reads the response up to its
 * blank line and does not check it (V2Ray's client does not). */
#ifndef HH_READER_H
#define HH_READER_H

#include "settings.h"

#include <stddef.h>
#include <stdint.h>

/* V2Ray's maxHeaderLength: a header must end within this many bytes. */
#define HH_HEADER_MAX 8192

enum hh_verdict {
    HH_MORE,      /* no verdict yet: the header is not whole */
    HH_OK,        /* *header_len bytes, blank line included, are the header */
    HH_BAD,       /* not a request Go would read: V2Ray answers 400 */
    HH_NOT_FOUND, /* a request for a path not configured: V2Ray answers 404 */
    HH_TOO_LONG,  /* no blank line within HH_HEADER_MAX bytes: V2Ray answers 400 */
};

/* Progress through one header, so bytes presented again are not looked at twice. */
typedef struct hh_reader {
    size_t line_start; /* the next line to check starts here */
    size_t end_scan;   /* the search for the blank line resumes here */
    unsigned lines;    /* lines checked so far */
    int body;          /* a blank line came (Go stops there): later lines are not checked */
    int path_ok;       /* the request line named a configured path */
} hh_reader;

/* Server: in[0..len) is the request so far, from its first byte every call. why (one line)
 * on HH_BAD. */
int hh_read_request(hh_reader *r, const uint8_t *in, size_t len, const hh_strs *paths,
                    size_t *header_len, char *why, size_t n);
/* Client: in[0..len) is the response so far. HH_MORE, HH_OK or HH_TOO_LONG. */
int hh_read_response(hh_reader *r, const uint8_t *in, size_t len, size_t *header_len);

#endif
