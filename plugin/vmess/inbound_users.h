/* The vmess inbound's users ops (evp_inbound_ops, ABI 1.2). A user is a "clients" entry of
 * the inbound settings (schema/vmess-user.schema.json); its key is its id or its email. */
#ifndef VMESS_INBOUND_USERS_H
#define VMESS_INBOUND_USERS_H

#include <stddef.h>

/* The clients as a JSON array text (ids shortened unless EVP_USERS_SECRETS). */
char *vmess_inbound_users_list(void *inst, unsigned flags);
/* Adds a client; refuses one whose id or email is already there. */
int vmess_inbound_users_add(void *inst, const char *user_json, char *err, size_t errlen);
/* Removes the client whose id or email is key (case-insensitive). */
int vmess_inbound_users_remove(void *inst, const char *key, char *err, size_t errlen);
/* Replaces every client. */
int vmess_inbound_users_replace(void *inst, const char *users_json, char *err, size_t errlen);

#endif
