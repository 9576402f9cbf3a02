/* An inbound's user table: per user the method, the master key (never the password), the
 * level and email. Immutable once built; an update builds a new one and swaps it in, and a
 * session keeps a reference to the table it found its user in. The server finds a client's
 * user by trying each key on the first length chunk (or datagram), as Outline's server does. */
#ifndef SS_USERS_H
#define SS_USERS_H

#include "settings.h"
#include "stream.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ss_user {
    uint8_t method;
    uint8_t key[SS_KEY_MAX];
    uint32_t level;
    char *email; /* owned by the table, "" when none */
} ss_user;

typedef struct ss_users ss_users;

/* The table of cfg's users, refcount 1; NULL when out of memory. */
ss_users *ss_users_new(const ss_cfg *cfg);
ss_users *ss_users_ref(ss_users *u);
/* Drops a reference; the last one frees the table, wiping its keys. NULL is fine. */
void ss_users_unref(ss_users *u);
size_t ss_users_count(const ss_users *u);
/* Bytes a stream's start must hold before every user can be tried: the longest salt plus a
 * sealed length. */
size_t ss_users_stream_need(const ss_users *u);
/* The first user whose key opens the length chunk after its salt at p[0..len); r is then
 * set up past that length (nonce 1, length open). NULL when none does. */
const ss_user *ss_users_find_stream(const ss_users *u, const uint8_t *p, size_t len,
                                    ss_reader *r);
/* The first user whose key opens the datagram p[0..len) into plain (room for len bytes);
 * *n is the plaintext length. NULL when none does. */
const ss_user *ss_users_find_packet(const ss_users *u, const uint8_t *p, size_t len,
                                    uint8_t *plain, size_t *n);

#endif
