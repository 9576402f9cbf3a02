/* The VMess body codec for ONE direction (vmess-protocol.md §8): a writer turns plaintext
 * into chunks (seal), a reader turns chunks back into plaintext (open). A session uses two:
 * one writer for its own direction and one reader for the peer's.
 *
 * Plaintext framing: TCP is a plain byte stream; UDP uses the ABI's record framing
 * (BE16 length, then one datagram) on the plaintext side, one chunk per datagram. */
#ifndef VMESS_BODY_H
#define VMESS_BODY_H

#include "aes_cfb.h"
#include "evproxy/plugin.h"
#include "shake128.h"

#include <stddef.h>
#include <stdint.h>

/* Security nibble values (§6). */
enum vmess_security {
    VMESS_SEC_UNKNOWN = 0, /* treated as LEGACY */
    VMESS_SEC_LEGACY = 1,  /* aes-128-cfb */
    VMESS_SEC_AUTO = 2,    /* never valid on the wire */
    VMESS_SEC_GCM = 3,     /* aes-128-gcm */
    VMESS_SEC_CHACHA = 4,  /* chacha20-poly1305 */
    VMESS_SEC_NONE = 5,    /* none; "zero" is NONE without ChunkStream */
};

/* Option bits (§6). */
enum vmess_option {
    VMESS_OPT_CHUNK_STREAM = 0x01,
    VMESS_OPT_CONN_REUSE = 0x02,
    VMESS_OPT_CHUNK_MASKING = 0x04,
    VMESS_OPT_GLOBAL_PADDING = 0x08,
    VMESS_OPT_AUTH_LENGTH = 0x10,
};

/* Packet (UDP) writers build chunks of at most this many bytes, LenField included (§8.5):
 * one datagram is one chunk, and V2Ray splits a longer one into several datagrams. */
#define VMESS_BODY_CHUNK_BUF 2048
/* Stream (TCP) writers build chunks of up to this many bytes from a large read (S <= 16382):
 * the fixed cost of a chunk (nonce, tag, length field, mask) is then paid per 16 KiB, not
 * per 2 KiB. Readers must accept any S <= 65535 (V2Ray 4.34 and Xray do); mihomo's reader
 * stops at 17 KiB and its writer sends S = 16384, so V2Ray servers already read such chunks. */
#define VMESS_BODY_STREAM_CHUNK_BUF 16384
/* none + TCP + ChunkStream: simple chunks carry at most this much (§8.1). */
#define VMESS_BODY_SIMPLE_MAX 8192

typedef struct vmess_body_params {
    uint8_t security; /* §6 nibble: 0/1 legacy, 3 gcm, 4 chacha, 5 none */
    uint8_t option;   /* §6 option byte */
    uint8_t udp;      /* nonzero: packet mode (Command 0x02) */
    uint8_t key[16];  /* this direction's body key (reqKey, or respKey) */
    uint8_t iv[16];   /* this direction's body IV (reqIV, or respIV) */
    /* AuthenticatedLength only: KDF16(reqKey, "auth_len") (vmess_kdf16_str) and reqIV, for BOTH
     * directions (§8.4 quirk: the response's length AEAD also uses the request's key/IV). */
    uint8_t len_key[16];
    uint8_t len_iv[16];
    /* Legacy only: a CFB stream under key to continue (its position is copied; the caller
     * still wipes its own), e.g. the legacy response header's. NULL: a fresh CFB(key, iv). */
    const vmess_cfb *cfb;
} vmess_body_params;

/* One direction's state. Treat as opaque; it holds keys: wipe it with vmess_body_wipe.
 * Keys are kept compact here for the session's life; the expanded cipher contexts (hot) are
 * built when bytes flow and dropped by vmess_body_idle (body_cipher.c). */
typedef struct vmess_body {
    uint8_t mode;     /* internal: chunk kind */
    uint8_t security; /* normalised: 0 became 1 */
    uint8_t option;
    uint8_t udp;
    uint8_t done;         /* the end-of-stream marker was written (writer) or read (reader) */
    uint8_t have_len;     /* reader: a LenField was decoded, its chunk is awaited */
    uint16_t overhead;    /* tag or checksum bytes per chunk: 16, 4 or 0 */
    uint16_t len_size;    /* LenField bytes: 2 or 18 */
    uint16_t max_payload; /* writer: payload bytes per chunk */
    uint16_t count;       /* payload nonce counter, wraps at 65536 */
    uint16_t len_count;   /* AuthenticatedLength nonce counter */
    uint32_t size;        /* reader: S of the awaited chunk (or bytes left of a simple chunk) */
    uint32_t pad;         /* reader: p of the awaited chunk */
    uint8_t iv[16];
    uint8_t len_iv[16];
    uint8_t key[32];     /* payload key: AES-128 (16 bytes used) or stretched ChaCha20 */
    uint8_t len_key[32]; /* AuthenticatedLength key, likewise */
    vmess_cfb_pos cfb_pos; /* legacy: the CFB stream's position while it is not hot */
    vmess_shake128 shake;
    void *hot;       /* expanded contexts (GCM, or the legacy CFB stream), NULL while idle */
    const char *why; /* after EVP_ERR: a static one-line reason */
} vmess_body;

/* Sets up b from p; 0, or -1 for a security/option combination V2Ray refuses
 * (security 2 or > 5; GlobalPadding without ChunkMasking). */
int vmess_body_init(vmess_body *b, const vmess_body_params *p);

/* Writer: appends to out the chunks carrying all of in[0..len). UDP: in is a sequence of
 * records; *consumed is set to the bytes of whole records used (TCP: always len); an empty
 * datagram is skipped and one too big for a 2048-byte chunk is dropped, as V2Ray does. TCP
 * chunks carry up to VMESS_BODY_STREAM_CHUNK_BUF bytes.
 * Random padding comes from a per-thread stream (nonkey_random.h). All chunks of one call go
 * into out after one reservation. EVP_OK, or EVP_ERR (out of memory, or
 * writing after the end marker). */
int vmess_body_seal(vmess_body *b, const evp_host *h, const uint8_t *in, size_t len,
                    size_t *consumed, evp_buf *out);

/* Writer: appends the end-of-stream marker (nothing without ChunkStream). EVP_OK/EVP_ERR. */
int vmess_body_seal_eof(vmess_body *b, const evp_host *h, evp_buf *out);

/* Reader: opens whole chunks of in[0..len), appending plaintext to out (UDP: one record per
 * chunk); *consumed says how much of in was used (the rest must be presented again with
 * more bytes). EVP_OK (need more), EVP_EOF (end marker read; later calls swallow input and
 * return EVP_EOF again) or EVP_ERR (bad chunk; b->why says why). */
int vmess_body_open(vmess_body *b, const evp_host *h, const uint8_t *in, size_t len,
                    size_t *consumed, evp_buf *out);

/* Reader: true when no chunk is half read, so a bare TCP close here is a clean end (§8.6). */
int vmess_body_at_boundary(const vmess_body *b);

/* The session has gone quiet: wipes and frees the expanded cipher contexts. The next
 * seal/open rebuilds them from the compact keys and continues the stream exactly. */
void vmess_body_idle(vmess_body *b);

/* Bytes the expanded contexts take while b is active (0 for none and chacha20-poly1305). */
size_t vmess_body_hot_size(const vmess_body *b);

/* Wipes keys and state and frees the expanded contexts. */
void vmess_body_wipe(vmess_body *b);

/* A session's two directions: vmess_body_idle / vmess_body_wipe on each. */
void vmess_body_idle_pair(vmess_body *a, vmess_body *b);
void vmess_body_wipe_pair(vmess_body *a, vmess_body *b);

#endif
