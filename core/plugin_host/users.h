/* An inbound's users, reached only through its plugin's ABI 1.2 users ops: the core moves
 * users as opaque JSON (the plugin's own format, checked against the plugin's user schema)
 * and never reads a field of one. */
#ifndef EVP_USERS_H
#define EVP_USERS_H

#include "errlist.h"
#include "instance.h"

#include <jansson.h>

/* True when mod's inbound offers every users op (and its ops struct is large enough). */
int evp_users_supported(const evp_module *mod);
/* Checks users (an array when is_list, else one user) against mod's user schema, adding
 * "where[i].field: ..." lines to errs. 0 valid, -1 not. */
int evp_users_validate(const char *schema_dir, const evp_module *mod, json_t *users,
                       int is_list, const char *where, evp_errlist *errs);
/* Builds a user object from positional ctl arguments, named by the user schema's
 * "x-ctl-args" list (integers where the schema says "integer"). New reference, or NULL
 * and err. */
json_t *evp_users_from_args(const char *schema_dir, const evp_module *mod, json_t *args,
                            char *err, size_t errlen);
/* The field of a user object that holds the label its sessions carry (session_user), as the
 * user schema's "x-label" names it, into key (n bytes): 0, or -1 when it names none. */
int evp_users_label_key(const char *schema_dir, const evp_module *mod, char *key, size_t n);
/* The users of in as a JSON array (new reference); flags as users_list. NULL on failure. */
json_t *evp_users_list(evp_instance *in, unsigned flags);
/* add/remove/replace on the running instance; 0, or -1 and err. */
int evp_users_add(evp_instance *in, json_t *user, char *err, size_t errlen);
int evp_users_remove(evp_instance *in, const char *key, char *err, size_t errlen);
int evp_users_replace(evp_instance *in, json_t *users, char *err, size_t errlen);

#endif
