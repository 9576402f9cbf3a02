/* The SOCKS5-style address Shadowsocks puts first in a stream and in every datagram: type
 * (1 IPv4, 3 domain, 4 IPv6), the address (a domain as a length byte and its bytes), then
 * the BE16 port. */
#ifndef SS_ADDR_H
#define SS_ADDR_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* The longest encoding: type 1 + length 1 + domain 255 + port 2. */
#define SS_ADDR_MAX (1 + 1 + 255 + 2)

/* Negative results of ss_addr_decode. */
enum ss_addr_result {
    SS_ADDR_SHORT = -1,    /* the bytes end inside the address */
    SS_ADDR_BAD_TYPE = -2, /* type not 1, 3 or 4 */
    SS_ADDR_BAD_DOMAIN = -3, /* empty, or holding a NUL */
};

/* Decodes p[0..len) into a (zeroed first); returns the bytes used (> 0) or SS_ADDR_*. */
int ss_addr_decode(evp_addr *a, const uint8_t *p, size_t len);
/* Encodes a into out (room for SS_ADDR_MAX bytes); the length, or -1 for EVP_ADDR_NONE. */
int ss_addr_encode(const evp_addr *a, uint8_t *out);
/* True when a and b name the same address and port. */
int ss_addr_same(const evp_addr *a, const evp_addr *b);
/* A short text of the error code for logs. */
const char *ss_addr_strerror(int rc);

#endif
