/* The VMess AEAD key derivation: nested HMAC-SHA256 rooted at "VMess AEAD KDF"
 * (vmess-protocol.md §1). Path elements may be binary and must be shorter than 64 bytes. */
#ifndef VMESS_KDF_H
#define VMESS_KDF_H

#include <stddef.h>
#include <stdint.h>

#define VMESS_KDF_MAX_DEPTH 4 /* the deepest path VMess uses (request header keys) */

/* One path element: borrowed bytes. */
typedef struct vmess_kdf_path {
    const uint8_t *p;
    size_t len;
} vmess_kdf_path;

/* out = KDF(key, paths[0..n)); 32 bytes. n <= VMESS_KDF_MAX_DEPTH, each len < 64. */
void vmess_kdf(uint8_t out[32], const uint8_t *key, size_t key_len, const vmess_kdf_path *paths,
               size_t n);
/* out = the first 16 bytes of vmess_kdf(). */
void vmess_kdf16(uint8_t out[16], const uint8_t *key, size_t key_len, const vmess_kdf_path *paths,
                 size_t n);
/* out = KDF16(key, path) for a single NUL-terminated ASCII path element. */
void vmess_kdf16_str(uint8_t out[16], const uint8_t *key, size_t key_len, const char *path);

#endif
