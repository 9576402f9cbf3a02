/* SOCKS5 UDP datagram header (RFC 1928 §7) parse and build, for UDP ASSOCIATE relays. */
#include "socks_udp.h"

#include "socks_addr.h"

#include <string.h>

int evp_socks_udp_parse(const uint8_t *pkt, size_t len, evp_addr *dst, size_t *payload_off)
{
    if (len < 4)
        return EVP_SOCKS_UDP_SHORT;
    if (pkt[2] != 0)
        return EVP_SOCKS_UDP_FRAG;
    int r = evp_socks_addr_read(pkt + 3, len - 3, dst);
    if (r == EVP_SOCKS_ADDR_BADTYPE)
        return EVP_SOCKS_UDP_BADTYPE;
    if (r == EVP_SOCKS_ADDR_EMPTY)
        return EVP_SOCKS_UDP_EMPTY;
    if (r == EVP_SOCKS_ADDR_MORE)
        return EVP_SOCKS_UDP_SHORT;
    *payload_off = 3 + (size_t)r;
    return EVP_SOCKS_UDP_OK;
}

size_t evp_socks_udp_header(const evp_addr *addr, uint8_t *out, size_t cap)
{
    uint8_t tmp[EVP_SOCKS_UDP_HDR_MAX];
    tmp[0] = tmp[1] = tmp[2] = 0;
    size_t k = evp_socks_addr_write(addr, tmp + 3);
    if (k == 0 || 3 + k > cap)
        return 0;
    memcpy(out, tmp, 3 + k);
    return 3 + k;
}

int evp_socks_udp_build(const evp_host *host, evp_buf *b, const evp_addr *addr, const uint8_t *data,
                        size_t len)
{
    uint8_t hdr[EVP_SOCKS_UDP_HDR_MAX];
    size_t k = evp_socks_udp_header(addr, hdr, sizeof hdr);
    if (k == 0)
        return -1;
    uint8_t *dst = host->buf_reserve(b, k + len);
    if (dst == NULL)
        return -1;
    memcpy(dst, hdr, k);
    if (len > 0)
        memcpy(dst + k, data, len);
    b->len += k + len;
    return 0;
}
