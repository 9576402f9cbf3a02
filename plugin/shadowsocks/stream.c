/* SIP004 chunks (see stream.h). */
#include "stream.h"

#include <sodium.h>
#include <string.h>

int ss_open_length(ss_aead *a, const uint8_t *p, uint16_t *len)
{
    uint8_t be[2];
    if (ss_aead_open(a, be, p, 2) != 0)
        return -1;
    *len = (uint16_t)(be[0] << 8 | be[1]);
    return *len > SS_PAYLOAD_MAX ? -1 : 0;
}

int ss_reader_open(ss_reader *r, const evp_host *h, const uint8_t *in, size_t len, size_t *used,
                   evp_buf *out, const char **why)
{
    size_t off = 0;
    *used = 0;
    for (;;) {
        if (!r->have_len) {
            if (len - off < SS_LEN_CHUNK)
                break;
            if (ss_open_length(&r->aead, in + off, &r->payload_len) != 0) {
                *why = "bad chunk length";
                return EVP_ERR;
            }
            off += SS_LEN_CHUNK;
            r->have_len = 1;
        }
        size_t n = r->payload_len;
        if (len - off < n + SS_TAG_SIZE)
            break;
        uint8_t *dst = h->buf_reserve(out, n + 1);
        if (dst == NULL) {
            *why = "out of memory";
            return EVP_ERR;
        }
        if (ss_aead_open(&r->aead, dst, in + off, n) != 0) {
            *why = "bad chunk";
            return EVP_ERR;
        }
        out->len += n;
        off += n + SS_TAG_SIZE;
        r->have_len = 0;
        *used = off;
    }
    *used = off;
    return EVP_OK;
}

int ss_reader_at_boundary(const ss_reader *r)
{
    return !r->have_len;
}

int ss_seal_chunks(ss_aead *a, const evp_host *h, const uint8_t *in, size_t len, evp_buf *out)
{
    while (len > 0) {
        size_t n = len < SS_PAYLOAD_MAX ? len : SS_PAYLOAD_MAX;
        uint8_t *dst = h->buf_reserve(out, SS_LEN_CHUNK + n + SS_TAG_SIZE);
        if (dst == NULL)
            return -1;
        uint8_t be[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        if (ss_aead_seal(a, dst, be, 2) != 0 || ss_aead_seal(a, dst + SS_LEN_CHUNK, in, n) != 0)
            return -1;
        out->len += SS_LEN_CHUNK + n + SS_TAG_SIZE;
        in += n;
        len -= n;
    }
    return 0;
}
