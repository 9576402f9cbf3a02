/* The server's VMess user table (vmess-protocol.md §4, §5): per user the ids and keys,
 * AEAD AuthID lookup across users, and the legacy time-hash table. Replay filters and taint
 * fuses are not here: the host keeps them (replay.h), so that they outlive this table.
 * The user list is immutable once built; the legacy table inside it refreshes itself
 * under a lock. Reload = build a new table and swap; refcounts keep the old one alive
 * for sessions that matched one of its users. */
#ifndef VMESS_USERS_H
#define VMESS_USERS_H

#include <nettle/aes.h>
#include <stddef.h>
#include <stdint.h>

#define VMESS_LEGACY_WINDOW 120 /* seconds either side of now kept in the legacy table */
#define VMESS_LEGACY_REFRESH 10 /* seconds between legacy table refreshes */

/* What the caller supplies per user (all borrowed; copied by vmess_users_new). */
typedef struct vmess_user_conf {
    uint8_t uuid[16]; /* primary id, e.g. from vmess_uuid_parse() */
    uint16_t alter_id;
    uint32_t level;
    const char *email; /* may be NULL */
} vmess_user_conf;

/* One user of a table; valid while the caller holds a reference to the table. */
typedef struct vmess_user {
    uint8_t uuid[16];             /* primary id */
    uint8_t cmd_key[16];          /* primary cmdKey: AEAD keys and legacy header key */
    struct aes128_ctx authid_dec; /* AuthID decryption schedule */
    uint32_t level;
    uint16_t alter_id;
    const char *email;        /* owned by the table; "" when none */
    uint8_t (*alter_ids)[16]; /* alter_id alternative ids, owned by the table */
} vmess_user;

typedef struct vmess_users vmess_users;

/* Flags of vmess_users_new(). */
#define VMESS_USERS_NO_LEGACY 0x1u /* AEAD only: build no legacy table */

/* Lookup results. */
enum vmess_auth_result {
    VMESS_AUTH_OK = 0,
    VMESS_AUTH_NOT_FOUND = -1, /* no user matches (try legacy next, for AEAD) */
};

/* Builds a table of n users with the legacy table generated for [now-120, now+120].
 * Refcount 1, owned by the caller. NULL when out of memory or when the ids (users plus
 * their alterIds) exceed 16 million. Costs 241 HMAC-MD5 per id (about 1 us each). */
vmess_users *vmess_users_new(const vmess_user_conf *conf, size_t n, int64_t now, unsigned flags);
/* Takes one more reference; returns u. */
vmess_users *vmess_users_ref(vmess_users *u);
/* Drops a reference; frees the table (wiping keys) with the last one. NULL is fine. */
void vmess_users_unref(vmess_users *u);
/* Number of users. */
size_t vmess_users_count(const vmess_users *u);
/* The i-th user (i < count), in configuration order. */
const vmess_user *vmess_users_get(const vmess_users *u, size_t i);

/* AEAD: the first user whose AuthID key turns authid into a valid P (CRC, |t-now| <= 120).
 * VMESS_AUTH_OK and *user (and *t if non-NULL) set, or NOT_FOUND. The caller checks the
 * replay filter next. */
int vmess_users_find_aead(const vmess_users *u, const uint8_t authid[16], int64_t now,
                          const vmess_user **user, int64_t *t);
/* Legacy: looks auth up in the time-hash table (refreshing it first when due) and requires
 * |t - now| <= 120. VMESS_AUTH_OK with *user and *t (the header IV time), or NOT_FOUND. */
int vmess_users_find_legacy(vmess_users *u, const uint8_t auth[16], int64_t now,
                            const vmess_user **user, int64_t *t);
/* Brings the legacy table to [now-120, now+120] (drops older seconds, adds missing ones).
 * Lookups do this themselves every 10 s; a timer may call it to keep lookups cheap. */
void vmess_users_refresh(vmess_users *u, int64_t now);
/* Number of (id, t) entries currently in the legacy table (for tests and stats). */
size_t vmess_users_legacy_entries(vmess_users *u);

#endif
