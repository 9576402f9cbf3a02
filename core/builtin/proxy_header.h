/* PROXY protocol headers (haproxy's doc/proxy-protocol.txt, versions 1 and 2), parsed from
 * the start of a stream without I/O: the "proxy-protocol" layer's parser. */
#ifndef EVP_PROXY_HEADER_H
#define EVP_PROXY_HEADER_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* Version 1: the longest line, CRLF included ("PROXY UNKNOWN ..." may be up to this). */
#define PP_V1_MAX 107
/* Version 2: signature, version/command, family/transport, BE16 length. */
#define PP_V2_FIXED 16

enum pp_verdict {
    PP_BAD = -1, /* not a valid header: the reason says why */
    PP_MORE = 0, /* what came so far is a proper prefix of a header: wait for more */
    PP_DONE = 1, /* a whole header: see pp_header */
};

typedef struct pp_header {
    size_t len;     /* bytes of the input that the header fills (all of v1; v2's first part) */
    uint32_t skip;  /* v2: the rest of the header (TLVs, unused address space) still to come */
    int has_source; /* source holds the client's address: PROXY TCP4/TCP6 (v1), PROXY
                       INET/INET6 (v2); not for LOCAL, UNKNOWN, UNSPEC or UNIX */
    evp_addr source;
} pp_header;

/* Parses the header at the start of in (len bytes so far). Needs at most PP_V1_MAX bytes for
 * v1 and PP_V2_FIXED + 36 for v2 to decide; reason (a one-line text) on PP_BAD. */
int pp_header_parse(const uint8_t *in, size_t len, pp_header *h, char *reason, size_t n);

#endif
