/* SIP004's AEAD over GnuTLS (AES-GCM) and libsodium (ChaCha20-Poly1305): see aead.h. */
#include "aead.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>
#include <string.h>

void ss_aead_init(ss_aead *a, int method, const uint8_t *master_key, const uint8_t *salt)
{
    memset(a, 0, sizeof *a);
    a->method = (uint8_t)method;
    ss_subkey(method, master_key, salt, a->key);
}

static void next_nonce(ss_aead *a)
{
    sodium_increment(a->nonce, sizeof a->nonce); /* little-endian, as SIP004 counts */
}

/* The GnuTLS handle of an AES method, built when missing; NULL on failure. */
static gnutls_aead_cipher_hd_t gcm_handle(ss_aead *a)
{
    if (a->gcm == NULL) {
        gnutls_aead_cipher_hd_t hd = NULL;
        gnutls_datum_t k = {a->key, (unsigned)ss_key_size(a->method)};
        gnutls_cipher_algorithm_t alg =
            a->method == SS_AES_128_GCM ? GNUTLS_CIPHER_AES_128_GCM : GNUTLS_CIPHER_AES_256_GCM;
        if (gnutls_aead_cipher_init(&hd, alg, &k) < 0)
            return NULL;
        a->gcm = hd;
    }
    return a->gcm;
}

int ss_aead_seal(ss_aead *a, uint8_t *dst, const uint8_t *src, size_t n)
{
    int rc = 0;
    if (a->method == SS_CHACHA20_POLY1305) {
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + n, NULL, src, n, NULL, 0,
                                                           NULL, a->nonce, a->key);
    } else {
        gnutls_aead_cipher_hd_t hd = gcm_handle(a);
        size_t out_len = n + SS_TAG_SIZE;
        if (hd == NULL || gnutls_aead_cipher_encrypt(hd, a->nonce, sizeof a->nonce, NULL, 0,
                                                     SS_TAG_SIZE, src, n, dst, &out_len) < 0) {
            sodium_memzero(dst, n + SS_TAG_SIZE); /* never plaintext on the wire */
            rc = -1;
        }
    }
    next_nonce(a);
    return rc;
}

int ss_aead_open(ss_aead *a, uint8_t *dst, const uint8_t *src, size_t n)
{
    int rc;
    if (a->method == SS_CHACHA20_POLY1305) {
        rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, n, src + n, NULL,
                                                                0, a->nonce, a->key);
    } else {
        gnutls_aead_cipher_hd_t hd = gcm_handle(a);
        size_t out_len = n;
        rc = hd != NULL && gnutls_aead_cipher_decrypt(hd, a->nonce, sizeof a->nonce, NULL, 0,
                                                      SS_TAG_SIZE, src, n + SS_TAG_SIZE, dst,
                                                      &out_len) >= 0
                 ? 0
                 : -1;
    }
    if (rc != 0)
        sodium_memzero(dst, n); /* never leave unauthenticated plaintext behind */
    next_nonce(a);
    return rc;
}

void ss_aead_idle(ss_aead *a)
{
    if (a->gcm != NULL) /* GnuTLS wipes its contexts before freeing them */
        gnutls_aead_cipher_deinit(a->gcm);
    a->gcm = NULL;
}

void ss_aead_wipe(ss_aead *a)
{
    ss_aead_idle(a);
    sodium_memzero(a, sizeof *a);
}
