/* What the socks and http outbounds share: V2Ray's `servers: [{address, port, users: [{user,
 * pass}]}]`. */
#ifndef EVP_BUILTIN_UPSTREAM_H
#define EVP_BUILTIN_UPSTREAM_H

#include "evproxy/plugin.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EVP_UPSTREAM_CRED_MAX 255 /* RFC 1929 caps user and pass at 255 bytes each */

typedef struct evp_upstream_server {
    evp_addr addr;
    uint8_t has_user; /* users[0] given: the credentials a session presents */
    uint8_t ulen, plen;
    char user[EVP_UPSTREAM_CRED_MAX + 1];
    char pass[EVP_UPSTREAM_CRED_MAX + 1];
} evp_upstream_server;

/* An outbound instance: its first member is the host, as evp_builtin_instance_new wants. */
typedef struct evp_upstream {
    const evp_host *host;
    atomic_uint next; /* the server the next session dials */
    size_t n;
    evp_upstream_server *servers; /* owned; passwords wiped on free */
} evp_upstream;

/* Fills up from settings.servers; -1 and err naming the path (settings.servers[i].port). */
int evp_upstream_parse(evp_upstream *up, const json_t *settings, char *err, size_t errlen);
/* Frees what evp_upstream_parse made, then up itself. */
void evp_upstream_free(void *up);
/* The server for the next session, in turn. */
const evp_upstream_server *evp_upstream_pick(evp_upstream *up);

#endif
