/* SHAKE128 (FIPS 202) on Nettle's Keccak-f[1600] permutation: rate 168 bytes, domain
 * padding 0x1F ... 0x80. Lanes are little-endian whatever the host's byte order. */
#include "shake128.h"

#include <nettle/sha3.h>
#include <string.h>

static void permute(vmess_shake128 *s)
{
    struct sha3_state st;
    memcpy(st.a, s->a, sizeof st.a);
    sha3_permute(&st);
    memcpy(s->a, st.a, sizeof st.a);
}

static void xor_byte(vmess_shake128 *s, size_t i, uint8_t v)
{
    s->a[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

/* Byte i of the current output block: the rate part of the state, lanes little-endian. */
static uint8_t block_byte(const vmess_shake128 *s, size_t i)
{
    return (uint8_t)(s->a[i / 8] >> (8 * (i % 8)));
}

void vmess_shake128_init(vmess_shake128 *s, const uint8_t *data, size_t len)
{
    memset(s->a, 0, sizeof s->a);
    while (len >= VMESS_SHAKE128_RATE) {
        for (size_t i = 0; i < VMESS_SHAKE128_RATE; i++)
            xor_byte(s, i, data[i]);
        permute(s);
        data += VMESS_SHAKE128_RATE;
        len -= VMESS_SHAKE128_RATE;
    }
    for (size_t i = 0; i < len; i++)
        xor_byte(s, i, data[i]);
    xor_byte(s, len, 0x1F);
    xor_byte(s, VMESS_SHAKE128_RATE - 1, 0x80);
    permute(s);
    s->pos = 0;
}

void vmess_shake128_read(vmess_shake128 *s, uint8_t *out, size_t len)
{
    while (len > 0) {
        if (s->pos == VMESS_SHAKE128_RATE) {
            permute(s);
            s->pos = 0;
        }
        *out++ = block_byte(s, s->pos++);
        len--;
    }
}

uint16_t vmess_shake128_next16(vmess_shake128 *s)
{
    uint8_t b[2];
    vmess_shake128_read(s, b, 2);
    return (uint16_t)(b[0] << 8 | b[1]);
}
