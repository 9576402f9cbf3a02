/* The VMess KDF: HMAC-SHA256 keyed with "VMess AEAD KDF" at the root, each path element
 * adding one HMAC layer that uses the previous layer as its hash function. */
#include "kdf.h"

#include <assert.h>
#include <nettle/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define KDF_ROOT "VMess AEAD KDF"
#define BLOCK 64
#define MAX_PIECES (VMESS_KDF_MAX_DEPTH + 1)

/* The root HMAC with its key already absorbed, copied for every use. */
static struct hmac_sha256_ctx root_ctx;
static pthread_once_t root_once = PTHREAD_ONCE_INIT;

static void root_init(void)
{
    hmac_sha256_set_key(&root_ctx, strlen(KDF_ROOT), (const uint8_t *)KDF_ROOT);
}

/* The message is given as pieces so that a layer can prepend its padded key without
 * copying: H_level(pieces[0] || ... || pieces[n-1]). */
typedef struct piece {
    const uint8_t *p;
    size_t len;
} piece;

static void layer_hash(uint8_t out[32], const vmess_kdf_path *paths, size_t level,
                       const piece *pieces, size_t n)
{
    if (level == 0) {
        struct hmac_sha256_ctx ctx = root_ctx;
        for (size_t i = 0; i < n; i++)
            hmac_sha256_update(&ctx, pieces[i].len, pieces[i].p);
        hmac_sha256_digest(&ctx, 32, out);
        sodium_memzero(&ctx, sizeof ctx);
        return;
    }
    /* HMAC with H_{level-1} as the hash: key padded to the 64-byte block. */
    const vmess_kdf_path *key = &paths[level - 1];
    uint8_t ipad[BLOCK], opad[BLOCK], inner[32];
    assert(key->len <= BLOCK);
    memset(ipad, 0x36, BLOCK);
    memset(opad, 0x5c, BLOCK);
    for (size_t i = 0; i < key->len; i++) {
        ipad[i] ^= key->p[i];
        opad[i] ^= key->p[i];
    }
    piece sub[MAX_PIECES + 1];
    sub[0] = (piece){ipad, BLOCK};
    memcpy(sub + 1, pieces, n * sizeof *pieces);
    layer_hash(inner, paths, level - 1, sub, n + 1);
    sub[0] = (piece){opad, BLOCK};
    sub[1] = (piece){inner, sizeof inner};
    layer_hash(out, paths, level - 1, sub, 2);
    sodium_memzero(inner, sizeof inner);
}

void vmess_kdf(uint8_t out[32], const uint8_t *key, size_t key_len, const vmess_kdf_path *paths,
               size_t n)
{
    assert(n <= VMESS_KDF_MAX_DEPTH);
    pthread_once(&root_once, root_init);
    piece msg = {key, key_len};
    layer_hash(out, paths, n, &msg, 1);
}

void vmess_kdf16(uint8_t out[16], const uint8_t *key, size_t key_len, const vmess_kdf_path *paths,
                 size_t n)
{
    uint8_t full[32];
    vmess_kdf(full, key, key_len, paths, n);
    memcpy(out, full, 16);
    sodium_memzero(full, sizeof full);
}

void vmess_kdf16_str(uint8_t out[16], const uint8_t *key, size_t key_len, const char *path)
{
    vmess_kdf_path p = {(const uint8_t *)path, strlen(path)};
    vmess_kdf16(out, key, key_len, &p, 1);
}
