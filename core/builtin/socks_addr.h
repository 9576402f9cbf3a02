/* SOCKS5 address fields (ATYP ADDR PORT, RFC 1928 §5) to and from evp_addr. */
#ifndef EVP_SOCKS_ADDR_H
#define EVP_SOCKS_ADDR_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

enum {
    EVP_SOCKS_ATYP_IPV4 = 0x01,
    EVP_SOCKS_ATYP_DOMAIN = 0x03,
    EVP_SOCKS_ATYP_IPV6 = 0x04,
};

/* Results of evp_socks_addr_read besides a positive length. */
enum {
    EVP_SOCKS_ADDR_MORE = 0,     /* the field is not complete yet */
    EVP_SOCKS_ADDR_BADTYPE = -1, /* ATYP is none of 1, 3, 4 */
    EVP_SOCKS_ADDR_EMPTY = -2,   /* a domain of length 0, or holding a NUL byte */
};

/* The longest field: ATYP, length, 255-byte name, port. */
#define EVP_SOCKS_ADDR_MAX (1 + 1 + 255 + 2)

/* Reads ATYP ADDR PORT from p[0..n) into *a; the field's length, or an EVP_SOCKS_ADDR_*. */
int evp_socks_addr_read(const uint8_t *p, size_t n, evp_addr *a);
/* Writes a's ATYP ADDR PORT to out (EVP_SOCKS_ADDR_MAX bytes of room); its length, or 0
 * when a has no SOCKS form (EVP_ADDR_NONE, empty domain). */
size_t evp_socks_addr_write(const evp_addr *a, uint8_t *out);

#endif
