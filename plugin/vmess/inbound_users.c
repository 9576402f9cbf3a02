/* The vmess inbound's users ops (ABI 1.2): the users are the "clients" of its settings, so
 * each change edits a copy of the settings and swaps it in with vmess_inbound_update (a new
 * user table; running sessions keep theirs). */
#include "inbound_users.h"

#include "inbound.h"
#include "mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The instance's settings as JSON (new reference); its clients array made if missing. */
static json_t *settings_of(void *inst, char *err, size_t errlen)
{
    char *text = vmess_inbound_settings(inst);
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    vmess_free(text);
    if (!json_is_object(s)) {
        json_decref(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!json_is_array(json_object_get(s, "clients")))
        json_object_set_new(s, "clients", json_array());
    return s;
}

/* Swaps in settings (consumed). */
static int apply(void *inst, json_t *settings, char *err, size_t errlen)
{
    char *text = json_dumps(settings, JSON_COMPACT);
    json_decref(settings);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    evp_instance_args args = {.size = sizeof args, .tag = "", .settings_json = text};
    int rc = vmess_inbound_update(inst, &args, err, errlen);
    free(text);
    return rc;
}

static int same(json_t *a, const char *b)
{
    const char *s = json_string_value(a);
    return s != NULL && b != NULL && strcasecmp(s, b) == 0;
}

/* Index of the client whose id or email is key (either may be NULL), or -1. */
static long find_client(json_t *clients, const char *id, const char *email)
{
    size_t i;
    json_t *c;
    json_array_foreach (clients, i, c) {
        if (same(json_object_get(c, "id"), id) || same(json_object_get(c, "email"), email))
            return (long)i;
    }
    return -1;
}

/* A client as list-users shows it: never a full UUID (its first group and the email
 * identify a user). */
static json_t *shown(json_t *c)
{
    char shortid[16] = "";
    const char *id = json_string_value(json_object_get(c, "id"));
    if (id)
        snprintf(shortid, sizeof shortid, "%.8s", id);
    json_t *u = json_pack("{s:s}", "id", shortid);
    json_t *email = json_object_get(c, "email");
    if (email)
        json_object_set(u, "email", email);
    json_t *alter = json_object_get(c, "alterId");
    json_object_set_new(u, "alterId", alter ? json_incref(alter) : json_integer(0));
    json_t *level = json_object_get(c, "level");
    if (level)
        json_object_set(u, "level", level);
    return u;
}

char *vmess_inbound_users_list(void *inst, unsigned flags)
{
    char err[64];
    json_t *s = settings_of(inst, err, sizeof err);
    if (s == NULL)
        return NULL;
    json_t *clients = json_object_get(s, "clients");
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach (clients, i, c) {
        json_array_append_new(out, flags & EVP_USERS_SECRETS ? json_deep_copy(c) : shown(c));
    }
    json_decref(s);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (text == NULL)
        return NULL;
    /* The host frees what it is given with its own allocator. */
    const evp_host *h = vmess_inbound_host(inst);
    size_t len = strlen(text) + 1;
    char *copy = h->alloc(len);
    if (copy)
        memcpy(copy, text, len);
    free(text);
    return copy;
}

int vmess_inbound_users_add(void *inst, const char *user_json, char *err, size_t errlen)
{
    json_t *user = json_loads(user_json, 0, NULL);
    if (!json_is_object(user) || !json_is_string(json_object_get(user, "id"))) {
        json_decref(user);
        snprintf(err, errlen, "a user is an object with an id");
        return -1;
    }
    json_t *s = settings_of(inst, err, errlen);
    json_t *clients = json_object_get(s, "clients");
    if (s == NULL || find_client(clients, json_string_value(json_object_get(user, "id")),
                                 json_string_value(json_object_get(user, "email"))) >= 0) {
        if (s)
            snprintf(err, errlen, "that user (id or email) is already there");
        json_decref(user);
        json_decref(s);
        return -1;
    }
    json_array_append_new(clients, user);
    return apply(inst, s, err, errlen);
}

int vmess_inbound_users_remove(void *inst, const char *key, char *err, size_t errlen)
{
    json_t *s = settings_of(inst, err, errlen);
    if (s == NULL)
        return -1;
    json_t *clients = json_object_get(s, "clients");
    long i = find_client(clients, key, key);
    if (i < 0) {
        snprintf(err, errlen, "no user \"%s\" (give its email or id)", key);
        json_decref(s);
        return -1;
    }
    json_array_remove(clients, (size_t)i);
    return apply(inst, s, err, errlen);
}

int vmess_inbound_users_replace(void *inst, const char *users_json, char *err, size_t errlen)
{
    json_t *users = json_loads(users_json, 0, NULL);
    if (!json_is_array(users)) {
        json_decref(users);
        snprintf(err, errlen, "users must be a JSON array");
        return -1;
    }
    json_t *s = settings_of(inst, err, errlen);
    if (s == NULL) {
        json_decref(users);
        return -1;
    }
    json_object_set_new(s, "clients", users);
    return apply(inst, s, err, errlen);
}
