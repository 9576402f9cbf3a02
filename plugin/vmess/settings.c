/* Reads the vmess settings JSON with jansson, field by field as V2Ray 4.34 does. */
#include "settings.h"

#include "body.h"
#include "mem.h"
#include "user_id.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

uint8_t vmess_security_auto(void)
{
#if defined(__x86_64__) || defined(__aarch64__) || defined(__s390x__)
    return VMESS_SEC_GCM;
#else
    return VMESS_SEC_CHACHA;
#endif
}

uint8_t vmess_security_parse(const char *s)
{
    if (s == NULL)
        return vmess_security_auto();
    if (strcasecmp(s, "aes-128-gcm") == 0)
        return VMESS_SEC_GCM;
    if (strcasecmp(s, "chacha20-poly1305") == 0)
        return VMESS_SEC_CHACHA;
    if (strcasecmp(s, "none") == 0)
        return VMESS_SEC_NONE;
    if (strcasecmp(s, "zero") == 0)
        return VMESS_CFG_ZERO;
    if (strcasecmp(s, "aes-128-cfb") == 0)
        return VMESS_SEC_LEGACY;
    return vmess_security_auto();
}

const char *vmess_env_flag(const char *dotted, const char *upper)
{
    const char *v = getenv(dotted);
    return v != NULL ? v : getenv(upper);
}

/* Reads an optional boolean member into *val (missing or null: 0); 0 or -1. */
static int get_bool(json_t *obj, const char *key, uint8_t *val, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
        fail(err, errlen, "settings.%s: not a boolean", key);
        return -1;
    }
    *val = json_is_true(v);
    return 0;
}

/* Reads an optional unsigned integer member no larger than max; 0 or -1. */
static int get_uint(json_t *obj, const char *key, unsigned long max, unsigned long *val,
                    const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (unsigned long long)json_integer_value(v) > max) {
        fail(err, errlen, "%s.%s: not an integer in 0..%lu", where, key, max);
        return -1;
    }
    *val = (unsigned long)json_integer_value(v);
    return 0;
}

/* One user object: id, alterId, security, level, email. */
static int parse_user(json_t *u, vmess_user_cfg *out, int outbound, const char *where, char *err,
                      size_t errlen)
{
    if (!json_is_object(u)) {
        fail(err, errlen, "%s: not an object", where);
        return -1;
    }
    const char *id = json_string_value(json_object_get(u, "id"));
    if (id == NULL || vmess_uuid_parse(out->id, id) != 0) {
        fail(err, errlen, "%s.id: not a UUID", where);
        return -1;
    }
    unsigned long alter = 0, level = 0;
    if (get_uint(u, "alterId", 65535, &alter, where, err, errlen) != 0 ||
        get_uint(u, "level", 0xffffffffUL, &level, where, err, errlen) != 0)
        return -1;
    out->alter_id = (uint16_t)alter;
    out->level = (uint32_t)level;
    json_t *sec = json_object_get(u, "security");
    if (sec != NULL && !json_is_null(sec) && !json_is_string(sec)) {
        fail(err, errlen, "%s.security: not a string", where);
        return -1;
    }
    out->security = outbound ? vmess_security_parse(json_string_value(sec)) : 0;
    json_t *em = json_object_get(u, "email");
    if (em != NULL && !json_is_null(em) && !json_is_string(em)) {
        fail(err, errlen, "%s.email: not a string", where);
        return -1;
    }
    out->email = vmess_strdup(em != NULL && json_is_string(em) ? json_string_value(em) : "");
    if (out->email == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void free_users(vmess_user_cfg *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vmess_free(u[i].email);
        memset(u[i].id, 0, sizeof(u[i].id));
    }
    vmess_free(u);
}

/* An array of user objects into a fresh array; 0 or -1. */
static int parse_users(json_t *arr, vmess_user_cfg **out, size_t *n, int outbound,
                       const char *where, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        fail(err, errlen, "%s: not an array", where);
        return -1;
    }
    size_t count = json_array_size(arr);
    if (count == 0)
        return 0;
    vmess_user_cfg *u = vmess_calloc(count, sizeof(*u));
    if (u == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        char at[96];
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (parse_user(json_array_get(arr, i), &u[i], outbound, at, err, errlen) != 0) {
            free_users(u, i + 1);
            return -1;
        }
    }
    *out = u;
    *n = count;
    return 0;
}

/* An IP literal or a domain into addr (port left alone); 0 or -1. */
static int parse_address(const char *s, evp_addr *addr)
{
    size_t n = strlen(s);
    if (inet_pton(AF_INET, s, addr->bytes) == 1) {
        addr->type = EVP_ADDR_IPV4;
        addr->len = 4;
        return 0;
    }
    char tmp[64];
    /* V2Ray also accepts an IPv6 literal in brackets. */
    if (n >= 2 && n < sizeof(tmp) + 2 && s[0] == '[' && s[n - 1] == ']') {
        memcpy(tmp, s + 1, n - 2);
        tmp[n - 2] = '\0';
        s = tmp;
    }
    if (inet_pton(AF_INET6, s, addr->bytes) == 1) {
        addr->type = EVP_ADDR_IPV6;
        addr->len = 16;
        return 0;
    }
    if (n == 0 || n > 255)
        return -1;
    addr->type = EVP_ADDR_DOMAIN;
    addr->len = (uint8_t)n;
    memcpy(addr->bytes, s, n);
    addr->bytes[n] = '\0';
    return 0;
}

void vmess_outbound_cfg_free(vmess_outbound_cfg *cfg)
{
    for (size_t i = 0; i < cfg->n_servers; i++)
        free_users(cfg->servers[i].users, cfg->servers[i].n_users);
    vmess_free(cfg->servers);
    memset(cfg, 0, sizeof(*cfg));
}

static int parse_server(json_t *s, vmess_server_cfg *out, const char *where, char *err,
                        size_t errlen)
{
    if (!json_is_object(s)) {
        fail(err, errlen, "%s: not an object", where);
        return -1;
    }
    const char *address = json_string_value(json_object_get(s, "address"));
    if (address == NULL || parse_address(address, &out->addr) != 0) {
        fail(err, errlen, "%s.address: not an IP address or domain", where);
        return -1;
    }
    unsigned long port = 0;
    if (get_uint(s, "port", 65535, &port, where, err, errlen) != 0)
        return -1;
    if (port == 0) {
        fail(err, errlen, "%s.port: missing or 0", where);
        return -1;
    }
    out->addr.port = (uint16_t)port;
    char at[96];
    snprintf(at, sizeof(at), "%s.users", where);
    if (parse_users(json_object_get(s, "users"), &out->users, &out->n_users, 1, at, err, errlen) !=
        0)
        return -1;
    if (out->n_users == 0) {
        fail(err, errlen, "%s: no users", at);
        return -1;
    }
    return 0;
}

int vmess_outbound_cfg_parse(const char *json, vmess_outbound_cfg *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (root == NULL) {
        fail(err, errlen, "settings: %s (line %d)", jerr.text, jerr.line);
        return -1;
    }
    json_t *vnext = json_object_get(root, "vnext");
    if (!json_is_object(root) || !json_is_array(vnext) || json_array_size(vnext) == 0) {
        fail(err, errlen, "settings.vnext: 0 VMess receiver configured");
        goto out;
    }
    size_t n = json_array_size(vnext);
    cfg->servers = vmess_calloc(n, sizeof(*cfg->servers));
    if (cfg->servers == NULL) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char at[64];
        snprintf(at, sizeof(at), "settings.vnext[%zu]", i);
        cfg->n_servers = i + 1;
        if (parse_server(json_array_get(vnext, i), &cfg->servers[i], at, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        vmess_outbound_cfg_free(cfg);
    json_decref(root);
    return rc;
}

void vmess_inbound_cfg_free(vmess_inbound_cfg *cfg)
{
    free_users(cfg->clients, cfg->n_clients);
    vmess_free(cfg->detour_to);
    memset(cfg, 0, sizeof(*cfg));
}

/* V2Ray refuses two users with the same non-empty email, compared case-insensitively. */
static int check_emails(const vmess_inbound_cfg *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_clients; i++) {
        if (cfg->clients[i].email[0] == '\0')
            continue;
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(cfg->clients[i].email, cfg->clients[j].email) == 0) {
                fail(err, errlen, "settings.clients[%zu].email: user %s already exists", i,
                     cfg->clients[i].email);
                return -1;
            }
        }
    }
    return 0;
}

int vmess_inbound_cfg_parse(const char *json, vmess_inbound_cfg *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (root == NULL) {
        fail(err, errlen, "settings: %s (line %d)", jerr.text, jerr.line);
        return -1;
    }
    if (!json_is_object(root)) {
        fail(err, errlen, "settings: not an object");
        goto out;
    }
    if (parse_users(json_object_get(root, "clients"), &cfg->clients, &cfg->n_clients, 0,
                    "settings.clients", err, errlen) != 0 ||
        check_emails(cfg, err, errlen) != 0)
        goto out;
    json_t *def = json_object_get(root, "default");
    if (def != NULL && !json_is_null(def)) {
        unsigned long level = 0, alter = 0;
        if (!json_is_object(def)) {
            fail(err, errlen, "settings.default: not an object");
            goto out;
        }
        if (get_uint(def, "level", 255, &level, "settings.default", err, errlen) != 0 ||
            get_uint(def, "alterId", 65535, &alter, "settings.default", err, errlen) != 0)
            goto out;
        cfg->default_level = (uint8_t)level;
        cfg->default_alter_id = (uint16_t)alter;
    }
    json_t *detour = json_object_get(root, "detour");
    if (detour != NULL && !json_is_null(detour)) {
        const char *to = json_string_value(json_object_get(detour, "to"));
        if (!json_is_object(detour) || to == NULL || to[0] == '\0') {
            fail(err, errlen, "settings.detour.to: missing");
            goto out;
        }
        cfg->detour_to = vmess_strdup(to);
        if (cfg->detour_to == NULL) {
            fail(err, errlen, "out of memory");
            goto out;
        }
    }
    if (get_bool(root, "disableInsecureEncryption", &cfg->disable_insecure, err, errlen) != 0 ||
        get_bool(root, "aeadForced", &cfg->aead_forced, err, errlen) != 0)
        goto out;
    unsigned long port = 0;
    if (get_uint(root, "port", 65535, &port, "settings", err, errlen) != 0)
        goto out;
    cfg->port = (uint16_t)port;
    rc = 0;
out:
    if (rc != 0)
        vmess_inbound_cfg_free(cfg);
    json_decref(root);
    return rc;
}
