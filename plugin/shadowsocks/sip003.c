/* SIP003 options -> shadowsocks settings (see sip003.h). */
#include "sip003.h"

#include "method.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* The value of the option name, or NULL when it is not given. */
static const char *option(const evp_sip003_args *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->keys[i], name) == 0)
            return a->values[i];
    return NULL;
}

/* 0 when every option is one this side takes; -1 and err naming the first that is not. */
static int options_known(const evp_sip003_args *a, char *err, size_t errlen)
{
    for (int i = 0; i < a->n; i++) {
        const char *k = a->keys[i];
        if (strcmp(k, "password") == 0 || strcmp(k, "method") == 0)
            continue;
        if (strcmp(k, "email") == 0 && a->inbound)
            continue;
        snprintf(err, errlen, "unknown option \"%s\"%s", k,
                 strcmp(k, "email") == 0 ? " on the client side (email= is the server's)" : "");
        return -1;
    }
    return 0;
}

/* The settings object the options describe (new reference), or NULL and err. */
static json_t *settings_of(const evp_sip003_args *a, char *err, size_t errlen)
{
    const char *method = option(a, "method"), *password = option(a, "password");
    if (method == NULL)
        method = SS_SIP003_DEFAULT_METHOD;
    if (ss_method_parse(method) == SS_METHOD_NONE) {
        snprintf(err, errlen, "method=%s is not an AEAD method (aes-128-gcm, aes-256-gcm, "
                 "chacha20-ietf-poly1305)", method);
        return NULL;
    }
    const char *email = option(a, "email");
    if (a->inbound && a->users_from_file) {
        if (password != NULL || email != NULL) {
            snprintf(err, errlen, "%s= and clients= together: the users come from the "
                     "clients file (method= is their default method)",
                     password ? "password" : "email");
            return NULL;
        }
        return json_pack("{s:s, s:[]}", "method", method, "clients");
    }
    if (password == NULL || password[0] == '\0') {
        snprintf(err, errlen, "option password=PASSWORD is required%s",
                 a->inbound ? " (or clients=FILE)" : "");
        return NULL;
    }
    if (!a->inbound)
        return json_pack("{s:[{s:s, s:i, s:s, s:s}]}", "servers", "address", a->server_host,
                         "port", (int)a->server_port, "method", method, "password", password);
    json_t *s = json_pack("{s:s, s:s}", "method", method, "password", password);
    if (s && email)
        json_object_set_new(s, "email", json_string(email));
    return s;
}

char *ss_sip003_settings(const evp_host *host, const evp_sip003_args *a, char *err,
                         size_t errlen)
{
    if (options_known(a, err, errlen) != 0)
        return NULL;
    json_t *s = settings_of(a, err, errlen);
    if (s == NULL)
        return NULL;
    /* Sized first, then written straight into the host's block. */
    size_t n = json_dumpb(s, NULL, 0, JSON_COMPACT);
    char *text = n ? host->alloc(n + 1) : NULL;
    if (text && json_dumpb(s, text, n, JSON_COMPACT) != n) {
        host->free(text);
        text = NULL;
    }
    if (text)
        text[n] = '\0';
    json_decref(s);
    if (text == NULL)
        snprintf(err, errlen, "out of memory");
    return text;
}
