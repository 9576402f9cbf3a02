/* Padding bytes used to cost a getrandom call per chunk. They protect nothing secret, so they
 * come from a per-thread ChaCha20 keystream (libsodium) instead: its key is drawn once per
 * thread from randombytes_buf, each refill uses the next 64-bit nonce, and one refill serves
 * many chunks. Per thread, so workers share nothing and need no lock. The daemon does not
 * fork once sessions run, so no two processes continue the same stream. */
#include "nonkey_random.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#define POOL_SIZE 512 /* enough for 8 chunks of the largest padding (63 bytes) */

typedef struct nonkey_stream {
    uint8_t key[crypto_stream_chacha20_KEYBYTES];
    uint64_t next_nonce;
    uint8_t pool[POOL_SIZE];
    size_t left; /* unread bytes at the end of pool */
    int seeded;
} nonkey_stream;

static _Thread_local nonkey_stream stream;

static void refill(nonkey_stream *st)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    if (!st->seeded) {
        randombytes_buf(st->key, sizeof st->key);
        st->seeded = 1;
    }
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)(st->next_nonce >> (8 * i));
    st->next_nonce++;
    crypto_stream_chacha20(st->pool, sizeof st->pool, nonce, st->key);
    st->left = sizeof st->pool;
}

void vmess_nonkey_random(void *buf, size_t len)
{
    nonkey_stream *st = &stream;
    uint8_t *out = buf;
    while (len > 0) {
        if (st->left == 0)
            refill(st);
        size_t n = len < st->left ? len : st->left;
        memcpy(out, st->pool + sizeof st->pool - st->left, n);
        st->left -= n;
        out += n;
        len -= n;
    }
}
