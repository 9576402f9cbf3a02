/* VMess request header plaintext encode/decode (vmess-protocol.md §6). */
#include "request.h"

#include "addr.h"
#include "fnv1a.h"

#include <string.h>

#define OFF_PAD_SEC 35
#define OFF_CMD 37
#define OFF_PORT 38
#define OFF_ATYPE 40
#define MUX_DOMAIN "v1.mux.cool"

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
        int a = vmess_addr_encode(&r->target, h + n);
        if (a < 0)
            return VMESS_REQ_TOO_LONG;
        n += (size_t)a;
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

/* Parses the address part (which vmess_request_length() has shown to be complete). */
static int decode_address(evp_addr *a, const uint8_t *p, size_t addr_end)
{
    switch (vmess_addr_decode(a, p + OFF_PORT, addr_end - OFF_PORT)) {
    case VMESS_ADDR_BAD_TYPE:
        return VMESS_REQ_BAD_ADDR_TYPE;
    case VMESS_ADDR_BAD_DOMAIN:
        return VMESS_REQ_BAD_DOMAIN;
    case VMESS_ADDR_SHORT:
        return VMESS_REQ_SHORT;
    default:
        return VMESS_REQ_OK;
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
        int rc = decode_address(&r->target, p, addr_end);
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
