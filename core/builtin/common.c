/* Helpers shared by the built-in protocols: passthrough, settings JSON, host text. */
#include "common.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int evp_builtin_put(const evp_host *host, evp_io *io, evp_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = host->buf_reserve(b, n);
    if (dst == NULL) {
        snprintf(io->reason, sizeof io->reason, "out of memory");
        return -1;
    }
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int evp_builtin_pass(const evp_host *host, evp_io *io)
{
    if (evp_builtin_put(host, io, io->out, io->in, io->in_len) != 0)
        return EVP_ERR;
    io->consumed = io->in_len;
    return EVP_OK;
}

int evp_builtin_pass_decode(const evp_host *host, evp_io *io)
{
    int r = evp_builtin_pass(host, io);
    return r == EVP_OK && io->in_eof ? EVP_EOF : r;
}

json_t *evp_builtin_settings(const char *text, char *err, size_t errlen)
{
    if (text == NULL || text[0] == '\0')
        return json_object();
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        snprintf(err, errlen, "settings: bad JSON at line %d: %s", je.line, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        snprintf(err, errlen, "settings: not a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

int evp_builtin_get_str(const json_t *o, const char *key, const char *def, const char **out,
                        char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "settings.%s: not a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int evp_builtin_get_bool(const json_t *o, const char *key, int def, int *out, char *err,
                         size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "settings.%s: not a boolean", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int evp_builtin_get_int(const json_t *o, const char *key, long long min, long long max,
                        long long def, long long *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "settings.%s: not an integer", key);
        return -1;
    }
    long long n = json_integer_value(v);
    if (n < min || n > max) {
        snprintf(err, errlen, "settings.%s: %lld is not in %lld..%lld", key, n, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int evp_builtin_host_addr(evp_addr *a, const char *host)
{
    size_t n = strlen(host);
    char v6[INET6_ADDRSTRLEN + 1];
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof v6)
            return -1;
        memcpy(v6, host + 1, n - 2);
        v6[n - 2] = '\0';
        if (inet_pton(AF_INET6, v6, a->bytes) != 1)
            return -1;
        a->type = EVP_ADDR_IPV6;
        a->len = 16;
        return 0;
    }
    if (inet_pton(AF_INET, host, a->bytes) == 1) {
        a->type = EVP_ADDR_IPV4;
        a->len = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, a->bytes) == 1) {
        a->type = EVP_ADDR_IPV6;
        a->len = 16;
        return 0;
    }
    if (n == 0 || n > 255)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == 0x7f || c == '/' || c == ':' || c == '[' || c == ']')
            return -1;
    }
    a->type = EVP_ADDR_DOMAIN;
    a->len = (uint8_t)n;
    memcpy(a->bytes, host, n);
    a->bytes[n] = '\0';
    return 0;
}

void *evp_builtin_instance_new(const evp_host *host, const evp_instance_args *args, size_t size,
                               int (*parse)(void *inst, const json_t *settings, char *err,
                                            size_t errlen),
                               void (*free_fn)(void *inst), char *err, size_t errlen)
{
    json_t *o = evp_builtin_settings(args->settings_json, err, errlen);
    if (o == NULL)
        return NULL;
    const evp_host **in = host->calloc(1, size);
    if (in == NULL) {
        snprintf(err, errlen, "out of memory");
        json_decref(o);
        return NULL;
    }
    *in = host;
    if (parse(in, o, err, errlen) != 0) {
        free_fn(in);
        in = NULL;
    }
    json_decref(o);
    return in;
}

/* The pointers are copied as bytes: each built-in's session and instance types differ, only
 * their first members are shared. */
void *evp_builtin_session_new(void *inst, size_t size)
{
    const evp_host *host;
    memcpy(&host, inst, sizeof host);
    void *sess = host->calloc(1, size);
    if (sess != NULL)
        memcpy(sess, &inst, sizeof inst);
    return sess;
}

void evp_builtin_session_free(void *sess)
{
    if (sess == NULL)
        return;
    void *inst;
    const evp_host *host;
    memcpy(&inst, sess, sizeof inst);
    memcpy(&host, inst, sizeof host);
    host->free(sess);
}

void evp_builtin_free_wiped(const evp_host *host, void *p, size_t n)
{
    if (p == NULL)
        return;
    sodium_memzero(p, n);
    host->free(p);
}
