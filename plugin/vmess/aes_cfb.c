/* Streaming AES-128-CFB-128 on Nettle's AES: the position inside the keystream block is
 * kept between calls, so a stream can be cut anywhere (vmess-protocol.md §1). */
#include "aes_cfb.h"

#include <nettle/cfb.h>
#include <sodium.h>
#include <string.h>

void vmess_cfb_init(vmess_cfb *c, const uint8_t key[16], const uint8_t iv[16])
{
    aes128_set_encrypt_key(&c->aes, key);
    memcpy(c->reg, iv, 16);
    memset(c->ks, 0, sizeof c->ks);
    c->pos = 16;
}

/* Nettle's generic cipher signature around AES-128 encryption. */
static void aes_block(const void *ctx, size_t len, uint8_t *dst, const uint8_t *src)
{
    aes128_encrypt(ctx, len, dst, src);
}

/* decrypt != 0: buf holds ciphertext. Either way the register collects ciphertext. */
static void cfb_run(vmess_cfb *c, uint8_t *buf, size_t len, int decrypt)
{
    size_t i = 0;
    while (i < len) {
        if (c->pos == 16 && len - i >= 16) {
            /* Aligned whole blocks go to Nettle's CFB, which leaves the last ciphertext
             * block in reg (decryption also runs several blocks in parallel). */
            size_t n = (len - i) & ~(size_t)15;
            if (decrypt)
                cfb_decrypt(&c->aes, aes_block, 16, c->reg, n, buf + i, buf + i);
            else
                cfb_encrypt(&c->aes, aes_block, 16, c->reg, n, buf + i, buf + i);
            i += n;
            continue;
        }
        if (c->pos == 16) {
            aes128_encrypt(&c->aes, 16, c->ks, c->reg);
            c->pos = 0;
        }
        uint8_t in = buf[i];
        buf[i] = in ^ c->ks[c->pos];
        c->reg[c->pos] = decrypt ? in : buf[i];
        c->pos++;
        i++;
    }
}

void vmess_cfb_encrypt(vmess_cfb *c, uint8_t *buf, size_t len)
{
    cfb_run(c, buf, len, 0);
}

void vmess_cfb_decrypt(vmess_cfb *c, uint8_t *buf, size_t len)
{
    cfb_run(c, buf, len, 1);
}

void vmess_cfb_park(const vmess_cfb *c, vmess_cfb_pos *p)
{
    memcpy(p->reg, c->reg, 16);
    memcpy(p->ks, c->ks, 16);
    p->pos = c->pos;
}

void vmess_cfb_resume(vmess_cfb *c, const uint8_t key[16], const vmess_cfb_pos *p)
{
    aes128_set_encrypt_key(&c->aes, key);
    memcpy(c->reg, p->reg, 16);
    memcpy(c->ks, p->ks, 16);
    c->pos = p->pos;
}

void vmess_cfb_wipe(vmess_cfb *c)
{
    sodium_memzero(c, sizeof *c);
}
