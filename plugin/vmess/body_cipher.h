/* The body's ciphers (private to body*.c). Keys stay compact in the vmess_body for the
 * session's life; the expanded contexts (a GnuTLS AES-128-GCM handle per key,
 * or the AES schedule of a legacy CFB stream) are built when bytes flow and dropped when the
 * session goes quiet. ChaCha20-Poly1305 has no expanded state: its 32-byte key is used as is. */
#ifndef VMESS_BODY_CIPHER_H
#define VMESS_BODY_CIPHER_H

#include "body.h"

/* Which of a body's AEAD keys: the payload's, or AuthenticatedLength's. */
enum body_key {
    BODY_KEY_PAYLOAD = 0,
    BODY_KEY_LENGTH = 1,
};

/* Stores p's keys in b compactly (ChaCha20 keys stretched, §8.1; a legacy stream parked).
 * b->security, b->option and b->len_size are already set. */
void body_keys_set(vmess_body *b, const vmess_body_params *p);

/* Builds the expanded contexts b needs, unless it has them, in memory from h's table: 0, or
 * -1 when out of memory. */
int body_warm(vmess_body *b, const evp_host *h);

/* Seals src[0..n) into dst (src == dst: in place) and writes the tag at dst + n. b is warm. */
void body_aead_seal(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                    const uint8_t *src, size_t n);

/* Opens src[0..n) with its tag at src + n into dst; 0, or -1 when the tag is wrong (dst is
 * then wiped). b is warm. */
int body_aead_open(vmess_body *b, enum body_key k, const uint8_t nonce[12], uint8_t *dst,
                   const uint8_t *src, size_t n);

/* The legacy CFB stream of a warm legacy body. */
vmess_cfb *body_cfb(vmess_body *b);

#endif
