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

/* The start of a socks or http outbound session: what its handshake needs. */
typedef struct evp_upstream_sess {
    const evp_host *host;
    evp_upstream_server server; /* a copy: the instance may go first */
    evp_addr target;
} evp_upstream_sess;

/* Fills up from settings.servers; -1 and err naming the path (settings.servers[i].port). */
int evp_upstream_parse(evp_upstream *up, const json_t *settings, char *err, size_t errlen);
/* Frees what evp_upstream_parse made, then up itself. */
void evp_upstream_free(void *up);
/* The server for the next session, in turn. */
const evp_upstream_server *evp_upstream_pick(evp_upstream *up);
/* A zeroed session of size bytes (a struct that starts with an evp_upstream_sess) for the next
 * server and target; *dial is that server. NULL and err when out of memory. The caller frees
 * it with evp_builtin_free_wiped (it holds credentials). */
void *evp_upstream_session_new(evp_upstream *up, size_t size, const evp_addr *target,
                               evp_addr *dial, char *err, size_t errlen);

#endif
