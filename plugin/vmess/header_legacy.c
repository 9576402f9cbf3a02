/* Legacy VMess header: HMAC-MD5 auth, MD5 header IV and the CFB streams
 * (vmess-protocol.md §4, §7). */
#include "header_legacy.h"

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <sodium.h>
#include <string.h>

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void vmess_legacy_auth(uint8_t auth[16], const uint8_t id[16], int64_t t)
{
    struct hmac_md5_ctx ctx;
    uint8_t ts[8];
    put_be64(ts, (uint64_t)t);
    hmac_md5_set_key(&ctx, 16, id);
    hmac_md5_update(&ctx, sizeof ts, ts);
    hmac_md5_digest(&ctx, 16, auth);
    sodium_memzero(&ctx, sizeof ctx);
}

void vmess_legacy_header_iv(uint8_t iv[16], int64_t t)
{
    struct md5_ctx ctx;
    uint8_t ts[8];
    put_be64(ts, (uint64_t)t);
    md5_init(&ctx);
    for (int i = 0; i < 4; i++)
        md5_update(&ctx, sizeof ts, ts);
    md5_digest(&ctx, 16, iv);
}

void vmess_legacy_header_cfb(vmess_cfb *c, const uint8_t primary_cmd_key[16], int64_t t)
{
    uint8_t iv[16];
    vmess_legacy_header_iv(iv, t);
    vmess_cfb_init(c, primary_cmd_key, iv);
}

size_t vmess_legacy_req_seal(uint8_t *out, const uint8_t id[16], const uint8_t primary_cmd_key[16],
                             int64_t t, const uint8_t *h, size_t len)
{
    vmess_cfb c;
    memmove(out + VMESS_LEGACY_AUTH_SIZE, h, len); /* first: h may start at out */
    vmess_legacy_auth(out, id, t);
    vmess_legacy_header_cfb(&c, primary_cmd_key, t);
    vmess_cfb_encrypt(&c, out + VMESS_LEGACY_AUTH_SIZE, len);
    vmess_cfb_wipe(&c);
    return VMESS_LEGACY_AUTH_SIZE + len;
}

void vmess_legacy_resp_seal(vmess_cfb *c, const uint8_t resp_key[16], const uint8_t resp_iv[16],
                            uint8_t *buf, size_t len)
{
    vmess_cfb_init(c, resp_key, resp_iv);
    vmess_cfb_encrypt(c, buf, len);
}
