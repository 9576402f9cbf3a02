/* VMess AEAD header: AuthID, request header seal/open, response keys and response header
 * (vmess-protocol.md §5, §7). */
#include "header_aead.h"

#include "kdf.h"

#include <nettle/gcm.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>

#define AUTHID_KEY_PATH "AES Auth ID Encryption"
#define REQ_LEN_KEY "VMess Header AEAD Key_Length"
#define REQ_LEN_NONCE "VMess Header AEAD Nonce_Length"
#define REQ_KEY "VMess Header AEAD Key"
#define REQ_NONCE "VMess Header AEAD Nonce"
#define RESP_LEN_KEY "AEAD Resp Header Len Key"
#define RESP_LEN_IV "AEAD Resp Header Len IV"
#define RESP_KEY "AEAD Resp Header Key"
#define RESP_IV "AEAD Resp Header IV"
#define GCM_NONCE 12

uint32_t vmess_crc32(const uint8_t *p, size_t n)
{
    /* Bitwise, table-free: only 12 bytes per handshake go through it. */
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void vmess_authid_key(uint8_t key[16], const uint8_t cmd_key[16])
{
    vmess_kdf16_str(key, cmd_key, 16, AUTHID_KEY_PATH);
}

void vmess_authid_make(uint8_t authid[16], const uint8_t cmd_key[16], int64_t t,
                       const uint8_t rand4[4])
{
    uint8_t key[16], p[16];
    struct aes128_ctx aes;
    put_be64(p, (uint64_t)t);
    memcpy(p + 8, rand4, 4);
    put_be32(p + 12, vmess_crc32(p, 12));
    vmess_authid_key(key, cmd_key);
    aes128_set_encrypt_key(&aes, key);
    aes128_encrypt(&aes, 16, authid, p);
    sodium_memzero(key, sizeof key);
    sodium_memzero(&aes, sizeof aes);
}

void vmess_authid_dec_init(struct aes128_ctx *dec, const uint8_t cmd_key[16])
{
    uint8_t key[16];
    vmess_authid_key(key, cmd_key);
    aes128_set_decrypt_key(dec, key);
    sodium_memzero(key, sizeof key);
}

int vmess_authid_check(const struct aes128_ctx *dec, const uint8_t authid[16], int64_t now,
                       int64_t *t)
{
    uint8_t p[16];
    aes128_decrypt(dec, 16, p, authid);
    int64_t when = (int64_t)get_be64(p);
    int ok = vmess_crc32(p, 12) == get_be32(p + 12) && when >= 0 &&
             when >= now - VMESS_AUTHID_WINDOW && when <= now + VMESS_AUTHID_WINDOW;
    if (ok && t)
        *t = when;
    return ok ? 0 : -1;
}

/* One-shot AES-128-GCM seal: out = enc(in) || tag. */
static void gcm_seal(const uint8_t key[16], const uint8_t nonce[GCM_NONCE], const uint8_t *aad,
                     size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    struct gcm_aes128_ctx ctx;
    gcm_aes128_set_key(&ctx, key);
    gcm_aes128_set_iv(&ctx, GCM_NONCE, nonce);
    if (aad_len)
        gcm_aes128_update(&ctx, aad_len, aad);
    gcm_aes128_encrypt(&ctx, len, out, in);
    gcm_aes128_digest(&ctx, VMESS_AEAD_TAG_SIZE, out + len);
    sodium_memzero(&ctx, sizeof ctx);
}

/* One-shot AES-128-GCM open of in[0..len + 16) into out[0..len); out is wiped on failure. */
static int gcm_open(const uint8_t key[16], const uint8_t nonce[GCM_NONCE], const uint8_t *aad,
                    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    struct gcm_aes128_ctx ctx;
    uint8_t tag[VMESS_AEAD_TAG_SIZE], want[VMESS_AEAD_TAG_SIZE];
    memcpy(want, in + len, sizeof want); /* in may be out: keep the tag first */
    gcm_aes128_set_key(&ctx, key);
    gcm_aes128_set_iv(&ctx, GCM_NONCE, nonce);
    if (aad_len)
        gcm_aes128_update(&ctx, aad_len, aad);
    gcm_aes128_decrypt(&ctx, len, out, in);
    gcm_aes128_digest(&ctx, sizeof tag, tag);
    sodium_memzero(&ctx, sizeof ctx);
    if (sodium_memcmp(tag, want, sizeof tag) != 0) {
        sodium_memzero(out, len);
        return -1;
    }
    return 0;
}

/* Request header key and nonce for one of the two (length / payload) seals. */
static void req_key_nonce(uint8_t key[16], uint8_t nonce[GCM_NONCE], const uint8_t cmd_key[16],
                          const char *key_path, const char *nonce_path, const uint8_t authid[16],
                          const uint8_t conn_nonce[8])
{
    uint8_t full[32];
    vmess_kdf_path path[3] = {
        {(const uint8_t *)key_path, strlen(key_path)},
        {authid, VMESS_AUTHID_SIZE},
        {conn_nonce, VMESS_AEAD_NONCE_SIZE},
    };
    vmess_kdf16(key, cmd_key, 16, path, 3);
    path[0] = (vmess_kdf_path){(const uint8_t *)nonce_path, strlen(nonce_path)};
    vmess_kdf(full, cmd_key, 16, path, 3);
    memcpy(nonce, full, GCM_NONCE);
    sodium_memzero(full, sizeof full);
}

size_t vmess_aead_req_seal(uint8_t *out, const uint8_t cmd_key[16], const uint8_t authid[16],
                           const uint8_t nonce[8], const uint8_t *h, size_t len)
{
    uint8_t key[16], iv[GCM_NONCE], be_len[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    memcpy(out, authid, VMESS_AUTHID_SIZE);
    req_key_nonce(key, iv, cmd_key, REQ_LEN_KEY, REQ_LEN_NONCE, authid, nonce);
    gcm_seal(key, iv, authid, VMESS_AUTHID_SIZE, be_len, 2, out + VMESS_AUTHID_SIZE);
    memcpy(out + VMESS_AUTHID_SIZE + VMESS_AEAD_LEN_SIZE, nonce, VMESS_AEAD_NONCE_SIZE);
    req_key_nonce(key, iv, cmd_key, REQ_KEY, REQ_NONCE, authid, nonce);
    gcm_seal(key, iv, authid, VMESS_AUTHID_SIZE, h, len, out + VMESS_AEAD_PREFIX);
    sodium_memzero(key, sizeof key);
    return VMESS_AEAD_REQ_SIZE(len);
}

int vmess_aead_req_open_len(const uint8_t cmd_key[16], const uint8_t authid[16],
                            const uint8_t nonce[8], const uint8_t enc_len[18], uint16_t *len)
{
    uint8_t key[16], iv[GCM_NONCE], be_len[2];
    req_key_nonce(key, iv, cmd_key, REQ_LEN_KEY, REQ_LEN_NONCE, authid, nonce);
    int rc = gcm_open(key, iv, authid, VMESS_AUTHID_SIZE, enc_len, 2, be_len);
    sodium_memzero(key, sizeof key);
    if (rc == 0)
        *len = (uint16_t)(be_len[0] << 8 | be_len[1]);
    return rc;
}

int vmess_aead_req_open(const uint8_t cmd_key[16], const uint8_t authid[16], const uint8_t nonce[8],
                        const uint8_t *enc, size_t enc_len, uint8_t *out)
{
    uint8_t key[16], iv[GCM_NONCE];
    if (enc_len < VMESS_AEAD_TAG_SIZE)
        return -1;
    req_key_nonce(key, iv, cmd_key, REQ_KEY, REQ_NONCE, authid, nonce);
    int rc = gcm_open(key, iv, authid, VMESS_AUTHID_SIZE, enc, enc_len - VMESS_AEAD_TAG_SIZE, out);
    sodium_memzero(key, sizeof key);
    return rc;
}

void vmess_resp_keys_aead(uint8_t resp_key[16], uint8_t resp_iv[16], const uint8_t req_key[16],
                          const uint8_t req_iv[16])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, 16, req_key);
    sha256_digest(&ctx, sizeof d, d);
    memcpy(resp_key, d, 16);
    sha256_update(&ctx, 16, req_iv); /* digest() reset the context */
    sha256_digest(&ctx, sizeof d, d);
    memcpy(resp_iv, d, 16);
    sodium_memzero(d, sizeof d);
    sodium_memzero(&ctx, sizeof ctx);
}

void vmess_resp_keys_legacy(uint8_t resp_key[16], uint8_t resp_iv[16], const uint8_t req_key[16],
                            const uint8_t req_iv[16])
{
    struct md5_ctx ctx;
    md5_init(&ctx);
    md5_update(&ctx, 16, req_key);
    md5_digest(&ctx, 16, resp_key);
    md5_update(&ctx, 16, req_iv);
    md5_digest(&ctx, 16, resp_iv);
    sodium_memzero(&ctx, sizeof ctx);
}

/* Response header key and nonce: KDF16(resp_key, key_path), KDF(resp_iv, iv_path)[0:12]. */
static void resp_key_nonce(uint8_t key[16], uint8_t nonce[GCM_NONCE], const uint8_t resp_key[16],
                           const uint8_t resp_iv[16], const char *key_path, const char *iv_path)
{
    uint8_t full[32];
    vmess_kdf_path p = {(const uint8_t *)iv_path, strlen(iv_path)};
    vmess_kdf16_str(key, resp_key, 16, key_path);
    vmess_kdf(full, resp_iv, 16, &p, 1);
    memcpy(nonce, full, GCM_NONCE);
    sodium_memzero(full, sizeof full);
}

size_t vmess_aead_resp_seal(uint8_t *out, const uint8_t resp_key[16], const uint8_t resp_iv[16],
                            const uint8_t *h, size_t len)
{
    uint8_t key[16], iv[GCM_NONCE], be_len[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    resp_key_nonce(key, iv, resp_key, resp_iv, RESP_LEN_KEY, RESP_LEN_IV);
    gcm_seal(key, iv, NULL, 0, be_len, 2, out);
    resp_key_nonce(key, iv, resp_key, resp_iv, RESP_KEY, RESP_IV);
    gcm_seal(key, iv, NULL, 0, h, len, out + VMESS_AEAD_LEN_SIZE);
    sodium_memzero(key, sizeof key);
    return VMESS_AEAD_RESP_SIZE(len);
}

int vmess_aead_resp_open_len(const uint8_t resp_key[16], const uint8_t resp_iv[16],
                             const uint8_t enc_len[18], uint16_t *len)
{
    uint8_t key[16], iv[GCM_NONCE], be_len[2];
    resp_key_nonce(key, iv, resp_key, resp_iv, RESP_LEN_KEY, RESP_LEN_IV);
    int rc = gcm_open(key, iv, NULL, 0, enc_len, 2, be_len);
    sodium_memzero(key, sizeof key);
    if (rc == 0)
        *len = (uint16_t)(be_len[0] << 8 | be_len[1]);
    return rc;
}

int vmess_aead_resp_open(const uint8_t resp_key[16], const uint8_t resp_iv[16], const uint8_t *enc,
                         size_t enc_len, uint8_t *out)
{
    uint8_t key[16], iv[GCM_NONCE];
    if (enc_len < VMESS_AEAD_TAG_SIZE)
        return -1;
    resp_key_nonce(key, iv, resp_key, resp_iv, RESP_KEY, RESP_IV);
    int rc = gcm_open(key, iv, NULL, 0, enc, enc_len - VMESS_AEAD_TAG_SIZE, out);
    sodium_memzero(key, sizeof key);
    return rc;
}
