/* SIP004's UDP: each datagram is salt + sealed(address + payload) under the subkey of its
 * own salt, nonce 0. And the ABI's UDP record framing (evp_io): BE16 length + datagram. */
#ifndef SS_PACKET_H
#define SS_PACKET_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

#define SS_RECORD_MAX 0xFFFF /* the longest datagram a record can carry */

/* Appends one record to out holding payload[0..n) sealed for addr with a fresh salt.
 * 0; 1 when the datagram would not fit a record (dropped); -1 when out of memory. */
int ss_packet_seal(const evp_host *h, int method, const uint8_t *key, const evp_addr *addr,
                   const uint8_t *payload, size_t n, evp_buf *out);
/* Opens the datagram p[0..len) into plain (room for len bytes): the plaintext length (the
 * address, then the payload), or -1 when it is too short or its tag is wrong. */
long ss_packet_open(int method, const uint8_t *key, const uint8_t *p, size_t len,
                    uint8_t *plain);
/* Appends a record of data[0..n) (n <= SS_RECORD_MAX) to out: 0, or -1 out of memory. */
int ss_record_put(const evp_host *h, evp_buf *out, const uint8_t *data, size_t n);
/* The next whole record of in[*off..len): sets *data and *n, advances *off and returns 1;
 * 0 when no whole record is left. */
int ss_record_next(const uint8_t *in, size_t len, size_t *off, const uint8_t **data,
                   size_t *n);

#endif
