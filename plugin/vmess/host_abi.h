/* Which host services this host offers: members added after ABI 1.0 are only there when
 * the host says it speaks 1.1 or later and built a table that long. */
#ifndef VMESS_HOST_ABI_H
#define VMESS_HOST_ABI_H

#include "evproxy/plugin.h"

#include <stddef.h>

/* True when host h has the ABI >= 1.1 member field, set. */
#define VMESS_HOST_HAS(h, field)                                                                  \
    ((h)->abi_major == 1 && (h)->abi_minor >= 1 &&                                               \
     (h)->size >= offsetof(evp_host, field) + sizeof((h)->field) && (h)->field != NULL)

#endif
