/* SIP004's TCP framing after the salt: each chunk is [BE16 length + tag][payload + tag],
 * the length at most 0x3FFF (its two top bits zero), each part sealed with the next nonce. */
#ifndef SS_STREAM_H
#define SS_STREAM_H

#include "aead.h"
#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

#define SS_PAYLOAD_MAX 0x3FFF
#define SS_LEN_CHUNK (2 + SS_TAG_SIZE) /* a sealed length */

/* The reading side of one direction. */
typedef struct ss_reader {
    ss_aead aead;
    uint16_t payload_len; /* the open length chunk's value */
    uint8_t have_len;     /* a length chunk is open, its payload not yet */
} ss_reader;

/* Opens the sealed length at p (SS_LEN_CHUNK bytes) into *len: 0, or -1 for a wrong tag or
 * a length over SS_PAYLOAD_MAX. */
int ss_open_length(ss_aead *a, const uint8_t *p, uint16_t *len);

/* Opens the whole chunks in in[0..len), appending their payloads to out; *used is what it
 * took. EVP_OK, or EVP_ERR with *why (a wrong tag, a length out of range, no memory). */
int ss_reader_open(ss_reader *r, const evp_host *h, const uint8_t *in, size_t len, size_t *used,
                   evp_buf *out, const char **why);
/* True between chunks: where a stream may end cleanly. */
int ss_reader_at_boundary(const ss_reader *r);

/* Seals in[0..len) as chunks of at most SS_PAYLOAD_MAX bytes onto out: 0, or -1 when out of
 * memory. */
int ss_seal_chunks(ss_aead *a, const evp_host *h, const uint8_t *in, size_t len, evp_buf *out);

#endif
