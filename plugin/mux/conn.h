/* One Mux.Cool stream seen through ABI 1.7's events (evp_mux_ops): frames in, events out;
 * events in, frames out. The frame format itself is plugin/vmess/mux_frame.h's. */
#ifndef MUX_CONN_H
#define MUX_CONN_H

#include "evproxy/plugin.h"

/* evp_mux_ops hooks (see plugin.h). */
void *mux_conn_new(void *inst, int server);
void mux_conn_free(void *conn);
int mux_conn_decode(void *conn, evp_io *io, evp_mux_event *ev);
int mux_conn_encode(void *conn, const evp_mux_event *ev, evp_buf *out);
void mux_conn_idle(void *conn);
/* The host's ABI minor (its init's): before 1.8 its events have no XUDP fields. */
void mux_conn_host_abi(unsigned minor);

#endif
