/* SOCKS5 UDP datagram header (RFC 1928 §7): RSV(2) FRAG(1) ATYP DST.ADDR DST.PORT DATA. */
#ifndef EVP_SOCKS_UDP_H
#define EVP_SOCKS_UDP_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* Results of evp_socks_udp_parse; every negative one means "drop this datagram". */
enum evp_socks_udp_status {
    EVP_SOCKS_UDP_OK = 0,
    EVP_SOCKS_UDP_SHORT = -1,   /* truncated header */
    EVP_SOCKS_UDP_FRAG = -2,    /* FRAG != 0: fragments are not supported (as V2Ray) */
    EVP_SOCKS_UDP_BADTYPE = -3, /* ATYP is none of 1, 3, 4 */
    EVP_SOCKS_UDP_EMPTY = -4,   /* a domain of length 0, or holding a NUL byte */
};

/* The longest header: RSV, FRAG, then the longest address field. */
#define EVP_SOCKS_UDP_HDR_MAX (3 + 1 + 1 + 255 + 2)

/* Parses one datagram pkt[0..len) (borrowed): *dst gets the destination and the payload is
 * pkt[*payload_off..len). EVP_SOCKS_UDP_OK, or a negative status (drop it). RSV is not
 * checked, as V2Ray does not. */
int evp_socks_udp_parse(const uint8_t *pkt, size_t len, evp_addr *dst, size_t *payload_off);
/* Writes the header for addr (RSV 0, FRAG 0) into out[0..cap); its length, or 0 when it
 * does not fit or addr has no SOCKS form. */
size_t evp_socks_udp_header(const evp_addr *addr, uint8_t *out, size_t cap);
/* Appends one whole datagram (header for addr, then data[0..len)) to b through host;
 * 0, or -1 when addr has no SOCKS form or memory runs out (b is then unchanged). */
int evp_socks_udp_build(const evp_host *host, evp_buf *b, const evp_addr *addr, const uint8_t *data,
                        size_t len);

#endif
