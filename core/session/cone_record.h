/* Records of a full-cone UDP session (XUDP): as every UDP session's (BE16 length, then the
 * record), but each record starts with its datagram's far address in SOCKS form (ATYP ADDR
 * PORT): where it goes on the way up, where it came from on the way down. Only the host's own
 * ends read them: the Mux sub-stream, the outbound's unconnected socket, a SOCKS relay. */
#ifndef EVP_CONE_RECORD_H
#define EVP_CONE_RECORD_H

#include "buf.h"
#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

#define EVP_CONE_ADDR_MAX (1 + 1 + 255 + 2) /* the longest address a record starts with */

/* Appends one record (peer's address, then data[0..len)) to q: 0, or -1 when it cannot be
 * framed (no address, longer than a record holds) or out of memory (q unchanged). */
int evp_cone_record_put(evp_qbuf *q, const evp_addr *peer, const uint8_t *data, size_t len);

/* Reads a record's body rec[0..n) (after its BE16 length): the address into *peer and where the
 * datagram starts; 0, or -1 when the body holds no whole address. */
int evp_cone_record_split(const uint8_t *rec, size_t n, evp_addr *peer, size_t *data_off);

/* Rewrites the plain records in q as full-cone ones addressed to peer (a session that turns
 * full-cone after its first datagrams were queued); one that cannot be rewritten is lost. */
void evp_cone_records_address(evp_qbuf *q, const evp_addr *peer);

#endif
