/* The shadowsocks inbound (server side) as evp_inbound_ops: finds the client's user by its
 * first sealed length (or datagram), refuses replayed salts through the host's "seen
 * recently" set, names the target from the first chunk, then relays. A failed handshake
 * drains like random bytes would. */
#ifndef SS_INBOUND_H
#define SS_INBOUND_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

void *ss_inbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                     size_t errlen);
/* Drops the host's reference; the instance goes when its last session does. */
void ss_inbound_free(void *inst);
/* Swaps in the users of new settings; running sessions keep theirs. 0, or -1 and err. */
int ss_inbound_update(void *inst, const evp_instance_args *args, char *err, size_t errlen);
/* The host services the instance was made with. */
const evp_host *ss_inbound_host(void *inst);
/* A copy (ss_alloc) of the settings text the instance runs on; NULL when out of memory. */
char *ss_inbound_settings(void *inst);
/* How many bytes a failed handshake on this instance drains at least and at most. */
void ss_inbound_drain_range(void *inst, uint32_t *min, uint32_t *max);

void *ss_inbound_session_new(void *inst);
/* ABI 1.7: a TCP stream or a UDP peer's datagrams, as the host says. */
void *ss_inbound_session_open(void *inst, const evp_session_info *info);
void ss_inbound_session_free(void *sess);
int ss_inbound_decode(void *sess, evp_io *io);
int ss_inbound_encode(void *sess, evp_io *io);
void ss_inbound_session_idle(void *sess);
const char *ss_inbound_session_user(void *sess);
/* The user's level (ABI 1.7 session_level), 0 before one is found. */
uint32_t ss_inbound_session_level(void *sess);

/* Users ops (ABI 1.2): the users are the settings' clients (inbound_users.c). */
char *ss_inbound_users_list(void *inst, unsigned flags);
int ss_inbound_users_add(void *inst, const char *user_json, char *err, size_t errlen);
int ss_inbound_users_remove(void *inst, const char *key, char *err, size_t errlen);
int ss_inbound_users_replace(void *inst, const char *users_json, char *err, size_t errlen);

#endif
