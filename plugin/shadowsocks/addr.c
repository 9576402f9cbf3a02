/* SOCKS-style addresses (see addr.h). */
#include "addr.h"

#include <string.h>

enum { ATYP_IPV4 = 1, ATYP_DOMAIN = 3, ATYP_IPV6 = 4 };

int ss_addr_decode(evp_addr *a, const uint8_t *p, size_t len)
{
    memset(a, 0, sizeof *a);
    if (len < 1)
        return SS_ADDR_SHORT;
    size_t alen, off = 1;
    switch (p[0]) {
    case ATYP_IPV4:
        a->type = EVP_ADDR_IPV4;
        alen = 4;
        break;
    case ATYP_IPV6:
        a->type = EVP_ADDR_IPV6;
        alen = 16;
        break;
    case ATYP_DOMAIN:
        if (len < 2)
            return SS_ADDR_SHORT;
        a->type = EVP_ADDR_DOMAIN;
        alen = p[1];
        off = 2;
        break;
    default:
        return SS_ADDR_BAD_TYPE;
    }
    if (len < off + alen + 2)
        return SS_ADDR_SHORT;
    if (a->type == EVP_ADDR_DOMAIN && (alen == 0 || memchr(p + off, 0, alen) != NULL))
        return SS_ADDR_BAD_DOMAIN;
    memcpy(a->bytes, p + off, alen);
    a->len = (uint8_t)alen;
    a->port = (uint16_t)(p[off + alen] << 8 | p[off + alen + 1]);
    return (int)(off + alen + 2);
}

int ss_addr_encode(const evp_addr *a, uint8_t *out)
{
    size_t off = 1;
    switch (a->type) {
    case EVP_ADDR_IPV4:
        out[0] = ATYP_IPV4;
        break;
    case EVP_ADDR_IPV6:
        out[0] = ATYP_IPV6;
        break;
    case EVP_ADDR_DOMAIN:
        if (a->len == 0)
            return -1;
        out[0] = ATYP_DOMAIN;
        out[1] = a->len;
        off = 2;
        break;
    default:
        return -1;
    }
    size_t alen = a->type == EVP_ADDR_IPV4 ? 4 : a->type == EVP_ADDR_IPV6 ? 16 : a->len;
    memcpy(out + off, a->bytes, alen);
    out[off + alen] = (uint8_t)(a->port >> 8);
    out[off + alen + 1] = (uint8_t)a->port;
    return (int)(off + alen + 2);
}

int ss_addr_same(const evp_addr *a, const evp_addr *b)
{
    return a->type == b->type && a->len == b->len && a->port == b->port &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

const char *ss_addr_strerror(int rc)
{
    switch (rc) {
    case SS_ADDR_SHORT:
        return "address cut short";
    case SS_ADDR_BAD_TYPE:
        return "unknown address type";
    case SS_ADDR_BAD_DOMAIN:
        return "bad domain";
    default:
        return "bad address";
    }
}
