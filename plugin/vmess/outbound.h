/* The VMess outbound (client side) as evp_outbound_ops: picks a server and account, writes
 * the request header (AEAD, or legacy for alterId > 0), seals the request body, reads the
 * response header (checks V, honours SwitchAccount) and opens the response body.
 * The void pointers are the instance and session handles of the ABI. */
#ifndef VMESS_OUTBOUND_H
#define VMESS_OUTBOUND_H

#include "evproxy/plugin.h"

#include <stddef.h>

/* Builds an outbound instance from settings; NULL and err on failure. */
void *vmess_outbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                         size_t errlen);
/* Frees an instance (its sessions must be gone). */
void vmess_outbound_free(void *inst);
/* A session toward target over network; sets *dial to the server. NULL and err on error. */
void *vmess_outbound_session_new(void *inst, const evp_addr *target, uint8_t network,
                                 evp_addr *dial, char *err, size_t errlen);
/* Frees a session and wipes its keys. */
void vmess_outbound_session_free(void *sess);
/* Client plaintext -> server bytes; the first call writes the request header. */
int vmess_outbound_encode(void *sess, evp_io *io);
/* The session went quiet: drops its bodies' expanded cipher state (rebuilt on the next call). */
void vmess_outbound_session_idle(void *sess);
/* Server bytes -> client plaintext; EVP_EOF at the end marker (or a clean bare close). */
int vmess_outbound_decode(void *sess, evp_io *io);

#endif
