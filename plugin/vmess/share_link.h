/* The vmess inbound's share_link hook (ABI 1.7): a client's settings for one user, read from
 * the user's JSON and the inbound's streamSettings, in a link_format.h form. */
#ifndef VMESS_SHARE_LINK_H
#define VMESS_SHARE_LINK_H

#include "evproxy/plugin.h"

/* Formats: NULL or "v2rayn" (default), "uri". The link from host->alloc, or NULL and err. */
char *vmess_inbound_share_link(void *inst, const evp_link_args *args, char *err,
                               size_t errlen);
/* As above with the host table given (unit tests call it without an instance). */
char *vmess_share_link(const evp_host *host, const evp_link_args *args, char *err,
                       size_t errlen);

#endif
