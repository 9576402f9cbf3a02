/* Full-cone UDP records (see cone_record.h). */
#include "cone_record.h"

#include "builtin/socks_addr.h"

#include <stdlib.h>
#include <string.h>

#define RECORD_MAX 65535

int evp_cone_record_put(evp_qbuf *q, const evp_addr *peer, const uint8_t *data, size_t len)
{
    uint8_t head[EVP_SOCKS_ADDR_MAX];
    size_t alen = evp_socks_addr_write(peer, head);
    if (alen == 0 || alen + len > RECORD_MAX)
        return -1;
    uint8_t *p = evp_qbuf_room(q, 2 + alen + len);
    if (p == NULL)
        return -1;
    p[0] = (uint8_t)((alen + len) >> 8);
    p[1] = (uint8_t)(alen + len);
    memcpy(p + 2, head, alen);
    if (len)
        memcpy(p + 2 + alen, data, len);
    q->b.len += 2 + alen + len;
    return 0;
}

int evp_cone_record_split(const uint8_t *rec, size_t n, evp_addr *peer, size_t *data_off)
{
    int r = evp_socks_addr_read(rec, n, peer);
    if (r <= 0)
        return -1;
    *data_off = (size_t)r;
    return 0;
}

void evp_cone_records_address(evp_qbuf *q, const evp_addr *peer)
{
    evp_qbuf out;
    memset(&out, 0, sizeof out);
    size_t used = 0, len = evp_qbuf_len(q);
    const uint8_t *p = evp_qbuf_head(q);
    while (len - used >= 2) {
        size_t dlen = ((size_t)p[used] << 8) | p[used + 1];
        if (len - used < 2 + dlen)
            break; /* a record not whole yet stays as it is: cannot happen for datagrams */
        /* One that cannot be framed (or no memory) is lost, as UDP may lose it. */
        evp_cone_record_put(&out, peer, p + used + 2, dlen);
        used += 2 + dlen;
    }
    if (len > used && evp_qbuf_room(&out, len - used) != NULL) {
        memcpy(out.b.data + out.b.len, p + used, len - used);
        out.b.len += len - used;
    }
    evp_qbuf_free(q);
    *q = out;
}
