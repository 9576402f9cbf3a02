/* The core's side of the users ops (ABI 1.2): size checks, schema checks, JSON text in and
 * out. Which fields a user has is the plugin's business and its schema's. */
#include "users.h"

#include "jsonschema.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USER_ERRORS 20

/* True when ops is large enough to hold field and field is set. */
#define HAS_OP(ops, field) \
    ((ops) != NULL && (ops)->size >= offsetof(evp_inbound_ops, field) + sizeof (ops)->field && \
     (ops)->field != NULL)

int evp_users_supported(const evp_module *mod)
{
    const evp_inbound_ops *ops = evp_module_inops(mod);
    return HAS_OP(ops, users_list) && HAS_OP(ops, users_add) && HAS_OP(ops, users_remove) &&
           HAS_OP(ops, users_replace);
}

static const char *user_schema(const evp_module *mod)
{
    const evp_inbound_ops *ops = evp_module_inops(mod);
    return HAS_OP(ops, user_schema) ? ops->user_schema : NULL;
}

/* The plugin's user schema as JSON (new reference); NULL and err when it has none or the
 * file will not load. */
static json_t *schema_json(const char *schema_dir, const evp_module *mod, char *err,
                           size_t errlen)
{
    const char *name = user_schema(mod);
    if (name == NULL) {
        snprintf(err, errlen, "%s names no user schema", mod->desc->name);
        return NULL;
    }
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof path, "%s/%s.schema.json", schema_dir, name);
    json_t *s = json_load_file(path, 0, &je);
    if (s == NULL)
        snprintf(err, errlen, "%s: %s", path, je.text);
    return s;
}

int evp_users_validate(const char *schema_dir, const evp_module *mod, json_t *users,
                       int is_list, const char *where, evp_errlist *errs)
{
    if (is_list && !json_is_array(users)) {
        evp_errlist_add(errs, "%s: expected an array of users", where);
        return -1;
    }
    if (user_schema(mod) == NULL)
        return 0; /* a plugin without a user schema checks users itself */
    char err[512];
    json_t *doc = schema_json(schema_dir, mod, err, sizeof err);
    evp_schema *s = doc ? evp_schema_from_json(doc) : NULL;
    json_decref(doc);
    if (s == NULL) {
        evp_errlist_add(errs, "%s: cannot load the user schema: %s", where,
                        doc ? "not a schema" : err);
        return -1;
    }
    int bad = 0;
    size_t n = is_list ? json_array_size(users) : 1;
    for (size_t i = 0; i < n; i++) {
        char prefix[256];
        if (is_list)
            snprintf(prefix, sizeof prefix, "%s[%zu]", where, i);
        else
            snprintf(prefix, sizeof prefix, "%s", where);
        char *lines = NULL;
        json_t *u = is_list ? json_array_get(users, i) : users;
        int k = evp_schema_validate(s, u, prefix, MAX_USER_ERRORS, &lines);
        if (k != 0) {
            if (k > 0)
                evp_errlist_add_lines(errs, lines, k);
            else
                evp_errlist_add(errs, "%s: cannot validate", prefix);
            bad = 1;
        }
        free(lines);
    }
    evp_schema_free(s);
    return bad ? -1 : 0;
}

int evp_users_label_key(const char *schema_dir, const evp_module *mod, char *key, size_t n)
{
    char err[512];
    json_t *schema = schema_json(schema_dir, mod, err, sizeof err);
    const char *label = json_string_value(json_object_get(schema, "x-label"));
    int rc = label && strlen(label) < n ? 0 : -1;
    if (rc == 0)
        memcpy(key, label, strlen(label) + 1);
    json_decref(schema);
    return rc;
}

/* One positional argument as the schema types it: an integer when it must be one and reads
 * as one, else the string (which the schema check then refuses, naming the field). */
static json_t *typed_arg(json_t *prop, const char *text)
{
    const char *type = json_string_value(json_object_get(prop, "type"));
    char *end;
    long long v = strtoll(text, &end, 10);
    if (type && strcmp(type, "integer") == 0 && end != text && *end == '\0')
        return json_integer(v);
    return json_string(text);
}

json_t *evp_users_from_args(const char *schema_dir, const evp_module *mod, json_t *args,
                            char *err, size_t errlen)
{
    json_t *schema = schema_json(schema_dir, mod, err, errlen);
    if (schema == NULL)
        return NULL;
    json_t *names = json_object_get(schema, "x-ctl-args");
    json_t *props = json_object_get(schema, "properties");
    if (json_array_size(args) == 0 || json_array_size(args) > json_array_size(names)) {
        snprintf(err, errlen, "%s users take 1 to %zu arguments (%s) or a JSON object",
                 mod->desc->name, json_array_size(names), user_schema(mod));
        json_decref(schema);
        return NULL;
    }
    json_t *user = json_object();
    size_t i;
    json_t *a;
    json_array_foreach (args, i, a) {
        const char *name = json_string_value(json_array_get(names, i));
        const char *text = json_string_value(a);
        if (name && text)
            json_object_set_new(user, name, typed_arg(json_object_get(props, name), text));
    }
    json_decref(schema);
    return user;
}

json_t *evp_users_list(evp_instance *in, unsigned flags)
{
    if (!evp_users_supported(in->mod))
        return NULL;
    char *text = evp_inops(in)->users_list(in->inst, flags);
    json_t *users = text ? json_loads(text, 0, NULL) : NULL;
    free(text); /* allocated with the host's alloc, which is malloc */
    if (!json_is_array(users)) {
        json_decref(users);
        return NULL;
    }
    return users;
}

/* Calls op with j as compact JSON text. */
static int with_text(json_t *j, char *err, size_t errlen,
                     int (*op)(void *, const char *, char *, size_t), void *inst)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    err[0] = '\0';
    int rc = op(inst, text, err, errlen);
    free(text);
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "refused by the plugin");
    return rc;
}

static int unsupported(evp_instance *in, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s inbounds have no users to manage", in->mod->desc->name);
    return -1;
}

int evp_users_add(evp_instance *in, json_t *user, char *err, size_t errlen)
{
    if (!evp_users_supported(in->mod))
        return unsupported(in, err, errlen);
    return with_text(user, err, errlen, evp_inops(in)->users_add, in->inst);
}

int evp_users_remove(evp_instance *in, const char *key, char *err, size_t errlen)
{
    if (!evp_users_supported(in->mod))
        return unsupported(in, err, errlen);
    err[0] = '\0';
    int rc = evp_inops(in)->users_remove(in->inst, key, err, errlen);
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "no user \"%s\"", key);
    return rc;
}

int evp_users_replace(evp_instance *in, json_t *users, char *err, size_t errlen)
{
    if (!evp_users_supported(in->mod))
        return unsupported(in, err, errlen);
    return with_text(users, err, errlen, evp_inops(in)->users_replace, in->inst);
}
