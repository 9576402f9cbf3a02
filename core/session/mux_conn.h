/* The server side of a multiplexer (ABI 1.7 evp_mux_ops) for one carrying session: reads the
 * multiplexed stream from a socketpair end, starts a session per sub-stream
 * (evp_session_sub) and frames what those sessions send back. */
#ifndef EVP_MUX_CONN_H
#define EVP_MUX_CONN_H

#include "session.h"

typedef struct evp_mux_conn evp_mux_conn;

/* Serves the multiplexer of module mux (referenced; conn_inst: its layer's instance, which o's
 * inbound keeps alive, or NULL) on fd (taken), the far end of the carrying session's server
 * side; sub-streams come from o (referenced) as user (copied, may be NULL). NULL when out of
 * memory (fd closed). */
evp_mux_conn *evp_mux_conn_new(evp_runtime *rt, int fd, evp_module *mux, void *conn_inst,
                               const evp_sub_origin *o, const char *user);
/* Client side: a sub-stream toward target over network on a connection of outbound out (which
 * has "mux": out->mux, mux_concurrency), opened with a New frame; a connection with room is
 * shared, else one is made (its carrying session dials through out). Returns the session's end
 * of the sub-stream (a socketpair end it owns) and sets *link (the session owns it: its
 * failed flag says the server ended the sub-stream with Error), or -1. */
int evp_mux_client_join(evp_runtime *rt, evp_instance *out, const evp_sub_origin *o,
                        const evp_addr *target, uint8_t network, const uint8_t *xudp_id,
                        evp_sub_link **link);
/* Ends every multiplexed connection of rt at once (shutdown). */
void evp_mux_conn_close_all(evp_runtime *rt);

#endif
