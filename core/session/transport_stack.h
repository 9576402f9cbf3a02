/* One connection's transport layer sessions and the queues between them, bottom (the
 * socket) first. The session code keeps reading and writing "the stream as the protocol
 * sees it" (an endpoint's rbuf/wbuf); the stack sits between those and the socket:
 *   raw_in -> decode up through every layer -> rbuf
 *   wbuf   -> encode down through every layer -> raw_out
 * A layer's `back` bytes (handshake flights, pongs) go into the queue below it, the same
 * queue the layer above writes into, so bytes going down keep their order. Sans-I/O: the
 * caller moves raw_in/raw_out to and from the socket. */
#ifndef EVP_TRANSPORT_STACK_H
#define EVP_TRANSPORT_STACK_H

#include "buf.h"
#include "transports.h"

#include <stdint.h>

typedef struct evp_tstack evp_tstack;

/* Sessions of t's layers for one connection. peer: server side, the client as the socket
 * saw it; client side, the address dialled. NULL when out of memory (or a layer's
 * session_new failed). Holds no reference to t: the caller keeps t's owner alive. */
evp_tstack *evp_tstack_new(const evp_transports *t, const evp_addr *peer);
/* The same with t's first n layers only (1 <= n <= t->n). */
evp_tstack *evp_tstack_new_n(const evp_transports *t, size_t n, const evp_addr *peer);
void evp_tstack_free(evp_tstack *st);

/* Bytes read from the socket, for the bottom layer: the caller appends, then decodes. */
evp_qbuf *evp_tstack_raw_in(evp_tstack *st);
/* Bytes for the socket: the caller takes what it wrote. */
evp_qbuf *evp_tstack_raw_out(evp_tstack *st);
/* The socket's read side ended (a FIN): the bottom layer's input ends. */
void evp_tstack_raw_eof(evp_tstack *st);

/* A client (dialling) stack's socket connected: each layer's encode once with no input,
 * bottom first, so a layer that speaks first can. EVP_OK or EVP_ERR. */
int evp_tstack_start(evp_tstack *st);
/* Decodes raw_in up through the layers into rbuf, then runs the encode pass (wbuf, which
 * ends when wbuf_eof, down to raw_out) so that held-back input and `back` bytes move.
 * EVP_OK or EVP_ERR (see evp_tstack_error). */
int evp_tstack_decode(evp_tstack *st, evp_qbuf *rbuf, evp_qbuf *wbuf, int wbuf_eof);
/* Encodes wbuf (taking what the top layer consumed) and every queue below it down to
 * raw_out; wbuf_eof: nothing will follow wbuf's bytes, so each layer writes its end once its
 * input is all taken. EVP_OK or EVP_ERR. */
int evp_tstack_encode(evp_tstack *st, evp_qbuf *wbuf, int wbuf_eof);

/* The stream above the top layer ended (a layer's own end or the socket's, passed up). */
int evp_tstack_top_eof(const evp_tstack *st);
/* The stream above has ended but a layer's connection still talks (EVP_TR_CONN): the socket
 * is to be read on, for the stack only. */
int evp_tstack_reading(const evp_tstack *st);
/* Every layer has written its end (or one failed): once raw_out is written the socket's
 * write side may be shut. */
int evp_tstack_down_ended(const evp_tstack *st);
/* Bytes queued on the way down (between layers and in raw_out), for backpressure. */
size_t evp_tstack_queued_down(const evp_tstack *st);
/* Bytes held anywhere in the stack. */
size_t evp_tstack_held(const evp_tstack *st);
/* A server layer named the client's real address (EVP_TARGET): 1 and *peer, the newest. */
int evp_tstack_peer(const evp_tstack *st, evp_addr *peer);
/* After EVP_ERR: the failing layer's name, its reason and the bytes it asked to drain. */
const char *evp_tstack_error(const evp_tstack *st, const char **layer, uint32_t *drain);
/* Tells every layer the connection is quiet (session_idle). */
void evp_tstack_idle(evp_tstack *st);

#endif
