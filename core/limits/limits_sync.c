/* The users' limits as their plugin lists them (users_list with secrets: the users as
 * configured, "limits" objects included). */
#include "limits_sync.h"

#include "user_limits.h"
#include "users.h"

void evp_limits_sync_instance(evp_instance *in, const char *schema_dir)
{
    char label[64];
    if (in == NULL || in->tag == NULL || !evp_users_supported(in->mod) ||
        evp_users_label_key(schema_dir, in->mod, label, sizeof label) != 0)
        return;
    json_t *users = evp_users_list(in, EVP_USERS_SECRETS);
    if (users)
        evp_limits_sync(in->tag, users, label);
    json_decref(users);
}
