/* The port-first address codec (addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int domain_char_ok(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '_' || c == '-';
}

static void set_ip(evp_addr *a, const uint8_t *ip, size_t len)
{
    if (len == 16 && memcmp(ip, v4_mapped, sizeof v4_mapped) == 0) {
        ip += 12;
        len = 4;
    }
    a->type = len == 4 ? EVP_ADDR_IPV4 : EVP_ADDR_IPV6;
    a->len = (uint8_t)len;
    memcpy(a->bytes, ip, len);
}

/* A domain that starts like an IP literal becomes an IP target when it parses as one
 * (V2Ray's ParseAddress, incl. "[v6]" and v4-mapped v6 becoming v4). 1 if converted. */
static int domain_as_ip(evp_addr *a, const uint8_t *d, size_t len)
{
    char text[256];
    if (!(d[0] == '[' || (d[0] >= '0' && d[0] <= '9')))
        return 0;
    if (len > 2 && d[0] == '[' && d[len - 1] == ']') {
        d++;
        len -= 2;
    }
    memcpy(text, d, len);
    text[len] = '\0';
    uint8_t ip[16];
    if (inet_pton(AF_INET, text, ip) == 1) {
        set_ip(a, ip, 4);
        return 1;
    }
    if (inet_pton(AF_INET6, text, ip) == 1) {
        set_ip(a, ip, 16);
        return 1;
    }
    return 0;
}

int vmess_addr_decode(evp_addr *a, const uint8_t *p, size_t len)
{
    memset(a, 0, sizeof *a);
    if (len < 3)
        return VMESS_ADDR_SHORT;
    a->port = (uint16_t)(p[0] << 8 | p[1]);
    const uint8_t *q = p + 3;
    size_t left = len - 3;
    switch (p[2]) {
    case EVP_ADDR_IPV4:
    case EVP_ADDR_IPV6: {
        size_t n = p[2] == EVP_ADDR_IPV4 ? 4 : 16;
        if (left < n)
            return VMESS_ADDR_SHORT;
        set_ip(a, q, n);
        return (int)(3 + n);
    }
    case EVP_ADDR_DOMAIN: {
        if (left < 1 || left - 1 < q[0])
            return VMESS_ADDR_SHORT;
        size_t n = q[0];
        const uint8_t *d = q + 1;
        if (n == 0)
            return VMESS_ADDR_BAD_DOMAIN;
        if (!domain_as_ip(a, d, n)) {
            for (size_t i = 0; i < n; i++)
                if (!domain_char_ok(d[i]))
                    return VMESS_ADDR_BAD_DOMAIN;
            a->type = EVP_ADDR_DOMAIN;
            a->len = (uint8_t)n;
            memcpy(a->bytes, d, n);
            a->bytes[n] = '\0';
        }
        return (int)(4 + n);
    }
    default:
        return VMESS_ADDR_BAD_TYPE;
    }
}

int vmess_addr_encode(const evp_addr *a, uint8_t *out)
{
    size_t n = 0;
    out[n++] = (uint8_t)(a->port >> 8);
    out[n++] = (uint8_t)a->port;
    out[n++] = a->type;
    switch (a->type) {
    case EVP_ADDR_IPV4:
        memcpy(out + n, a->bytes, 4);
        return (int)(n + 4);
    case EVP_ADDR_IPV6:
        memcpy(out + n, a->bytes, 16);
        return (int)(n + 16);
    case EVP_ADDR_DOMAIN:
        if (a->len == 0)
            return -1;
        out[n++] = a->len;
        memcpy(out + n, a->bytes, a->len);
        return (int)(n + a->len);
    default:
        return -1;
    }
}
