/* What the socks and http outbounds share (see upstream.h). */
#include "upstream.h"
#include "common.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* users[0] of a server: the account V2Ray's client presents (it picks one; we take the
 * first, so which one is known). */
static int parse_user(evp_upstream_server *sv, const json_t *users, size_t i, char *err,
                      size_t errlen)
{
    if (users == NULL || json_array_size(users) == 0)
        return 0;
    const json_t *u = json_array_get(users, 0);
    const char *user, *pass;
    char where[64];
    snprintf(where, sizeof where, "settings.servers[%zu].users[0]", i);
    if (!json_is_object(u)) {
        snprintf(err, errlen, "%s: not an object", where);
        return -1;
    }
    if (evp_builtin_get_str(u, "user", "", &user, err, errlen) != 0 ||
        evp_builtin_get_str(u, "pass", "", &pass, err, errlen) != 0)
        return -1;
    if (strlen(user) > EVP_UPSTREAM_CRED_MAX || strlen(pass) > EVP_UPSTREAM_CRED_MAX) {
        snprintf(err, errlen, "%s: user and pass are at most 255 bytes", where);
        return -1;
    }
    sv->has_user = 1;
    sv->ulen = (uint8_t)strlen(user);
    sv->plen = (uint8_t)strlen(pass);
    memcpy(sv->user, user, sv->ulen);
    memcpy(sv->pass, pass, sv->plen);
    return 0;
}

static int parse_server(evp_upstream_server *sv, const json_t *o, size_t i, char *err,
                        size_t errlen)
{
    const char *address;
    long long port;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "settings.servers[%zu]: not an object", i);
        return -1;
    }
    if (evp_builtin_get_str(o, "address", "", &address, err, errlen) != 0 ||
        evp_builtin_get_int(o, "port", 1, 65535, 0, &port, err, errlen) != 0) {
        char inner[200];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "settings.servers[%zu]: %s", i, inner);
        return -1;
    }
    if (port == 0 || evp_builtin_host_addr(&sv->addr, address) != 0) {
        snprintf(err, errlen, "settings.servers[%zu]: %s", i,
                 port == 0 ? "port is required" : "address is not an address");
        return -1;
    }
    sv->addr.port = (uint16_t)port;
    const json_t *users = json_object_get(o, "users");
    if (users != NULL && !json_is_array(users)) {
        snprintf(err, errlen, "settings.servers[%zu].users: not an array", i);
        return -1;
    }
    return parse_user(sv, users, i, err, errlen);
}

int evp_upstream_parse(evp_upstream *up, const json_t *settings, char *err, size_t errlen)
{
    const json_t *servers = json_object_get(settings, "servers");
    size_t n = json_array_size(servers);
    if (!json_is_array(servers) || n == 0) {
        snprintf(err, errlen, "settings.servers: at least one server is needed");
        return -1;
    }
    up->servers = up->host->calloc(n, sizeof *up->servers);
    if (up->servers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    up->n = n;
    for (size_t i = 0; i < n; i++)
        if (parse_server(&up->servers[i], json_array_get(servers, i), i, err, errlen) != 0)
            return -1;
    return 0;
}

void evp_upstream_free(void *p)
{
    evp_upstream *up = p;
    if (up == NULL)
        return;
    evp_builtin_free_wiped(up->host, up->servers, up->n * sizeof *up->servers);
    up->host->free(up);
}

const evp_upstream_server *evp_upstream_pick(evp_upstream *up)
{
    return &up->servers[atomic_fetch_add(&up->next, 1) % up->n];
}

void *evp_upstream_session_new(evp_upstream *up, size_t size, const evp_addr *target,
                               evp_addr *dial, char *err, size_t errlen)
{
    evp_upstream_sess *s = up->host->calloc(1, size);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = up->host;
    s->server = *evp_upstream_pick(up);
    s->target = *target;
    *dial = s->server.addr;
    return s;
}
