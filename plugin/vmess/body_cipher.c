/* The body's ciphers: compact keys, expanded contexts built on activity and dropped when
 * idle (see body_cipher.h). A GCM key expands into 4,336 bytes (Nettle 3.8's struct
 * gcm_aes128_ctx: a 4 KiB GHASH table, its GCM state and the AES schedule), and a session
 * with AuthenticatedLength has four; rebuilding one is an AES key schedule plus GHASH's
 * set-up, far less than a chunk's encryption. */
#include "body_cipher.h"

#include "mem.h"

#include <nettle/gcm.h>
#include <nettle/md5.h>
#include <sodium.h>
#include <string.h>

#define TAG_SIZE 16

/* key32 = MD5(k) ‖ MD5(MD5(k)): how VMess stretches a 16-byte key for ChaCha20 (§8.1). */
static void chacha_key(uint8_t out[32], const uint8_t k[16])
{
    struct md5_ctx md5;
    md5_init(&md5);
    md5_update(&md5, 16, k);
    md5_digest(&md5, MD5_DIGEST_SIZE, out);
    md5_update(&md5, MD5_DIGEST_SIZE, out);
    md5_digest(&md5, MD5_DIGEST_SIZE, out + 16);
    sodium_memzero(&md5, sizeof md5);
}

static int uses_gcm(const vmess_body *b)
{
    return b->security == VMESS_SEC_GCM;
}

/* GCM contexts a warm body holds: the payload key's, and AuthenticatedLength's. */
static size_t gcm_count(const vmess_body *b)
{
    return b->len_size > 2 ? 2 : 1;
}

void body_keys_set(vmess_body *b, const vmess_body_params *p)
{
    int auth_len = b->len_size > 2;
    if (b->security == VMESS_SEC_CHACHA) {
        chacha_key(b->key, p->key);
        if (auth_len)
            chacha_key(b->len_key, p->len_key);
    } else {
        memcpy(b->key, p->key, 16);
        if (auth_len)
            memcpy(b->len_key, p->len_key, 16);
    }
    if (b->security == VMESS_SEC_LEGACY) {
        vmess_cfb start;
        if (p->cfb == NULL)
            vmess_cfb_init(&start, p->key, p->iv);
        vmess_cfb_park(p->cfb != NULL ? p->cfb : &start, &b->cfb_pos);
        if (p->cfb == NULL)
            vmess_cfb_wipe(&start);
    }
}

size_t vmess_body_hot_size(const vmess_body *b)
{
    if (uses_gcm(b))
        return gcm_count(b) * sizeof(struct gcm_aes128_ctx);
    if (b->security == VMESS_SEC_LEGACY)
        return sizeof(vmess_cfb);
    return 0;
}

int body_warm(vmess_body *b, const evp_host *h)
{
    size_t size = vmess_body_hot_size(b);
    if (b->hot != NULL || size == 0)
        return 0;
    vmess_mem_adopt(h); /* a unit test's host may skip the plugin's init */
    void *hot = vmess_alloc(size);
    if (hot == NULL)
        return -1;
    if (uses_gcm(b)) {
        struct gcm_aes128_ctx *gcm = hot;
        gcm_aes128_set_key(&gcm[BODY_KEY_PAYLOAD], b->key);
        if (gcm_count(b) == 2)
            gcm_aes128_set_key(&gcm[BODY_KEY_LENGTH], b->len_key);
    } else {
        vmess_cfb_resume(hot, b->key, &b->cfb_pos);
    }
    b->hot = hot;
    return 0;
}

void vmess_body_idle(vmess_body *b)
{
    if (b->hot == NULL)
        return;
    if (b->security == VMESS_SEC_LEGACY)
        vmess_cfb_park(b->hot, &b->cfb_pos);
    sodium_memzero(b->hot, vmess_body_hot_size(b));
    vmess_free(b->hot);
    b->hot = NULL;
}

vmess_cfb *body_cfb(vmess_body *b)
{
    return b->hot;
}

static struct gcm_aes128_ctx *gcm_of(vmess_body *b, enum body_key k)
{
    return &((struct gcm_aes128_ctx *)b->hot)[k];
}

static const uint8_t *chacha_of(const vmess_body *b, enum body_key k)
{
    return k == BODY_KEY_LENGTH ? b->len_key : b->key;
}

void body_aead_seal(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                    const uint8_t *src, size_t n)
{
    if (uses_gcm(b)) {
        struct gcm_aes128_ctx *gcm = gcm_of(b, k);
        gcm_aes128_set_iv(gcm, 12, nonce);
        gcm_aes128_encrypt(gcm, n, dst, src);
        gcm_aes128_digest(gcm, TAG_SIZE, dst + n);
    } else {
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + n, NULL, src, n, NULL, 0,
                                                           NULL, nonce, chacha_of(b, k));
    }
}

int body_aead_open(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                   const uint8_t *src, size_t n)
{
    if (uses_gcm(b)) {
        struct gcm_aes128_ctx *gcm = gcm_of(b, k);
        uint8_t tag[TAG_SIZE];
        gcm_aes128_set_iv(gcm, 12, nonce);
        gcm_aes128_decrypt(gcm, n, dst, src);
        gcm_aes128_digest(gcm, TAG_SIZE, tag);
        if (sodium_memcmp(tag, src + n, TAG_SIZE) != 0) {
            sodium_memzero(dst, n); /* never leave unauthenticated plaintext behind */
            return -1;
        }
        return 0;
    }
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, n, src + n, NULL, 0,
                                                              nonce, chacha_of(b, k));
}
