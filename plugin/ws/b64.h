/* The handshake's encodings, on Nettle: Sec-WebSocket-Accept (SHA-1 + base64) and the
 * base64url without padding that early data travels in. */
#ifndef WS_B64_H
#define WS_B64_H

#include <stddef.h>
#include <stdint.h>

/* Sec-WebSocket-Accept's length (base64 of a SHA-1 digest, padded), without a NUL. */
#define WS_ACCEPT_LEN 28

/* Writes the Sec-WebSocket-Accept for key (key_len bytes) to out, NUL-terminated. */
void ws_accept_for(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* Bytes of base64url text (no padding) for n bytes. */
#define WS_B64URL_LEN(n) (((n)*4 + 2) / 3)

/* Writes n bytes as base64url without padding to out (WS_B64URL_LEN(n) bytes, no NUL). */
void ws_b64url_encode(const uint8_t *src, size_t n, char *out);

/* Decodes base64url text (padding optional) into out, which holds at least len * 3 / 4 + 2
 * bytes; sets *out_len. 0, or -1 when text is not base64url. */
int ws_b64url_decode(const char *text, size_t len, uint8_t *out, size_t *out_len);

#endif
