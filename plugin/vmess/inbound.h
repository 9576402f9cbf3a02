/* The VMess inbound (server side) as evp_inbound_ops: authenticates the request header
 * (AEAD first, then legacy), checks replay and session history, names the target, opens
 * the request body, and writes the response header (with SwitchAccount when a detour is
 * configured) and body. The void pointers are the instance and session handles of the ABI;
 * a session keeps its instance and its user table alive until it is freed. */
#ifndef VMESS_INBOUND_H
#define VMESS_INBOUND_H

#include "evproxy/plugin.h"

#include <stddef.h>

/* Builds an inbound instance from settings (registers it under args->tag for detours);
 * NULL and err on failure. */
void *vmess_inbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                        size_t errlen);
/* Drops the host's reference; the instance goes when its last session does. */
void vmess_inbound_free(void *inst);
/* A new client connection; NULL when out of memory. */
void *vmess_inbound_session_new(void *inst);
/* Frees a session, wiping its keys, and drops its references. */
void vmess_inbound_session_free(void *sess);
/* Client bytes -> target plaintext (see evp_inbound_ops.decode). */
int vmess_inbound_decode(void *sess, evp_io *io);
/* Target plaintext -> client bytes; the first call writes the response header. */
int vmess_inbound_encode(void *sess, evp_io *io);
/* The session went quiet: drops its bodies' expanded cipher state (rebuilt on the next call). */
void vmess_inbound_session_idle(void *sess);
/* The matched user's email, or NULL before authentication or when it has none. */
const char *vmess_inbound_session_user(void *sess);
/* The authenticated user's level (ABI 1.7 session_level), 0 before. */
uint32_t vmess_inbound_session_level(void *sess);
/* Swaps in the user list (and detour/default/disableInsecureEncryption) of new settings;
 * running sessions keep the old table. 0, or -1 and err (nothing changes). */
int vmess_inbound_update(void *inst, const evp_instance_args *args, char *err, size_t errlen);
/* The host services the instance was made with. */
const evp_host *vmess_inbound_host(void *inst);
/* A malloc'd copy of the settings text the instance runs on (users ops edit it); NULL when
 * out of memory. */
char *vmess_inbound_settings(void *inst);
/* How many bytes a failed handshake on this instance drains at least and at most. */
void vmess_inbound_drain_range(void *inst, uint32_t *min, uint32_t *max);

#endif
