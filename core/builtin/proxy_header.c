/* PROXY protocol v1/v2 header parser (haproxy's doc/proxy-protocol.txt). */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v1_prefix[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

enum { V2_LOCAL = 0, V2_PROXY = 1 };
enum { V2_UNSPEC = 0, V2_INET = 1, V2_INET6 = 2, V2_UNIX = 3 };

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static int bad(char *reason, size_t n, const char *why)
{
    snprintf(reason, n, "PROXY protocol: %s", why);
    return PP_BAD;
}

/* A decimal port 0..65535: 1 to 5 digits and nothing else. */
static int parse_port(const char *s, uint16_t *port)
{
    size_t len = strlen(s);
    if (len == 0 || len > 5 || strspn(s, "0123456789") != len)
        return -1;
    unsigned long v = strtoul(s, NULL, 10);
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Splits "a b c d" at single spaces into exactly 4 non-empty fields, in place. */
static int split4(char *s, char *f[4])
{
    for (int i = 0; i < 4; i++) {
        f[i] = s;
        char *sp = strchr(s, ' ');
        if (i < 3) {
            if (sp == NULL)
                return -1;
            *sp = '\0';
            s = sp + 1;
        } else if (sp != NULL) {
            return -1;
        }
        if (f[i][0] == '\0')
            return -1;
    }
    return 0;
}

/* "TCP4 SRC DST SPORT DPORT" or "TCP6 ..." (text is the line without "PROXY " and CRLF). */
static int v1_addresses(char *text, pp_header *h, char *reason, size_t n)
{
    int v6 = text[3] == '6';
    char *f[4];
    if (split4(text + 5, f) != 0)
        return bad(reason, n, "v1 line does not have 4 fields after its protocol");
    uint8_t dst[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, f[0], h->source.bytes) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, f[1], dst) != 1)
        return bad(reason, n, v6 ? "v1 TCP6 address is not IPv6" : "v1 TCP4 address is not IPv4");
    uint16_t dport;
    if (parse_port(f[2], &h->source.port) != 0 || parse_port(f[3], &dport) != 0)
        return bad(reason, n, "v1 port is not a number 0..65535");
    h->source.type = v6 ? EVP_ADDR_IPV6 : EVP_ADDR_IPV4;
    h->source.len = v6 ? 16 : 4;
    h->has_source = 1;
    return PP_DONE;
}

static int parse_v1(const uint8_t *in, size_t len, pp_header *h, char *reason, size_t n)
{
    const uint8_t *lf = memchr(in, '\n', min_size(len, PP_V1_MAX));
    if (lf == NULL)
        return len >= PP_V1_MAX ? bad(reason, n, "v1 line longer than 107 bytes") : PP_MORE;
    size_t end = (size_t)(lf - in) + 1;
    if (end < sizeof v1_prefix + 2 || lf[-1] != '\r')
        return bad(reason, n, "v1 line not ended by CRLF");
    char text[PP_V1_MAX];
    size_t text_len = end - 2 - sizeof v1_prefix;
    memcpy(text, in + sizeof v1_prefix, text_len);
    text[text_len] = '\0';
    if (strlen(text) != text_len)
        return bad(reason, n, "v1 line holds a NUL byte");
    h->len = end;
    /* UNKNOWN: the front could not tell; whatever follows on the line is ignored. */
    if (strcmp(text, "UNKNOWN") == 0 || strncmp(text, "UNKNOWN ", 8) == 0)
        return PP_DONE;
    if (strncmp(text, "TCP4 ", 5) == 0 || strncmp(text, "TCP6 ", 5) == 0)
        return v1_addresses(text, h, reason, n);
    return bad(reason, n, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int parse_v2(const uint8_t *in, size_t len, pp_header *h, char *reason, size_t n)
{
    if (len < PP_V2_FIXED)
        return PP_MORE;
    unsigned version = in[12] >> 4, command = in[12] & 0x0F;
    unsigned family = in[13] >> 4, transport = in[13] & 0x0F;
    uint16_t block = be16(in + 14);
    if (version != 2)
        return bad(reason, n, "v2 version nibble is not 2");
    if (command != V2_LOCAL && command != V2_PROXY)
        return bad(reason, n, "v2 command is neither LOCAL nor PROXY");
    h->len = PP_V2_FIXED;
    h->skip = block;
    /* LOCAL (a health check from the front itself): the block is ignored, family too. */
    if (command == V2_LOCAL)
        return PP_DONE;
    if (family > V2_UNIX || transport > 2)
        return bad(reason, n, "v2 family or transport is not one the spec defines");
    static const uint16_t addr_size[4] = {0, 12, 36, 216};
    if (block < addr_size[family])
        return bad(reason, n, "v2 address block is shorter than its family needs");
    if (family != V2_INET && family != V2_INET6)
        return PP_DONE; /* UNSPEC or UNIX: no IP address to tell */
    size_t ip_len = family == V2_INET ? 4 : 16;
    if (len < (size_t)PP_V2_FIXED + addr_size[family])
        return PP_MORE;
    memcpy(h->source.bytes, in + PP_V2_FIXED, ip_len);
    h->source.port = be16(in + PP_V2_FIXED + 2 * ip_len);
    h->source.type = family == V2_INET ? EVP_ADDR_IPV4 : EVP_ADDR_IPV6;
    h->source.len = (uint8_t)ip_len;
    h->has_source = 1;
    h->len = PP_V2_FIXED + addr_size[family];
    h->skip = block - addr_size[family];
    return PP_DONE;
}

int pp_header_parse(const uint8_t *in, size_t len, pp_header *h, char *reason, size_t n)
{
    memset(h, 0, sizeof *h);
    if (len == 0)
        return PP_MORE;
    if (memcmp(in, v1_prefix, min_size(len, sizeof v1_prefix)) == 0)
        return len < sizeof v1_prefix ? PP_MORE : parse_v1(in, len, h, reason, n);
    if (memcmp(in, v2_sig, min_size(len, sizeof v2_sig)) == 0)
        return parse_v2(in, len, h, reason, n);
    return bad(reason, n, "the connection does not start with a PROXY header");
}
