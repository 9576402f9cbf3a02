/* VMess request header plaintext encode/decode (vmess-protocol.md §6). */
#include "request.h"

#include "fnv1a.h"

#include <arpa/inet.h>
#include <string.h>

#define OFF_PAD_SEC 35
#define OFF_CMD 37
#define OFF_PORT 38
#define OFF_ATYPE 40
#define MUX_DOMAIN "v1.mux.cool"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int has_address(uint8_t command)
{
    return command != VMESS_CMD_MUX;
}

int vmess_request_encode(const vmess_request *r, const uint8_t *pad, uint8_t *out, size_t cap)
{
    uint8_t h[VMESS_REQUEST_MAX];
    size_t n = 0;
    if (r->padding_len > 15 || r->security > 15)
        return VMESS_REQ_TOO_LONG;
    h[n++] = r->version;
    memcpy(h + n, r->iv, 16);
    n += 16;
    memcpy(h + n, r->key, 16);
    n += 16;
    h[n++] = r->v;
    h[n++] = r->option;
    h[n++] = (uint8_t)(r->padding_len << 4 | r->security);
    h[n++] = 0;
    h[n++] = r->command;
    if (has_address(r->command)) {
        const evp_addr *a = &r->target;
        h[n++] = (uint8_t)(a->port >> 8);
        h[n++] = (uint8_t)a->port;
        h[n++] = a->type;
        switch (a->type) {
        case EVP_ADDR_IPV4:
            memcpy(h + n, a->bytes, 4);
            n += 4;
            break;
        case EVP_ADDR_IPV6:
            memcpy(h + n, a->bytes, 16);
            n += 16;
            break;
        case EVP_ADDR_DOMAIN:
            if (a->len == 0)
                return VMESS_REQ_TOO_LONG;
            h[n++] = a->len;
            memcpy(h + n, a->bytes, a->len);
            n += a->len;
            break;
        default:
            return VMESS_REQ_TOO_LONG;
        }
    }
    if (r->padding_len > 0)
        memcpy(h + n, pad, r->padding_len);
    n += r->padding_len;
    uint32_t f = vmess_fnv1a32(h, n);
    h[n++] = (uint8_t)(f >> 24);
    h[n++] = (uint8_t)(f >> 16);
    h[n++] = (uint8_t)(f >> 8);
    h[n++] = (uint8_t)f;
    if (n > cap)
        return VMESS_REQ_TOO_LONG;
    memcpy(out, h, n);
    return (int)n;
}

size_t vmess_request_length(const uint8_t *p, size_t len)
{
    if (len < VMESS_REQUEST_FIXED)
        return VMESS_REQUEST_FIXED;
    size_t tail = (size_t)(p[OFF_PAD_SEC] >> 4) + 4; /* padding + FNV */
    if (!has_address(p[OFF_CMD]))
        return VMESS_REQUEST_FIXED + tail;
    if (len < OFF_ATYPE + 1)
        return OFF_ATYPE + 1;
    switch (p[OFF_ATYPE]) {
    case EVP_ADDR_IPV4:
        return OFF_ATYPE + 1 + 4 + tail;
    case EVP_ADDR_IPV6:
        return OFF_ATYPE + 1 + 16 + tail;
    case EVP_ADDR_DOMAIN:
        if (len < OFF_ATYPE + 2)
            return OFF_ATYPE + 2;
        return OFF_ATYPE + 2 + (size_t)p[OFF_ATYPE + 1] + tail;
    default:
        return 0;
    }
}

static int domain_char_ok(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '_' || c == '-';
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
        a->type = EVP_ADDR_IPV4;
        a->len = 4;
        memcpy(a->bytes, ip, 4);
        return 1;
    }
    if (inet_pton(AF_INET6, text, ip) == 1) {
        if (memcmp(ip, v4_mapped, sizeof v4_mapped) == 0) {
            a->type = EVP_ADDR_IPV4;
            a->len = 4;
            memcpy(a->bytes, ip + 12, 4);
        } else {
            a->type = EVP_ADDR_IPV6;
            a->len = 16;
            memcpy(a->bytes, ip, 16);
        }
        return 1;
    }
    return 0;
}

/* Parses the address part (which vmess_request_length() has shown to be complete). */
static int decode_address(evp_addr *a, const uint8_t *p)
{
    memset(a, 0, sizeof *a);
    a->port = (uint16_t)(p[OFF_PORT] << 8 | p[OFF_PORT + 1]);
    const uint8_t *q = p + OFF_ATYPE + 1;
    switch (p[OFF_ATYPE]) {
    case EVP_ADDR_IPV4:
        a->type = EVP_ADDR_IPV4;
        a->len = 4;
        memcpy(a->bytes, q, 4);
        return VMESS_REQ_OK;
    case EVP_ADDR_IPV6:
        a->type = EVP_ADDR_IPV6;
        a->len = 16;
        memcpy(a->bytes, q, 16);
        if (memcmp(a->bytes, v4_mapped, sizeof v4_mapped) == 0) {
            a->type = EVP_ADDR_IPV4;
            a->len = 4;
            memmove(a->bytes, a->bytes + 12, 4);
            memset(a->bytes + 4, 0, 12);
        }
        return VMESS_REQ_OK;
    case EVP_ADDR_DOMAIN: {
        size_t len = q[0];
        const uint8_t *d = q + 1;
        if (len == 0)
            return VMESS_REQ_BAD_DOMAIN;
        if (domain_as_ip(a, d, len))
            return VMESS_REQ_OK;
        for (size_t i = 0; i < len; i++)
            if (!domain_char_ok(d[i]))
                return VMESS_REQ_BAD_DOMAIN;
        a->type = EVP_ADDR_DOMAIN;
        a->len = (uint8_t)len;
        memcpy(a->bytes, d, len);
        a->bytes[len] = '\0';
        return VMESS_REQ_OK;
    }
    default:
        return VMESS_REQ_BAD_ADDR_TYPE;
    }
}

int vmess_request_decode(vmess_request *r, const uint8_t *p, size_t len)
{
    size_t need = vmess_request_length(p, len);
    if (len < VMESS_REQUEST_FIXED)
        return VMESS_REQ_SHORT;
    memset(r, 0, sizeof *r);
    r->command = p[OFF_CMD];
    if (has_address(r->command)) {
        if (len < OFF_ATYPE + 1)
            return VMESS_REQ_SHORT;
        if (need == 0)
            return VMESS_REQ_BAD_ADDR_TYPE;
        /* Without the domain's length byte, need is the prefix still missing, not the
         * header's length: addr_end below would be wrong and the parse read past len
         * (found by fuzzing). */
        if (p[OFF_ATYPE] == EVP_ADDR_DOMAIN && len < OFF_ATYPE + 2)
            return VMESS_REQ_SHORT;
        /* The address must be whole before it can be parsed; padding/FNV may be short. */
        size_t addr_end = need - (size_t)(p[OFF_PAD_SEC] >> 4) - 4;
        if (len < addr_end)
            return VMESS_REQ_SHORT;
        int rc = decode_address(&r->target, p);
        if (rc != VMESS_REQ_OK)
            return rc;
    }
    /* Bytes after the FNV are ignored, as V2Ray reads the header as a stream. */
    if (len < need)
        return VMESS_REQ_SHORT;
    len = need;
    uint32_t f = (uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 |
                 (uint32_t)p[len - 2] << 8 | p[len - 1];
    if (vmess_fnv1a32(p, len - 4) != f)
        return VMESS_REQ_BAD_CHECKSUM;
    r->version = p[0];
    memcpy(r->iv, p + 1, 16);
    memcpy(r->key, p + 17, 16);
    r->v = p[33];
    r->option = p[34];
    r->padding_len = p[OFF_PAD_SEC] >> 4;
    r->security = p[OFF_PAD_SEC] & 15;
    switch (r->command) {
    case VMESS_CMD_TCP:
    case VMESS_CMD_UDP:
        break;
    case VMESS_CMD_MUX:
        r->target.type = EVP_ADDR_DOMAIN;
        r->target.len = sizeof MUX_DOMAIN - 1;
        memcpy(r->target.bytes, MUX_DOMAIN, sizeof MUX_DOMAIN);
        r->target.port = 0;
        break;
    default:
        return VMESS_REQ_BAD_COMMAND;
    }
    if (r->security == VMESS_SEC_UNKNOWN)
        r->security = VMESS_SEC_LEGACY;
    if (r->security == VMESS_SEC_AUTO || r->security > VMESS_SEC_NONE)
        return VMESS_REQ_BAD_SECURITY;
    if ((r->option & VMESS_OPT_GLOBAL_PADDING) && !(r->option & VMESS_OPT_CHUNK_MASKING))
        return VMESS_REQ_BAD_OPTION;
    return VMESS_REQ_OK;
}

const char *vmess_request_strerror(int result)
{
    switch (result) {
    case VMESS_REQ_OK:
        return "ok";
    case VMESS_REQ_SHORT:
        return "truncated request header";
    case VMESS_REQ_BAD_CHECKSUM:
        return "request header checksum mismatch";
    case VMESS_REQ_BAD_ADDR_TYPE:
        return "unknown address type";
    case VMESS_REQ_BAD_DOMAIN:
        return "invalid domain name";
    case VMESS_REQ_BAD_COMMAND:
        return "unknown command";
    case VMESS_REQ_BAD_SECURITY:
        return "unknown security type";
    case VMESS_REQ_BAD_OPTION:
        return "global padding without chunk masking";
    case VMESS_REQ_TOO_LONG:
        return "request header does not fit";
    default:
        return "bad request header";
    }
}
