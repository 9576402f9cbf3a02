/* SOCKS5 address fields (ATYP ADDR PORT, RFC 1928 §5) to and from evp_addr. */
#include "socks_addr.h"

#include <string.h>

int evp_socks_addr_read(const uint8_t *p, size_t n, evp_addr *a)
{
    if (n < 1)
        return EVP_SOCKS_ADDR_MORE;
    size_t alen, skip = 1;
    uint8_t type;
    switch (p[0]) {
    case EVP_SOCKS_ATYP_IPV4:
        type = EVP_ADDR_IPV4;
        alen = 4;
        break;
    case EVP_SOCKS_ATYP_IPV6:
        type = EVP_ADDR_IPV6;
        alen = 16;
        break;
    case EVP_SOCKS_ATYP_DOMAIN:
        if (n < 2)
            return EVP_SOCKS_ADDR_MORE;
        type = EVP_ADDR_DOMAIN;
        alen = p[1];
        skip = 2;
        /* A NUL inside the name would cut it short for the resolver and the logs (found by
         * fuzzing): such a name is as unusable as an empty one. */
        if (alen == 0 || (n >= 2 + alen && memchr(p + 2, '\0', alen) != NULL))
            return EVP_SOCKS_ADDR_EMPTY;
        break;
    default:
        return EVP_SOCKS_ADDR_BADTYPE;
    }
    size_t total = skip + alen + 2;
    if (n < total)
        return EVP_SOCKS_ADDR_MORE;
    memset(a, 0, sizeof *a);
    a->type = type;
    a->len = (uint8_t)alen;
    memcpy(a->bytes, p + skip, alen);
    a->port = (uint16_t)(p[skip + alen] << 8 | p[skip + alen + 1]);
    return (int)total;
}

size_t evp_socks_addr_write(const evp_addr *a, uint8_t *out)
{
    size_t k;
    switch (a->type) {
    case EVP_ADDR_IPV4:
        out[0] = EVP_SOCKS_ATYP_IPV4;
        memcpy(out + 1, a->bytes, 4);
        k = 5;
        break;
    case EVP_ADDR_IPV6:
        out[0] = EVP_SOCKS_ATYP_IPV6;
        memcpy(out + 1, a->bytes, 16);
        k = 17;
        break;
    case EVP_ADDR_DOMAIN:
        if (a->len == 0)
            return 0;
        out[0] = EVP_SOCKS_ATYP_DOMAIN;
        out[1] = a->len;
        memcpy(out + 2, a->bytes, a->len);
        k = 2 + (size_t)a->len;
        break;
    default:
        return 0;
    }
    out[k] = (uint8_t)(a->port >> 8);
    out[k + 1] = (uint8_t)a->port;
    return k + 2;
}
