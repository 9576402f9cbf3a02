/* RFC 6455 framing over evp_io buffers, with libwslay's event API: its recv and send
 * callbacks read the layer's input and append to its outputs, and say WOULDBLOCK when the
 * input is used up, so wslay keeps a frame cut anywhere and goes on with the next call. */
#ifndef WS_FRAMES_H
#define WS_FRAMES_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

/* Largest payload of a frame we send; V2Ray 4.34 sends 2048, and reads any size. */
#define WS_FRAME_MAX 16384

typedef struct ws_frames {
    wslay_event_context_ptr ctx; /* NULL until ws_frames_open */
    const evp_host *host;
    const uint8_t *in; /* the call's input (borrowed), read from in_off */
    size_t in_len, in_off;
    evp_buf *up;   /* decoded payload goes here (the call's io->out) */
    evp_buf *down; /* frames we send go here (io->back in decode, io->out in encode) */
    uint8_t oom;
    uint8_t in_frame; /* inside a frame's payload */
    uint8_t in_data;  /* that frame carries data (not a control frame) */
    uint8_t in_msg;   /* inside a fragmented message (between its first and last frame) */
} ws_frames;

/* Starts framing for a server (client frames must be masked) or a client (ours are).
 * 0, or -1 when out of memory. */
int ws_frames_open(ws_frames *f, const evp_host *host, int server);

/* Frees what ws_frames_open made; safe on a never-opened f. */
void ws_frames_close(ws_frames *f);

/* Reads frames from io->in after io->consumed, advancing it: payload of binary and text
 * frames to io->out, pongs and Close replies to io->back. EVP_OK; EVP_EOF on the peer's
 * Close (replied once) or on io->in_eof between frames; EVP_ERR with io->reason. */
int ws_frames_decode(ws_frames *f, evp_io *io);

/* Sends io->in as binary frames of at most WS_FRAME_MAX to io->out (all consumed), then a
 * Close if io->in_eof. After a Close went either way the input is dropped. EVP_OK or
 * EVP_ERR. */
int ws_frames_encode(ws_frames *f, evp_io *io);

/* Sets io->reason to "websocket: " and the text; returns EVP_ERR. */
int ws_fail(evp_io *io, const char *fmt, ...) EVP_PRINTF(2, 3);

/* Sends a Close now (the layer above ended before the handshake was done) to out. */
int ws_frames_send_close(ws_frames *f, evp_buf *out);

#endif
