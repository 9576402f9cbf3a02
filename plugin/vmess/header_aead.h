/* The VMess AEAD header (vmess-protocol.md §5, §7): AuthID, request header seal/open,
 * response body key derivation (both modes) and the AEAD response header. */
#ifndef VMESS_HEADER_AEAD_H
#define VMESS_HEADER_AEAD_H

#include <nettle/aes.h>
#include <stddef.h>
#include <stdint.h>

#define VMESS_AUTHID_SIZE 16
#define VMESS_AUTHID_WINDOW 120 /* accepted |t - now|, seconds */
#define VMESS_AEAD_LEN_SIZE 18  /* sealed BE16 length */
#define VMESS_AEAD_NONCE_SIZE 8 /* connection nonce */
#define VMESS_AEAD_TAG_SIZE 16
/* Bytes before the sealed header: AuthID || EncLen || ConnNonce. */
#define VMESS_AEAD_PREFIX (VMESS_AUTHID_SIZE + VMESS_AEAD_LEN_SIZE + VMESS_AEAD_NONCE_SIZE)
/* Sealed request header size for a plaintext of len bytes. */
#define VMESS_AEAD_REQ_SIZE(len) (VMESS_AEAD_PREFIX + (len) + VMESS_AEAD_TAG_SIZE)
/* Sealed response header size for a plaintext of len bytes. */
#define VMESS_AEAD_RESP_SIZE(len) (VMESS_AEAD_LEN_SIZE + (len) + VMESS_AEAD_TAG_SIZE)

/* IEEE (zlib) CRC-32 of p[0..n). */
uint32_t vmess_crc32(const uint8_t *p, size_t n);

/* key = KDF16(cmd_key, "AES Auth ID Encryption"): the raw AuthID AES key. */
void vmess_authid_key(uint8_t key[16], const uint8_t cmd_key[16]);
/* Builds the AuthID for unix time t and 4 random bytes (the client's, passed in). */
void vmess_authid_make(uint8_t authid[16], const uint8_t cmd_key[16], int64_t t,
                       const uint8_t rand4[4]);
/* Sets dec to the AuthID decryption schedule of cmd_key (kept per user by the server). */
void vmess_authid_dec_init(struct aes128_ctx *dec, const uint8_t cmd_key[16]);
/* Decrypts authid with dec and checks the CRC, t >= 0 and |t - now| <= 120.
 * 0 and *t set (t may be NULL) when it passes, -1 otherwise. No replay check here. */
int vmess_authid_check(const struct aes128_ctx *dec, const uint8_t authid[16], int64_t now,
                       int64_t *t);

/* Client: writes AuthID || EncLen || nonce || EncHeader for plaintext h[0..len) into out,
 * which must hold VMESS_AEAD_REQ_SIZE(len) bytes; returns that size. len <= 65535. */
size_t vmess_aead_req_seal(uint8_t *out, const uint8_t cmd_key[16], const uint8_t authid[16],
                           const uint8_t nonce[8], const uint8_t *h, size_t len);
/* Server: opens EncLen (18 bytes at wire offset 16) using the AuthID and the nonce (at
 * wire offset 34). 0 and *len set, or -1 when authentication fails. */
int vmess_aead_req_open_len(const uint8_t cmd_key[16], const uint8_t authid[16],
                            const uint8_t nonce[8], const uint8_t enc_len[18], uint16_t *len);
/* Server: opens EncHeader enc[0..enc_len) (plaintext length + 16) into out (enc_len - 16
 * bytes; may equal enc for in place). 0, or -1 when authentication fails. */
int vmess_aead_req_open(const uint8_t cmd_key[16], const uint8_t authid[16], const uint8_t nonce[8],
                        const uint8_t *enc, size_t enc_len, uint8_t *out);

/* AEAD mode response body key/IV: SHA256(req_key)[0:16], SHA256(req_iv)[0:16]. */
void vmess_resp_keys_aead(uint8_t resp_key[16], uint8_t resp_iv[16], const uint8_t req_key[16],
                          const uint8_t req_iv[16]);
/* Legacy mode response body key/IV: MD5(req_key), MD5(req_iv). */
void vmess_resp_keys_legacy(uint8_t resp_key[16], uint8_t resp_iv[16], const uint8_t req_key[16],
                            const uint8_t req_iv[16]);

/* Server: writes EncRespLen || EncRespHdr for plaintext h[0..len) into out, which must hold
 * VMESS_AEAD_RESP_SIZE(len) bytes; returns that size. */
size_t vmess_aead_resp_seal(uint8_t *out, const uint8_t resp_key[16], const uint8_t resp_iv[16],
                            const uint8_t *h, size_t len);
/* Client: opens the 18-byte EncRespLen. 0 and *len set, or -1 on authentication failure. */
int vmess_aead_resp_open_len(const uint8_t resp_key[16], const uint8_t resp_iv[16],
                             const uint8_t enc_len[18], uint16_t *len);
/* Client: opens EncRespHdr enc[0..enc_len) into out (enc_len - 16 bytes; may equal enc).
 * 0, or -1 on authentication failure. */
int vmess_aead_resp_open(const uint8_t resp_key[16], const uint8_t resp_iv[16], const uint8_t *enc,
                         size_t enc_len, uint8_t *out);

#endif
