/* IP literals as the system resolver reads them (see ip_literal.h). inet_aton itself is
 * not used: it accepts anything after a space ("127.0.0.1 x"), which getaddrinfo does
 * not, and c-ares reads these forms differently again ("0177.0.0.1" as 177.0.0.1, "127.1"
 * as a name), so one strict reader here decides for both the router and the resolver. */
#include "ip_literal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* One inet_aton part: decimal, 0-prefixed octal or 0x-prefixed hex, at least one digit.
 * Returns the characters read (0: not a number) and the value, capped above 2^32. */
static size_t aton_part(const char *p, size_t n, uint64_t *value)
{
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (n >= 1 && p[0] == '0') {
        base = 8;
    }
    size_t start = i;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d;
        char c = p[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        if (d >= base)
            return 0; /* "08", "0x1g": not a number, and not a name-safe prefix either */
        if (v <= UINT32_MAX)
            v = v * base + d;
    }
    if (i == start)
        return 0;
    *value = v;
    return i;
}

/* "a", "a.b", "a.b.c" or "a.b.c.d": the last part fills the bytes the others left. */
static int parse_ipv4(const char *p, size_t n, uint8_t out[4])
{
    uint64_t parts[4];
    size_t count = 0, i = 0;
    for (;;) {
        if (count == 4)
            return 0;
        size_t used = aton_part(p + i, n - i, &parts[count]);
        if (used == 0)
            return 0;
        i += used;
        count++;
        if (i == n)
            break;
        if (p[i] != '.' || i + 1 == n)
            return 0;
        i++;
    }
    for (size_t k = 0; k + 1 < count; k++)
        if (parts[k] > 255)
            return 0;
    uint64_t last_max = count == 1 ? UINT32_MAX : (1ull << (8 * (5 - count))) - 1;
    if (parts[count - 1] > last_max)
        return 0;
    uint32_t v = (uint32_t)parts[count - 1];
    for (size_t k = 0; k + 1 < count; k++)
        v |= (uint32_t)parts[k] << (24 - 8 * k);
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
    return 1;
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* An IPv6 address that is an IPv4-mapped one becomes IPv4 in place. */
static void unmap_v4(evp_addr *a)
{
    if (a->type == EVP_ADDR_IPV6 && memcmp(a->bytes, v4_mapped_prefix, 12) == 0) {
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
        a->type = EVP_ADDR_IPV4;
        a->len = 4;
    }
}

int evp_ip_literal(const char *name, size_t len, evp_addr *out)
{
    uint8_t bytes[16];
    /* Brackets as in a URL, which V2Ray strips too before it reads an address. */
    if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
        name++;
        len -= 2;
    }
    if (len == 0)
        return 0;
    if (parse_ipv4(name, len, bytes)) {
        out->type = EVP_ADDR_IPV4;
        out->len = 4;
        memset(out->bytes, 0, sizeof out->bytes);
        memcpy(out->bytes, bytes, 4);
        return 1;
    }
    char text[INET6_ADDRSTRLEN];
    if (len >= sizeof text || memchr(name, ':', len) == NULL)
        return 0;
    memcpy(text, name, len);
    text[len] = '\0';
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return 0;
    out->type = EVP_ADDR_IPV6;
    out->len = 16;
    memset(out->bytes, 0, sizeof out->bytes);
    memcpy(out->bytes, bytes, 16);
    unmap_v4(out);
    return 1;
}

void evp_addr_canonical(const evp_addr *a, evp_addr *out)
{
    *out = *a;
    if (a->type == EVP_ADDR_DOMAIN)
        evp_ip_literal((const char *)a->bytes, a->len, out);
    unmap_v4(out);
}

int evp_addr_from_sockaddr(const struct sockaddr *sa, evp_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        out->type = EVP_ADDR_IPV4;
        out->len = 4;
        memcpy(out->bytes, &in4->sin_addr, 4);
        out->port = ntohs(in4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        out->type = EVP_ADDR_IPV6;
        out->len = 16;
        memcpy(out->bytes, &in6->sin6_addr, 16);
        out->port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}

socklen_t evp_addr_to_sockaddr(const evp_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->type == EVP_ADDR_IPV4) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
        in4->sin_family = AF_INET;
        in4->sin_port = htons(a->port);
        memcpy(&in4->sin_addr, a->bytes, 4);
        return sizeof *in4;
    }
    if (a->type == EVP_ADDR_IPV6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        memcpy(&in6->sin6_addr, a->bytes, 16);
        return sizeof *in6;
    }
    return 0;
}
