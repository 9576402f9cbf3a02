/* Streaming AES-128-CFB (full-block CFB-128) whose state persists across calls.
 * Nettle's cfb_encrypt cannot resume mid-block, so this keeps the position itself
 * on top of Nettle's AES (vmess-protocol.md §1). */
#ifndef VMESS_AES_CFB_H
#define VMESS_AES_CFB_H

#include <nettle/aes.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vmess_cfb {
    struct aes128_ctx aes;
    uint8_t reg[16]; /* the shift register: last ciphertext block, or keystream source */
    uint8_t ks[16]; /* keystream for the current block */
    unsigned pos; /* bytes of ks used, 0..16 (16: next call encrypts reg first) */
} vmess_cfb;

/* Where a stream stands, without its AES key schedule: what a body keeps while the session
 * is idle (the schedule is rebuilt from the key by vmess_cfb_resume). */
typedef struct vmess_cfb_pos {
    uint8_t reg[16];
    uint8_t ks[16];
    unsigned pos;
} vmess_cfb_pos;

/* Starts a stream with key and iv (16 bytes each). */
void vmess_cfb_init(vmess_cfb *c, const uint8_t key[16], const uint8_t iv[16]);
/* Encrypts len bytes in place, continuing the stream. */
void vmess_cfb_encrypt(vmess_cfb *c, uint8_t *buf, size_t len);
/* Decrypts len bytes in place, continuing the stream. */
void vmess_cfb_decrypt(vmess_cfb *c, uint8_t *buf, size_t len);
/* Copies where c stands into p (c is left as it is). */
void vmess_cfb_park(const vmess_cfb *c, vmess_cfb_pos *p);
/* Continues a parked stream: c gets key's schedule and p's position. */
void vmess_cfb_resume(vmess_cfb *c, const uint8_t key[16], const vmess_cfb_pos *p);
/* Wipes the key schedule and state. */
void vmess_cfb_wipe(vmess_cfb *c);

#endif
