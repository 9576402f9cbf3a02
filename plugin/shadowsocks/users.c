/* The user table (see users.h). */
#include "users.h"

#include "mem.h"
#include "packet.h"

#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

struct ss_users {
    atomic_size_t refs;
    size_t n;
    size_t max_salt;
    ss_user users[];
};

ss_users *ss_users_new(const ss_cfg *cfg)
{
    ss_users *u = ss_calloc(1, sizeof *u + cfg->n * sizeof(ss_user));
    if (u == NULL)
        return NULL;
    atomic_init(&u->refs, 1);
    for (size_t i = 0; i < cfg->n; i++) {
        const ss_user_cfg *c = &cfg->users[i];
        ss_user *user = &u->users[i];
        user->method = c->method;
        user->level = c->level;
        ss_password_key(c->method, c->password, strlen(c->password), user->key);
        if ((user->email = ss_strdup(c->email)) == NULL) {
            u->n = i;
            ss_users_unref(u);
            return NULL;
        }
        if (ss_key_size(c->method) > u->max_salt)
            u->max_salt = ss_key_size(c->method);
    }
    u->n = cfg->n;
    return u;
}

ss_users *ss_users_ref(ss_users *u)
{
    atomic_fetch_add(&u->refs, 1);
    return u;
}

void ss_users_unref(ss_users *u)
{
    if (u == NULL || atomic_fetch_sub(&u->refs, 1) != 1)
        return;
    for (size_t i = 0; i < u->n; i++)
        ss_free(u->users[i].email);
    ss_free_wiped(u, sizeof *u + u->n * sizeof(ss_user));
}

size_t ss_users_count(const ss_users *u)
{
    return u->n;
}

size_t ss_users_stream_need(const ss_users *u)
{
    return u->max_salt + SS_LEN_CHUNK;
}

const ss_user *ss_users_find_stream(const ss_users *u, const uint8_t *p, size_t len,
                                    ss_reader *r)
{
    for (size_t i = 0; i < u->n; i++) {
        const ss_user *user = &u->users[i];
        size_t salt = ss_key_size(user->method);
        if (len < salt + SS_LEN_CHUNK)
            continue;
        memset(r, 0, sizeof *r);
        ss_aead_init(&r->aead, user->method, user->key, p);
        if (ss_open_length(&r->aead, p + salt, &r->payload_len) == 0) {
            r->have_len = 1;
            return user;
        }
        ss_aead_wipe(&r->aead);
    }
    return NULL;
}

const ss_user *ss_users_find_packet(const ss_users *u, const uint8_t *p, size_t len,
                                    uint8_t *plain, size_t *n)
{
    for (size_t i = 0; i < u->n; i++) {
        long got = ss_packet_open(u->users[i].method, u->users[i].key, p, len, plain);
        if (got >= 0) {
            *n = (size_t)got;
            return &u->users[i];
        }
    }
    return NULL;
}
