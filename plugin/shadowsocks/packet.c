/* SIP004 datagrams and the ABI's record framing (see packet.h). */
#include "packet.h"

#include "addr.h"
#include "aead.h"

#include <sodium.h>
#include <string.h>

int ss_packet_seal(const evp_host *h, int method, const uint8_t *key, const evp_addr *addr,
                   const uint8_t *payload, size_t n, evp_buf *out)
{
    uint8_t head[SS_ADDR_MAX];
    int alen = ss_addr_encode(addr, head);
    size_t salt = ss_key_size(method);
    if (alen < 0 || salt + (size_t)alen + n + SS_TAG_SIZE > SS_RECORD_MAX)
        return 1;
    size_t dlen = salt + (size_t)alen + n + SS_TAG_SIZE;
    uint8_t *dst = h->buf_reserve(out, 2 + dlen);
    if (dst == NULL)
        return -1;
    dst[0] = (uint8_t)(dlen >> 8);
    dst[1] = (uint8_t)dlen;
    uint8_t *body = dst + 2 + salt;
    h->random_bytes(dst + 2, salt);
    memcpy(body, head, (size_t)alen);
    memcpy(body + alen, payload, n);
    ss_aead a;
    ss_aead_init(&a, method, key, dst + 2);
    int rc = ss_aead_seal(&a, body, body, (size_t)alen + n);
    ss_aead_wipe(&a);
    if (rc != 0)
        return -1;
    out->len += 2 + dlen;
    return 0;
}

long ss_packet_open(int method, const uint8_t *key, const uint8_t *p, size_t len,
                    uint8_t *plain)
{
    size_t salt = ss_key_size(method);
    if (len < salt + SS_TAG_SIZE)
        return -1;
    size_t n = len - salt - SS_TAG_SIZE;
    ss_aead a;
    ss_aead_init(&a, method, key, p);
    int rc = ss_aead_open(&a, plain, p + salt, n);
    ss_aead_wipe(&a);
    return rc == 0 ? (long)n : -1;
}

int ss_record_put(const evp_host *h, evp_buf *out, const uint8_t *data, size_t n)
{
    uint8_t *dst = h->buf_reserve(out, 2 + n);
    if (dst == NULL)
        return -1;
    dst[0] = (uint8_t)(n >> 8);
    dst[1] = (uint8_t)n;
    memcpy(dst + 2, data, n);
    out->len += 2 + n;
    return 0;
}

int ss_record_next(const uint8_t *in, size_t len, size_t *off, const uint8_t **data,
                   size_t *n)
{
    if (len - *off < 2)
        return 0;
    size_t dlen = (size_t)in[*off] << 8 | in[*off + 1];
    if (len - *off - 2 < dlen)
        return 0;
    *data = in + *off + 2;
    *n = dlen;
    *off += 2 + dlen;
    return 1;
}
