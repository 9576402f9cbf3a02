/* The shadowsocks inbound's users ops (ABI 1.2): the users are the "clients" of its
 * settings (a top-level password stays the settings' own), so each change edits a copy of
 * the settings and swaps it in with ss_inbound_update (a new table; running sessions keep
 * theirs). A user is named by its email: a password is a secret, never a key. */
#include "inbound.h"

#include "mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instance's settings as JSON (new reference), its clients array made if missing. */
static json_t *settings_of(void *inst, char *err, size_t errlen)
{
    char *text = ss_inbound_settings(inst);
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    if (text != NULL)
        ss_free_wiped(text, strlen(text));
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
    int rc = ss_inbound_update(inst, &args, err, errlen);
    free(text);
    return rc;
}

/* Index of the client whose email is email, or -1. */
static long find_client(json_t *clients, const char *email)
{
    size_t i;
    json_t *c;
    json_array_foreach (clients, i, c) {
        const char *e = json_string_value(json_object_get(c, "email"));
        if (e != NULL && email != NULL && strcmp(e, email) == 0)
            return (long)i;
    }
    return -1;
}

/* A client as list-users shows it: no password. */
static json_t *shown(json_t *c)
{
    json_t *u = json_object();
    const char *keys[] = {"email", "method", "level"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(c, keys[i]);
        if (v != NULL)
            json_object_set(u, keys[i], v);
    }
    return u;
}

char *ss_inbound_users_list(void *inst, unsigned flags)
{
    char err[64];
    json_t *s = settings_of(inst, err, sizeof err);
    if (s == NULL)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(s, "clients"), i, c) {
        json_array_append_new(out, flags & EVP_USERS_SECRETS ? json_deep_copy(c) : shown(c));
    }
    json_decref(s);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (text == NULL)
        return NULL;
    /* The host frees what it is given with libc's free: host->alloc. */
    const evp_host *h = ss_inbound_host(inst);
    size_t len = strlen(text) + 1;
    char *copy = h->alloc(len);
    if (copy)
        memcpy(copy, text, len);
    free(text);
    return copy;
}

int ss_inbound_users_add(void *inst, const char *user_json, char *err, size_t errlen)
{
    json_t *user = json_loads(user_json, 0, NULL);
    const char *email = json_string_value(json_object_get(user, "email"));
    if (!json_is_object(user) || email == NULL || email[0] == '\0') {
        json_decref(user);
        snprintf(err, errlen, "a user is an object with a password and an email");
        return -1;
    }
    json_t *s = settings_of(inst, err, errlen);
    if (s == NULL || find_client(json_object_get(s, "clients"), email) >= 0) {
        if (s)
            snprintf(err, errlen, "a user with that email is already there");
        json_decref(user);
        json_decref(s);
        return -1;
    }
    json_array_append_new(json_object_get(s, "clients"), user);
    return apply(inst, s, err, errlen);
}

int ss_inbound_users_remove(void *inst, const char *key, char *err, size_t errlen)
{
    json_t *s = settings_of(inst, err, errlen);
    if (s == NULL)
        return -1;
    json_t *clients = json_object_get(s, "clients");
    long i = find_client(clients, key);
    if (i < 0) {
        snprintf(err, errlen, "no user \"%.60s\" (give its email)", key);
        json_decref(s);
        return -1;
    }
    json_array_remove(clients, (size_t)i);
    return apply(inst, s, err, errlen);
}

int ss_inbound_users_replace(void *inst, const char *users_json, char *err, size_t errlen)
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
