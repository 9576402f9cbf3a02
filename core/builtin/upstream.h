/* What the socks and http outbounds share: V2Ray's `servers: [{address, port, users: [{user,
 * pass}]}]` and the client bytes held back until the server accepted the tunnel. */
#ifndef EVP_BUILTIN_UPSTREAM_H
#define EVP_BUILTIN_UPSTREAM_H

#include "evproxy/plugin.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EVP_UPSTREAM_CRED_MAX 255 /* RFC 1929 caps user and pass at 255 bytes each */
/* Client bytes held while the server has not answered; more ends the session. */
#define EVP_UPSTREAM_HOLD_MAX (256 * 1024)

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

/* Client bytes waiting for the tunnel, owned by the session. */
typedef struct evp_upstream_hold {
    uint8_t *data;
    size_t len;
} evp_upstream_hold;

/* Takes all of io->in into h (io->consumed set); EVP_OK, or EVP_ERR with io->reason when
 * more than EVP_UPSTREAM_HOLD_MAX would wait or memory ran out. */
int evp_upstream_hold_take(const evp_host *host, evp_upstream_hold *h, evp_io *io,
                           const char *proto);
/* Appends h's bytes to to and empties h; 0, or -1 with io->reason set. */
int evp_upstream_hold_release(const evp_host *host, evp_upstream_hold *h, evp_io *io,
                              evp_buf *to);
/* Wipes and frees h's bytes. */
void evp_upstream_hold_free(const evp_host *host, evp_upstream_hold *h);

#endif
