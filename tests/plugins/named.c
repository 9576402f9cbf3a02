/* A test plugin with users of its own shape, {"name", "token"}, unknown to the core: an
 * inbound whose client sends "TOKEN\n" then is relayed to a fixed target. Proves the core
 * manages users only through the ABI 1.2 users ops. Users live in an immutable table that a
 * change replaces; a session keeps the table it authenticated in. */
#include "evproxy/plugin.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct table {
    int refs; /* under the instance lock */
    json_t *users; /* array of {"name", "token"}, never changed once made */
} table;

typedef struct inst {
    const evp_host *host;
    pthread_mutex_t lock;
    table *t;
} inst;

typedef struct sess {
    inst *in;
    table *t; /* the table the user was found in, or NULL */
    const char *user;
} sess;

static table *table_new(json_t *users)
{
    table *t = malloc(sizeof *t);
    t->refs = 1;
    t->users = users;
    return t;
}

static void table_unref(inst *in, table *t)
{
    pthread_mutex_lock(&in->lock);
    int last = t && --t->refs == 0;
    pthread_mutex_unlock(&in->lock);
    if (last) {
        json_decref(t->users);
        free(t);
    }
}

/* Swaps in users (consumed); the old table goes with its last session. */
static void swap(inst *in, json_t *users)
{
    table *t = table_new(users), *old;
    pthread_mutex_lock(&in->lock);
    old = in->t;
    in->t = t;
    pthread_mutex_unlock(&in->lock);
    table_unref(in, old);
}

/* A copy of the current users (new reference). */
static json_t *users_copy(inst *in)
{
    pthread_mutex_lock(&in->lock);
    json_t *u = json_deep_copy(in->t->users);
    pthread_mutex_unlock(&in->lock);
    return u;
}

static long find(json_t *users, const char *key)
{
    size_t i;
    json_t *u;
    json_array_foreach (users, i, u) {
        const char *n = json_string_value(json_object_get(u, "name"));
        const char *k = json_string_value(json_object_get(u, "token"));
        if ((n && strcmp(n, key) == 0) || (k && strcmp(k, key) == 0))
            return (long)i;
    }
    return -1;
}

static void *inst_new(const evp_host *h, const evp_instance_args *a, char *err, size_t n)
{
    inst *in = calloc(1, sizeof *in);
    in->host = h;
    pthread_mutex_init(&in->lock, NULL);
    in->t = table_new(json_array());
    return in;
}

static void inst_free(void *p)
{
    inst *in = p;
    table_unref(in, in->t);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

static void *sess_new(void *p)
{
    sess *s = calloc(1, sizeof *s);
    s->in = p;
    return s;
}

static void sess_free(void *p)
{
    sess *s = p;
    table_unref(s->in, s->t);
    free(s);
}

static int decode(void *p, evp_io *io)
{
    sess *s = p;
    const uint8_t *nl = io->in_len ? memchr(io->in, '\n', io->in_len) : NULL;
    if (s->user || nl == NULL) {
        io->consumed = s->user ? io->in_len : 0;
        return EVP_OK;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(nl - io->in), (const char *)io->in);
    pthread_mutex_lock(&s->in->lock);
    s->t = s->in->t;
    s->t->refs++;
    pthread_mutex_unlock(&s->in->lock);
    long i = find(s->t->users, key);
    if (i < 0) {
        snprintf(io->reason, sizeof io->reason, "no such token");
        return EVP_ERR;
    }
    s->user = json_string_value(json_object_get(json_array_get(s->t->users, i), "name"));
    io->consumed = (size_t)(nl - io->in) + 1;
    io->target = (evp_addr){.type = EVP_ADDR_IPV4, .len = 4, .port = 9, .bytes = {127, 0, 0, 1}};
    io->network = EVP_NET_TCP;
    return EVP_TARGET;
}

static const char *sess_user(void *p)
{
    return ((sess *)p)->user;
}

/* Text for the host, in the host's allocator. */
static char *give(inst *in, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *out = text ? in->host->alloc(strlen(text) + 1) : NULL;
    if (out)
        strcpy(out, text);
    free(text);
    return out;
}

static char *users_list(void *p, unsigned flags)
{
    json_t *users = users_copy(p);
    size_t i;
    json_t *u;
    json_array_foreach (users, i, u) {
        const char *tok = json_string_value(json_object_get(u, "token"));
        char shortened[8];
        snprintf(shortened, sizeof shortened, "%.2s..", tok ? tok : "");
        if (!(flags & EVP_USERS_SECRETS))
            json_object_set_new(u, "token", json_string(shortened));
    }
    return give(p, users);
}

static int users_add(void *p, const char *text, char *err, size_t n)
{
    json_t *u = json_loads(text, 0, NULL);
    json_t *users = users_copy(p);
    const char *name = json_string_value(json_object_get(u, "name"));
    if (name == NULL || find(users, name) >= 0) {
        snprintf(err, n, "named: \"%s\" is already there", name ? name : "?");
        json_decref(u);
        json_decref(users);
        return -1;
    }
    json_array_append_new(users, u);
    swap(p, users);
    return 0;
}

static int users_remove(void *p, const char *key, char *err, size_t n)
{
    json_t *users = users_copy(p);
    long i = find(users, key);
    if (i < 0) {
        snprintf(err, n, "named: no user \"%s\"", key);
        json_decref(users);
        return -1;
    }
    json_array_remove(users, (size_t)i);
    swap(p, users);
    return 0;
}

static int users_replace(void *p, const char *text, char *err, size_t n)
{
    json_t *users = json_loads(text, 0, NULL);
    if (!json_is_array(users)) {
        json_decref(users);
        snprintf(err, n, "named: not an array");
        return -1;
    }
    swap(p, users);
    return 0;
}

static const evp_inbound_ops in_ops = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = inst_new,
    .instance_free = inst_free,
    .session_new = sess_new,
    .session_free = sess_free,
    .decode = decode,
    .encode = decode,
    .session_user = sess_user,
    .user_schema = "named-user",
    .users_list = users_list,
    .users_add = users_add,
    .users_remove = users_remove,
    .users_replace = users_replace,
};

static const evp_plugin desc = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "named",
    .version = "1.0.0",
    .inbound = &in_ops,
};

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
