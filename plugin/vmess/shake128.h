/* SHAKE128 XOF (FIPS 202) on Nettle's Keccak permutation, since Nettle 3.8 lacks it
 * (vmess-protocol.md §1). Used for chunk length masks and padding. */
#ifndef VMESS_SHAKE128_H
#define VMESS_SHAKE128_H

#include <stddef.h>
#include <stdint.h>

#define VMESS_SHAKE128_RATE 168

/* The squeezed block is the rate part of the state itself, so no copy of it is kept: a body
 * holds one of these for the life of its session. */
typedef struct vmess_shake128 {
    uint64_t a[25]; /* Keccak state, as nettle's struct sha3_state */
    unsigned pos;   /* bytes of the current block already read */
} vmess_shake128;

/* Absorbs all of data (one shot) and prepares to squeeze. */
void vmess_shake128_init(vmess_shake128 *s, const uint8_t *data, size_t len);
/* Squeezes the next len bytes. */
void vmess_shake128_read(vmess_shake128 *s, uint8_t *out, size_t len);
/* The next two bytes as a big-endian number. */
uint16_t vmess_shake128_next16(vmess_shake128 *s);

#endif
