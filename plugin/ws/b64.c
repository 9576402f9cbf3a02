/* Sec-WebSocket-Accept and base64url (see b64.h), with Nettle's SHA-1 and base64. */
#include "b64.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

/* RFC 6455 section 1.3: the GUID appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_for(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, key_len, (const uint8_t *)key);
    sha1_update(&sha, sizeof(ws_guid) - 1, (const uint8_t *)ws_guid);
    sha1_digest(&sha, sizeof(digest), digest);
    base64_encode_raw(out, sizeof(digest), digest);
    out[WS_ACCEPT_LEN] = '\0';
}

void ws_b64url_encode(const uint8_t *src, size_t n, char *out)
{
    struct base64_encode_ctx ctx;
    base64url_encode_init(&ctx);
    size_t len = base64_encode_update(&ctx, out, n, src);
    /* The final group without its '=' padding: at most 3 bytes, kept only up to the '='. */
    char tail[BASE64_ENCODE_FINAL_LENGTH];
    size_t t = base64_encode_final(&ctx, tail);
    for (size_t i = 0; i < t && tail[i] != '='; i++)
        out[len++] = tail[i];
}

int ws_b64url_decode(const char *text, size_t len, uint8_t *out, size_t *out_len)
{
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return -1;
    }
    /* Nettle wants whole groups: the padding the text left out is given back. */
    static const char pad[] = "==";
    struct base64_decode_ctx ctx;
    base64url_decode_init(&ctx);
    size_t n = 0, more = 0;
    if (!base64_decode_update(&ctx, &n, out, len, text) ||
        !base64_decode_update(&ctx, &more, out + n, (4 - len % 4) % 4, pad) ||
        !base64_decode_final(&ctx))
        return -1;
    *out_len = n + more;
    return 0;
}
