/* Filling the per-user limits table from an inbound's users, through the ABI users ops. */
#ifndef EVP_LIMITS_SYNC_H
#define EVP_LIMITS_SYNC_H

#include "instance.h"

/* Takes the limits of in's users (its tag's entries), each keyed by the field its user
 * schema's "x-label" names: after it is made, and after each change of its users. An
 * inbound without users ops, or whose user schema names no label, has none. */
void evp_limits_sync_instance(evp_instance *in, const char *schema_dir);

#endif
