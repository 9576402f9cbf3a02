/* One direction's AEAD of a Shadowsocks stream or packet: the subkey and SIP004's nonce, a
 * 12-byte little-endian counter that every seal or open advances. AES-GCM runs through
 * GnuTLS (as vmess.so's body does); its handle is built on first use and dropped when the
 * session goes quiet. ChaCha20-Poly1305 (IETF) comes from libsodium and keeps no state. */
#ifndef SS_AEAD_H
#define SS_AEAD_H

#include "method.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ss_aead {
    uint8_t method;          /* enum ss_method */
    uint8_t key[SS_KEY_MAX]; /* the subkey */
    uint8_t nonce[12];
    void *gcm; /* GnuTLS handle, or NULL until needed */
} ss_aead;

/* Starts a at nonce 0 with the subkey of (master key, salt). */
void ss_aead_init(ss_aead *a, int method, const uint8_t *master_key, const uint8_t *salt);
/* Seals src[0..n) into dst (n + SS_TAG_SIZE bytes; src == dst is fine); 0, or -1 when the
 * cipher cannot be set up (out of memory). */
int ss_aead_seal(ss_aead *a, uint8_t *dst, const uint8_t *src, size_t n);
/* Opens src[0..n + SS_TAG_SIZE) into dst (n bytes); 0, or -1 when the tag is wrong (dst is
 * then wiped) or the cipher cannot be set up. */
int ss_aead_open(ss_aead *a, uint8_t *dst, const uint8_t *src, size_t n);
/* Drops the expanded cipher state (rebuilt by the next seal or open). */
void ss_aead_idle(ss_aead *a);
/* Drops the state and wipes the key. */
void ss_aead_wipe(ss_aead *a);

#endif
