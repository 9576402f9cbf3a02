/* SIP003 options -> vmess settings (see sip003.h and shared/sip003.md). */
#include "sip003.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *opt(const evp_sip003_args *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->keys[i], name) == 0)
            return a->values[i];
    return NULL;
}

/* The one user the options describe. */
static json_t *user_of(const evp_sip003_args *a)
{
    const char *alter = opt(a, "alterId");
    json_t *u = json_pack("{s:s, s:i}", "id", opt(a, "id"), "alterId", alter ? atoi(alter) : 0);
    const char *email = opt(a, "email");
    if (a->inbound && email)
        json_object_set_new(u, "email", json_string(email));
    const char *sec = opt(a, "security");
    if (!a->inbound)
        json_object_set_new(u, "security", json_string(sec ? sec : "auto"));
    return u;
}

char *vmess_sip003_settings(const evp_host *host, const evp_sip003_args *a, char *err,
                            size_t errlen)
{
    static const char *const known[] = {"id", "alterId", "security", "email"};
    for (int i = 0; i < a->n; i++) {
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            ok |= strcmp(a->keys[i], known[j]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown option \"%s\"", a->keys[i]);
            return NULL;
        }
    }
    if (opt(a, "id") == NULL && !(a->inbound && a->users_from_file)) {
        snprintf(err, errlen, "option id=UUID is required%s",
                 a->inbound ? " (or clients=FILE)" : "");
        return NULL;
    }
    json_t *s;
    if (a->inbound)
        s = a->users_from_file ? json_object() : json_pack("{s:[o]}", "clients", user_of(a));
    else
        s = json_pack("{s:[{s:s, s:i, s:[o]}]}", "vnext", "address", a->server_host, "port",
                      (int)a->server_port, "users", user_of(a));
    char *text = s ? json_dumps(s, JSON_COMPACT) : NULL;
    json_decref(s);
    char *out = text ? host->alloc(strlen(text) + 1) : NULL;
    if (out)
        strcpy(out, text);
    free(text);
    if (out == NULL)
        snprintf(err, errlen, "out of memory");
    return out;
}
