/* The shadowsocks outbound (client side) as evp_outbound_ops: dials a server of
 * settings.servers (in turn), writes the salt and the target's address in the first chunk,
 * then relays; UDP sessions go out as real datagrams (EVP_OUT_DATAGRAM), one sealed
 * datagram per record. */
#ifndef SS_OUTBOUND_H
#define SS_OUTBOUND_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

void *ss_outbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                      size_t errlen);
void ss_outbound_free(void *inst);
void *ss_outbound_session_new(void *inst, const evp_addr *target, uint8_t network,
                              evp_addr *dial, char *err, size_t errlen);
void ss_outbound_session_free(void *sess);
int ss_outbound_encode(void *sess, evp_io *io);
int ss_outbound_decode(void *sess, evp_io *io);
void ss_outbound_session_idle(void *sess);

#endif
