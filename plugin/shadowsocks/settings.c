/* Reads the shadowsocks settings JSON with jansson (see settings.h). */
#include "settings.h"

#include "mem.h"
#include "method.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fail(char *err, size_t errlen, const char *fmt, ...) EVP_PRINTF(3, 4);
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void ss_cfg_free(ss_cfg *cfg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        ss_user_cfg *u = &cfg->users[i];
        if (u->password != NULL)
            ss_free_wiped(u->password, strlen(u->password));
        ss_free(u->email);
    }
    ss_free(cfg->users);
    memset(cfg, 0, sizeof *cfg);
}

static const char *str_of(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A method name (or the fallback when obj has none); the method, or 0 with err. */
static int method_of(json_t *obj, const char *fallback, const char *where, char *err,
                     size_t errlen)
{
    const char *name = str_of(obj, "method");
    if (name == NULL)
        name = fallback;
    int m = ss_method_parse(name);
    if (m == SS_METHOD_NONE) {
        if (name == NULL)
            fail(err, errlen, "%s: no method", where);
        else
            fail(err, errlen, "%s.method: \"%.40s\" is not an AEAD method (aes-128-gcm, "
                 "aes-256-gcm, chacha20-ietf-poly1305)", where, name);
    }
    return m;
}

/* Fills u from obj (password, email, level; method already set): 0, or -1 with err. */
static int user_of(json_t *obj, ss_user_cfg *u, const char *where, char *err, size_t errlen)
{
    const char *pw = str_of(obj, "password");
    if (pw == NULL || pw[0] == '\0') {
        fail(err, errlen, "%s.password: missing or empty", where);
        return -1;
    }
    json_t *level = json_object_get(obj, "level");
    if (level != NULL && (!json_is_integer(level) || json_integer_value(level) < 0 ||
                          json_integer_value(level) > UINT32_MAX)) {
        fail(err, errlen, "%s.level: not an integer in 0..4294967295", where);
        return -1;
    }
    u->level = level != NULL ? (uint32_t)json_integer_value(level) : 0;
    const char *email = str_of(obj, "email");
    u->password = ss_strdup(pw);
    u->email = ss_strdup(email != NULL ? email : "");
    if (u->password == NULL || u->email == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Rejects two users with one non-empty email: the users ops find a user by it. */
static int emails_unique(const ss_cfg *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n; i++)
        for (size_t j = i + 1; j < cfg->n; j++)
            if (cfg->users[i].email[0] != '\0' &&
                strcmp(cfg->users[i].email, cfg->users[j].email) == 0) {
                fail(err, errlen, "two users have the email \"%.60s\"", cfg->users[i].email);
                return -1;
            }
    return 0;
}

static int parse_inbound(json_t *root, ss_cfg *cfg, char *err, size_t errlen)
{
    json_t *clients = json_object_get(root, "clients");
    if (clients != NULL && !json_is_array(clients)) {
        fail(err, errlen, "settings.clients: not an array");
        return -1;
    }
    int top = json_object_get(root, "password") != NULL;
    size_t n = (size_t)top + json_array_size(clients);
    cfg->users = ss_calloc(n ? n : 1, sizeof *cfg->users);
    if (cfg->users == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    const char *top_method = str_of(root, "method");
    if (top) {
        ss_user_cfg *u = &cfg->users[cfg->n++];
        if ((u->method = (uint8_t)method_of(root, NULL, "settings", err, errlen)) == 0 ||
            user_of(root, u, "settings", err, errlen) != 0)
            return -1;
    }
    size_t i;
    json_t *c;
    json_array_foreach (clients, i, c) {
        char where[48];
        snprintf(where, sizeof where, "settings.clients[%zu]", i);
        ss_user_cfg *u = &cfg->users[cfg->n++];
        if (!json_is_object(c)) {
            fail(err, errlen, "%s: not an object", where);
            return -1;
        }
        if ((u->method = (uint8_t)method_of(c, top_method, where, err, errlen)) == 0 ||
            user_of(c, u, where, err, errlen) != 0)
            return -1;
    }
    return emails_unique(cfg, err, errlen);
}

/* An address literal or a domain into a (port set by the caller); 0 or -1. */
static int server_addr(const char *s, evp_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->bytes) == 1) {
        a->type = EVP_ADDR_IPV4;
        a->len = 4;
    } else if (inet_pton(AF_INET6, s, a->bytes) == 1) {
        a->type = EVP_ADDR_IPV6;
        a->len = 16;
    } else {
        size_t n = strlen(s);
        if (n == 0 || n > 255)
            return -1;
        a->type = EVP_ADDR_DOMAIN;
        a->len = (uint8_t)n;
        memcpy(a->bytes, s, n + 1);
    }
    return 0;
}

static int parse_outbound(json_t *root, ss_cfg *cfg, char *err, size_t errlen)
{
    json_t *servers = json_object_get(root, "servers");
    if (!json_is_array(servers) || json_array_size(servers) == 0) {
        fail(err, errlen, "settings.servers: a non-empty array is needed");
        return -1;
    }
    cfg->users = ss_calloc(json_array_size(servers), sizeof *cfg->users);
    if (cfg->users == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    json_t *s;
    json_array_foreach (servers, i, s) {
        char where[48];
        snprintf(where, sizeof where, "settings.servers[%zu]", i);
        ss_user_cfg *u = &cfg->users[cfg->n++];
        const char *address = str_of(s, "address");
        json_t *port = json_object_get(s, "port");
        if (address == NULL || server_addr(address, &u->server) != 0) {
            fail(err, errlen, "%s.address: missing or not an address", where);
            return -1;
        }
        if (!json_is_integer(port) || json_integer_value(port) < 1 ||
            json_integer_value(port) > 65535) {
            fail(err, errlen, "%s.port: not a port in 1..65535", where);
            return -1;
        }
        u->server.port = (uint16_t)json_integer_value(port);
        if ((u->method = (uint8_t)method_of(s, NULL, where, err, errlen)) == 0 ||
            user_of(s, u, where, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Loads json and runs parse on its root object; cfg is freed on failure. */
static int parse_with(const char *json, ss_cfg *cfg, char *err, size_t errlen,
                      int (*parse)(json_t *, ss_cfg *, char *, size_t))
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    if (!json_is_object(root)) {
        fail(err, errlen, "settings: not a JSON object");
        json_decref(root);
        return -1;
    }
    int rc = parse(root, cfg, err, errlen);
    json_decref(root);
    if (rc != 0)
        ss_cfg_free(cfg);
    return rc;
}

int ss_inbound_cfg_parse(const char *json, ss_cfg *cfg, char *err, size_t errlen)
{
    return parse_with(json, cfg, err, errlen, parse_inbound);
}

int ss_outbound_cfg_parse(const char *json, ss_cfg *cfg, char *err, size_t errlen)
{
    return parse_with(json, cfg, err, errlen, parse_outbound);
}
