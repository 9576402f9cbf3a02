/* The HTTP upgrade, both sides: the server reads the request and answers 101 (or an HTTP
 * error as V2Ray 4.34 does); the client writes the request and checks the 101. */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include "ws_int.h"

/* Server, in WS_HANDSHAKE or WS_PENDING: reads the request at io->in. EVP_OK with nothing
 * consumed while it is incomplete; EVP_TARGET (once, nothing consumed) for a trusted
 * front's X-Forwarded-For; EVP_OK with the request consumed, the 101 in io->back, the
 * early data in io->out and s->state WS_OPEN; EVP_ERR with an HTTP error in io->back. */
int ws_server_handshake(ws_session *s, evp_io *io);

/* Client, in WS_HANDSHAKE: writes the request to io->out, with up to maxEarlyData of io->in
 * in it (consumed); s->state becomes WS_WAIT_101. EVP_OK or EVP_ERR. */
int ws_client_request(ws_session *s, evp_io *io);

/* Client, in WS_WAIT_101: reads the response at io->in. EVP_OK with nothing consumed while
 * it is incomplete, or with it consumed and s->state WS_OPEN; EVP_ERR otherwise. */
int ws_client_response(ws_session *s, evp_io *io);

#endif
