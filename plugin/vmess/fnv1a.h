/* FNV-1a 32-bit hash: the legacy (aes-128-cfb) header and chunk checksum
 * (vmess-protocol.md §7, §8.2). Header-only since it is three lines. */
#ifndef VMESS_FNV1A_H
#define VMESS_FNV1A_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 32 of p[0..n): offset basis 0x811c9dc5, prime 0x01000193. */
static inline uint32_t vmess_fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x01000193u;
    }
    return h;
}

#endif
