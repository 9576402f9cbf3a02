/* XUDP's Global ID (Xray's UDP over Mux.Cool): the outbound UDP socket of a full-cone
 * sub-stream belongs to its Global ID, not to its connection. A new sub-stream with the same
 * ID goes on from the same source port, as Xray's server does: it takes the socket kept for
 * a while after the last sub-stream ended (Xray keeps its link a minute), or the one a
 * sub-stream still holds (a client that came back on a new connection before the server
 * saw the old one die, as a phone changing networks does): that holder is told to stop (its
 * `stolen` flag) and the new one gets a duplicate of the descriptor. The table is the
 * process's: a new connection may land on another worker. */
#ifndef EVP_XUDP_PORTS_H
#define EVP_XUDP_PORTS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#define EVP_XUDP_ID_LEN 8
#define EVP_XUDP_LINGER 60.0 /* seconds a socket waits for its Global ID's next sub-stream */

/* True when id is a Global ID (all zero means none, as Xray reads it). */
int evp_xudp_id_set(const uint8_t id[EVP_XUDP_ID_LEN]);

/* The socket for id (family AF_INET or AF_INET6), now the caller's: the one kept, or a
 * duplicate of the one a running sub-stream holds (whose *stolen is then set); -1 when
 * none. */
int evp_xudp_port_take(const uint8_t id[EVP_XUDP_ID_LEN], int family);

/* Records that the caller holds fd for id; stolen (the caller's, until it calls
 * evp_xudp_port_release) is set when another takes it. */
void evp_xudp_port_hold(const uint8_t id[EVP_XUDP_ID_LEN], int fd, atomic_int *stolen);

/* The holder of fd for id ends: when it still is the holder, fd (taken) is kept for
 * EVP_XUDP_LINGER seconds of the monotonic clock (closed when the table is full); when
 * another took the socket, fd is closed. */
void evp_xudp_port_release(const uint8_t id[EVP_XUDP_ID_LEN], int fd, atomic_int *stolen);

/* Sockets kept now, no sub-stream holding them (for the metrics). */
unsigned evp_xudp_ports_kept(void);

/* Closes every kept socket (shutdown). */
void evp_xudp_ports_clear(void);

/* A client's Global ID for material (its source and target as text): a keyed hash with a key
 * made once per process, so the ID says nothing of the addresses (Xray hashes the source
 * with BLAKE3; any stable ID will do, the server only compares them). */
void evp_xudp_id_for(const char *material, uint8_t out[EVP_XUDP_ID_LEN]);

#endif
