/* XUDP's Global ID (Xray's UDP over Mux.Cool): the outbound UDP socket of a full-cone
 * sub-stream is kept under its Global ID for a while after the sub-stream ends, so that a
 * new Mux connection carrying the same ID goes on from the same source port, as Xray's
 * server does (its XUDP manager keeps a link for a minute). The table is the process's: a
 * new connection may land on another worker. */
#ifndef EVP_XUDP_PORTS_H
#define EVP_XUDP_PORTS_H

#include <stdint.h>
#include <sys/socket.h>

#define EVP_XUDP_ID_LEN 8
#define EVP_XUDP_LINGER 60.0 /* seconds a socket waits for its Global ID's next sub-stream */

/* True when id is a Global ID (all zero means none, as Xray reads it). */
int evp_xudp_id_set(const uint8_t id[EVP_XUDP_ID_LEN]);

/* The socket kept for id (family AF_INET or AF_INET6), now the caller's; -1 when none. */
int evp_xudp_port_take(const uint8_t id[EVP_XUDP_ID_LEN], int family);

/* Keeps fd (taken) under id for EVP_XUDP_LINGER seconds of the monotonic clock, or closes it
 * when the table is full; a socket kept before under id is closed. */
void evp_xudp_port_keep(const uint8_t id[EVP_XUDP_ID_LEN], int fd);

/* Sockets kept now (for tests and the status line). */
unsigned evp_xudp_ports_kept(void);

/* Closes every kept socket (shutdown). */
void evp_xudp_ports_clear(void);

/* A client's Global ID for material (its source and target as text): a keyed hash with a key
 * made once per process, so the ID says nothing of the addresses (Xray hashes the source
 * with BLAKE3; any stable ID will do, the server only compares them). */
void evp_xudp_id_for(const char *material, uint8_t out[EVP_XUDP_ID_LEN]);

#endif
