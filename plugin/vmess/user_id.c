/* UUID text handling, cmdKey and the alterId chain (vmess-protocol.md §2). */
#include "user_id.h"

#include <nettle/md5.h>
#include <sodium.h>
#include <string.h>

#define CMD_KEY_SALT "c48619fe-8f02-49e0-b9e9-edf763e17e21"
#define ALTER_SALT "16167dc8-16b6-4e6d-b8bb-65dd68113a81"
#define COLLISION_SALT "533eff8a-4113-4b10-b5ce-0f5d76b98cd2"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vmess_uuid_parse(uint8_t out[16], const char *s)
{
    size_t len = strlen(s);
    int dashed = len == VMESS_UUID_STR_LEN;
    if (!dashed && len != 32)
        return -1;
    if (dashed && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-'))
        return -1;
    uint8_t tmp[16];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23))
            continue;
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        tmp[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    memcpy(out, tmp, 16);
    return 0;
}

void vmess_uuid_format(char out[VMESS_UUID_STR_LEN + 1], const uint8_t uuid[16])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid[i] >> 4];
        out[o++] = hex[uuid[i] & 15];
    }
    out[o] = '\0';
}

void vmess_cmd_key(uint8_t cmd_key[16], const uint8_t uuid[16])
{
    struct md5_ctx ctx;
    md5_init(&ctx);
    md5_update(&ctx, 16, uuid);
    md5_update(&ctx, strlen(CMD_KEY_SALT), (const uint8_t *)CMD_KEY_SALT);
    md5_digest(&ctx, 16, cmd_key);
    sodium_memzero(&ctx, sizeof ctx); /* it has absorbed the uuid */
}

/* Go's hash.Sum() does not finalise, so the context keeps absorbing after a digest:
 * take the digest from a copy. */
static void md5_peek(const struct md5_ctx *ctx, uint8_t out[16])
{
    struct md5_ctx copy = *ctx;
    md5_digest(&copy, 16, out);
    sodium_memzero(&copy, sizeof copy);
}

void vmess_alter_ids(uint8_t (*out)[16], const uint8_t primary[16], size_t n)
{
    const uint8_t *prev = primary;
    for (size_t i = 0; i < n; i++) {
        struct md5_ctx ctx;
        md5_init(&ctx);
        md5_update(&ctx, 16, prev);
        md5_update(&ctx, strlen(ALTER_SALT), (const uint8_t *)ALTER_SALT);
        md5_peek(&ctx, out[i]);
        while (memcmp(out[i], prev, 16) == 0) {
            md5_update(&ctx, strlen(COLLISION_SALT), (const uint8_t *)COLLISION_SALT);
            md5_peek(&ctx, out[i]);
        }
        prev = out[i];
        sodium_memzero(&ctx, sizeof ctx);
    }
}
