/* The control socket's per-user limits commands: "users" (each user's limits and usage on an
 * inbound) and the editing behind "limits" (key=value changes to one user's "limits"). */
#ifndef EVP_CONTROL_LIMITS_H
#define EVP_CONTROL_LIMITS_H

#include <jansson.h>
#include <stddef.h>

/* The reply's "users" array for inbound tag (new reference): each user with limits or quota
 * usage, its limits, and its usage (quota bytes, sessions, addresses, traffic ended). */
json_t *evp_control_limit_users(const char *tag);
/* A copy of users (as users_list gives them with secrets) whose user labelled label (in its
 * member label_key) has its "limits" changed by set (["uplinkBps=1000000", "expire=none",
 * ...]; "none" removes a key): new reference, or NULL with why in err. */
json_t *evp_control_limits_edit(json_t *users, const char *label_key, const char *label,
                                json_t *set, char *err, size_t errlen);

#endif
