/* Trusted fronts and X-Forwarded-For addresses (see trusted.h). */
#include "trusted.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int ws_net_parse(const char *text, ws_net *net)
{
    char ip[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof(ip))
        return -1;
    memcpy(ip, text, n);
    ip[n] = '\0';
    memset(net, 0, sizeof(*net));
    unsigned max;
    if (inet_pton(AF_INET, ip, net->addr) == 1) {
        net->family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, ip, net->addr) == 1) {
        net->family = 6;
        max = 128;
    } else {
        return -1;
    }
    unsigned long bits = max;
    if (slash != NULL) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > max)
            return -1;
    }
    net->bits = (uint8_t)bits;
    return 0;
}

size_t ws_net_loopback(ws_net nets[2])
{
    ws_net_parse("127.0.0.0/8", &nets[0]);
    ws_net_parse("::1", &nets[1]);
    return 2;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int ws_net_match(const ws_net *nets, size_t n, const evp_addr *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *bytes = addr->bytes;
    int family;
    if (addr->type == EVP_ADDR_IPV4) {
        family = 4;
    } else if (addr->type == EVP_ADDR_IPV6 && memcmp(bytes, mapped, 12) == 0) {
        family = 4;
        bytes += 12;
    } else if (addr->type == EVP_ADDR_IPV6) {
        family = 6;
    } else {
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (nets[i].family == family && prefix_equal(nets[i].addr, bytes, nets[i].bits))
            return 1;
    return 0;
}

/* One list item, trimmed, as an IP literal (brackets allowed around IPv6); 1 or 0. */
static int parse_ip(const char *p, size_t n, evp_addr *addr)
{
    char ip[64];
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']')
        p++, n -= 2;
    if (n == 0 || n >= sizeof(ip))
        return 0;
    memcpy(ip, p, n);
    ip[n] = '\0';
    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, ip, addr->bytes) == 1) {
        addr->type = EVP_ADDR_IPV4;
        addr->len = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, ip, addr->bytes) == 1) {
        addr->type = EVP_ADDR_IPV6;
        addr->len = 16;
        return 1;
    }
    return 0;
}

int ws_first_ip(const char *list, size_t len, evp_addr *addr)
{
    size_t i = 0;
    while (i < len) {
        size_t b = i;
        while (i < len && list[i] != ',')
            i++;
        if (parse_ip(list + b, i - b, addr))
            return 1;
        i++;
    }
    return 0;
}
