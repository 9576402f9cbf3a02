/* Method names and key derivation (see method.h), on Nettle's MD5, HMAC-SHA1 and HKDF. */
#include "method.h"

#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int method;
} names[] = {
    {"aes-128-gcm", SS_AES_128_GCM},
    {"aead_aes_128_gcm", SS_AES_128_GCM},
    {"aes-256-gcm", SS_AES_256_GCM},
    {"aead_aes_256_gcm", SS_AES_256_GCM},
    {"chacha20-ietf-poly1305", SS_CHACHA20_POLY1305},
    {"chacha20-poly1305", SS_CHACHA20_POLY1305},
    {"aead_chacha20_poly1305", SS_CHACHA20_POLY1305},
};

int ss_method_parse(const char *name)
{
    if (name == NULL)
        return SS_METHOD_NONE;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].method;
    return SS_METHOD_NONE;
}

const char *ss_method_name(int m)
{
    switch (m) {
    case SS_AES_128_GCM:
        return "aes-128-gcm";
    case SS_AES_256_GCM:
        return "aes-256-gcm";
    case SS_CHACHA20_POLY1305:
        return "chacha20-ietf-poly1305";
    default:
        return "?";
    }
}

size_t ss_key_size(int m)
{
    return m == SS_AES_128_GCM ? 16 : 32;
}

void ss_password_key(int m, const char *password, size_t len, uint8_t key[SS_KEY_MAX])
{
    /* D1 = MD5(password), Di = MD5(Di-1 || password); the key is D1 || D2 ... */
    size_t need = ss_key_size(m);
    uint8_t d[MD5_DIGEST_SIZE];
    struct md5_ctx md5;
    for (size_t have = 0; have < need; have += MD5_DIGEST_SIZE) {
        md5_init(&md5);
        if (have > 0)
            md5_update(&md5, sizeof d, d);
        md5_update(&md5, len, (const uint8_t *)password);
        md5_digest(&md5, sizeof d, d);
        memcpy(key + have, d, need - have < sizeof d ? need - have : sizeof d);
    }
    sodium_memzero(d, sizeof d);
    sodium_memzero(&md5, sizeof md5);
}

void ss_subkey(int m, const uint8_t *key, const uint8_t *salt, uint8_t subkey[SS_KEY_MAX])
{
    static const uint8_t info[] = "ss-subkey";
    size_t n = ss_key_size(m);
    uint8_t prk[SHA1_DIGEST_SIZE];
    struct hmac_sha1_ctx mac;
    hmac_sha1_set_key(&mac, n, salt);
    hkdf_extract(&mac, (nettle_hash_update_func *)hmac_sha1_update,
                 (nettle_hash_digest_func *)hmac_sha1_digest, SHA1_DIGEST_SIZE, n, key, prk);
    hmac_sha1_set_key(&mac, sizeof prk, prk);
    hkdf_expand(&mac, (nettle_hash_update_func *)hmac_sha1_update,
                (nettle_hash_digest_func *)hmac_sha1_digest, SHA1_DIGEST_SIZE,
                sizeof info - 1, info, n, subkey);
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(&mac, sizeof mac);
}
