/* The legacy ("MD5") VMess header (vmess-protocol.md §4, §7): HMAC-MD5 auth, header IV,
 * the CFB-encrypted request header and the CFB response header stream. */
#ifndef VMESS_HEADER_LEGACY_H
#define VMESS_HEADER_LEGACY_H

#include "aes_cfb.h"
#include <stddef.h>
#include <stdint.h>

#define VMESS_LEGACY_AUTH_SIZE 16

/* auth = HMAC-MD5(key = id (primary or alternative uuid16), BE64(t)). */
void vmess_legacy_auth(uint8_t auth[16], const uint8_t id[16], int64_t t);
/* iv = MD5(BE64(t) repeated 4 times): the request header CFB IV. */
void vmess_legacy_header_iv(uint8_t iv[16], int64_t t);
/* Starts the request header CFB stream: key = the PRIMARY cmdKey, iv from t. The server
 * decrypts the header with it incrementally; it is not used for the body. */
void vmess_legacy_header_cfb(vmess_cfb *c, const uint8_t primary_cmd_key[16], int64_t t);
/* Client: writes auth(id, t) || CFB(h[0..len)) into out (16 + len bytes); returns 16 + len.
 * id is the chosen (alternative or primary) uuid16; t is the jittered time. */
size_t vmess_legacy_req_seal(uint8_t *out, const uint8_t id[16], const uint8_t primary_cmd_key[16],
                             int64_t t, const uint8_t *h, size_t len);
/* Starts the response stream CFB(resp_key, resp_iv) in c and encrypts the response header
 * buf[0..len) in place with it. c continues into a LEGACY body (decrypting: use
 * vmess_cfb_decrypt on c for the header bytes the same way). */
void vmess_legacy_resp_seal(vmess_cfb *c, const uint8_t resp_key[16], const uint8_t resp_iv[16],
                            uint8_t *buf, size_t len);

#endif
