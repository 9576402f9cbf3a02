/* The body's ciphers: compact keys, expanded contexts built on activity and dropped when
 * idle (see body_cipher.h). AES-128-GCM runs through GnuTLS, whose AES-NI/PCLMUL code is
 * about twice Nettle 3.8's speed here; a session with AuthenticatedLength has two handles
 * per direction. GnuTLS allocates a handle's context (key schedule, GHASH powers; 752 bytes) itself,
 * not through the host's table: the plugin's memory counter sees only the handle array.
 * Rebuilding a handle is an AES key schedule plus GHASH's set-up, far less than a chunk. */
#include "body_cipher.h"

#include "mem.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
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

/* GCM handles a warm body holds: the payload key's, and AuthenticatedLength's. */
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
        return gcm_count(b) * sizeof(gnutls_aead_cipher_hd_t);
    if (b->security == VMESS_SEC_LEGACY)
        return sizeof(vmess_cfb);
    return 0;
}

/* A GnuTLS AES-128-GCM handle for key; NULL on failure (out of memory). GnuTLS copies key. */
static gnutls_aead_cipher_hd_t gcm_open_handle(uint8_t key[16])
{
    gnutls_aead_cipher_hd_t hd = NULL;
    gnutls_datum_t k = {key, 16};
    if (gnutls_aead_cipher_init(&hd, GNUTLS_CIPHER_AES_128_GCM, &k) < 0)
        return NULL;
    return hd;
}

/* Deinit wipes the context before freeing it (GnuTLS zeroizes its cipher contexts). */
static void gcm_close_handles(gnutls_aead_cipher_hd_t *hd, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (hd[i] != NULL)
            gnutls_aead_cipher_deinit(hd[i]);
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
        gnutls_aead_cipher_hd_t *hd = hot;
        hd[BODY_KEY_PAYLOAD] = gcm_open_handle(b->key);
        if (gcm_count(b) == 2)
            hd[BODY_KEY_LENGTH] = gcm_open_handle(b->len_key);
        for (size_t i = 0; i < gcm_count(b); i++) {
            if (hd[i] == NULL) {
                gcm_close_handles(hd, gcm_count(b));
                vmess_free(hot);
                return -1;
            }
        }
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
    if (uses_gcm(b))
        gcm_close_handles(b->hot, gcm_count(b));
    sodium_memzero(b->hot, vmess_body_hot_size(b));
    vmess_free(b->hot);
    b->hot = NULL;
}

vmess_cfb *body_cfb(vmess_body *b)
{
    return b->hot;
}

static gnutls_aead_cipher_hd_t gcm_of(vmess_body *b, enum body_key k)
{
    return ((gnutls_aead_cipher_hd_t *)b->hot)[k];
}

static const uint8_t *chacha_of(const vmess_body *b, enum body_key k)
{
    return k == BODY_KEY_LENGTH ? b->len_key : b->key;
}

void body_aead_seal(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                    const uint8_t *src, size_t n)
{
    if (uses_gcm(b)) {
        size_t out_len = n + TAG_SIZE;
        /* Fails only on wrong sizes, which body.c never passes; a zeroed chunk then fails
         * the peer's tag check rather than leaking plaintext. */
        if (gnutls_aead_cipher_encrypt(gcm_of(b, k), nonce, 12, NULL, 0, TAG_SIZE, src, n, dst,
                                       &out_len) < 0)
            sodium_memzero(dst, n + TAG_SIZE);
    } else {
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + n, NULL, src, n, NULL, 0,
                                                           NULL, nonce, chacha_of(b, k));
    }
}

int body_aead_open(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                   const uint8_t *src, size_t n)
{
    if (uses_gcm(b)) {
        size_t out_len = n;
        if (gnutls_aead_cipher_decrypt(gcm_of(b, k), nonce, 12, NULL, 0, TAG_SIZE, src,
                                       n + TAG_SIZE, dst, &out_len) < 0) {
            sodium_memzero(dst, n); /* never leave unauthenticated plaintext behind */
            return -1;
        }
        return 0;
    }
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, n, src + n, NULL, 0,
                                                              nonce, chacha_of(b, k));
}
