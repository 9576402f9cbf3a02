/* The server's user table (vmess-protocol.md §4, §5).
 *
 * Legacy lookups use a time-hash table: for every id (primary and alternative) and every
 * second t of [now-120, now+120], HMAC-MD5(id, BE64 t). Seconds live in a ring of 256
 * slots (slot = t mod 256), each holding one entry per id, so entry e belongs to second
 * slot e / m and id e % m and carries only an 8-byte tag and a chain link; a hit is confirmed by recomputing the full HMAC. A refresh drops the seconds that left
 * the window and fills the new ones with one HMAC key set-up per id, so its cost is
 * (new seconds) x (ids) HMACs, never a rebuild. */
#include "users.h"

#include "header_aead.h"
#include "header_legacy.h"
#include "mem.h"
#include "user_id.h"

#include <nettle/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RING 256 /* > 2 * VMESS_LEGACY_WINDOW + 1 */
#define NIL UINT32_MAX

typedef struct slot {
    int64_t t;
    int used;
} slot;

struct vmess_users {
    atomic_size_t refs;
    size_t n;
    vmess_user *users;
    size_t m; /* ids: each user's primary then its alternatives */
    uint8_t (*ids)[16];
    uint32_t *id_user; /* id index -> user index */

    /* Legacy time-hash table; NULL tags when built with VMESS_USERS_NO_LEGACY. */
    pthread_mutex_t lock;
    int64_t refreshed;
    slot slots[RING];
    uint64_t *tags; /* RING * m: the auth's first 8 bytes */
    uint32_t *next; /* RING * m: bucket chain */
    uint32_t *buckets;
    size_t bucket_mask;
    size_t live; /* entries in the table */
};

static int64_t ring_index(int64_t t)
{
    return ((t % RING) + RING) % RING;
}

static uint64_t tag_of(const uint8_t auth[16])
{
    uint64_t tag;
    memcpy(&tag, auth, sizeof tag);
    return tag;
}

static void unlink_entry(vmess_users *u, uint32_t e)
{
    uint32_t *link = &u->buckets[u->tags[e] & u->bucket_mask];
    while (*link != e)
        link = &u->next[*link];
    *link = u->next[e];
}

static void clear_slot(vmess_users *u, size_t s)
{
    for (size_t i = 0; i < u->m; i++)
        unlink_entry(u, (uint32_t)(s * u->m + i));
    u->slots[s].used = 0;
    u->live -= u->m;
}

/* Fills the seconds in ts[0..k) (whose slots are free) for every id. */
static void fill_seconds(vmess_users *u, const int64_t *ts, size_t k)
{
    uint8_t be[RING][8];
    for (size_t j = 0; j < k; j++)
        for (int b = 0; b < 8; b++)
            be[j][b] = (uint8_t)((uint64_t)ts[j] >> (56 - 8 * b));
    for (size_t i = 0; i < u->m; i++) {
        struct hmac_md5_ctx key, ctx;
        uint8_t auth[16];
        hmac_md5_set_key(&key, 16, u->ids[i]);
        for (size_t j = 0; j < k; j++) {
            size_t s = (size_t)ring_index(ts[j]);
            uint32_t e = (uint32_t)(s * u->m + i);
            ctx = key;
            hmac_md5_update(&ctx, 8, be[j]);
            hmac_md5_digest(&ctx, 16, auth);
            u->tags[e] = tag_of(auth);
            uint32_t *head = &u->buckets[u->tags[e] & u->bucket_mask];
            u->next[e] = *head;
            *head = e;
        }
        sodium_memzero(&key, sizeof key);
        sodium_memzero(&ctx, sizeof ctx);
    }
    for (size_t j = 0; j < k; j++) {
        slot *s = &u->slots[ring_index(ts[j])];
        s->t = ts[j];
        s->used = 1;
        u->live += u->m;
    }
}

/* Caller holds the lock. */
static void refresh_locked(vmess_users *u, int64_t now)
{
    int64_t lo = now - VMESS_LEGACY_WINDOW, hi = now + VMESS_LEGACY_WINDOW;
    int64_t todo[RING];
    size_t k = 0;
    for (size_t s = 0; s < RING; s++)
        if (u->slots[s].used && (u->slots[s].t < lo || u->slots[s].t > hi))
            clear_slot(u, s);
    for (int64_t t = lo; t <= hi; t++)
        if (!u->slots[ring_index(t)].used)
            todo[k++] = t;
    fill_seconds(u, todo, k);
    u->refreshed = now;
}

static int legacy_init(vmess_users *u, int64_t now)
{
    size_t total = RING * u->m, nb = 1;
    if (u->m == 0 || total / RING != u->m || total >= NIL)
        return u->m == 0 ? 0 : -1;
    while (nb < total / 2)
        nb <<= 1;
    u->tags = vmess_alloc(total * sizeof *u->tags);
    u->next = vmess_alloc(total * sizeof *u->next);
    u->buckets = vmess_alloc(nb * sizeof *u->buckets);
    if (!u->tags || !u->next || !u->buckets)
        return -1;
    memset(u->buckets, 0xff, nb * sizeof *u->buckets); /* all NIL */
    u->bucket_mask = nb - 1;
    refresh_locked(u, now);
    return 0;
}

static void users_free(vmess_users *u)
{
    for (size_t i = 0; i < u->n; i++) {
        vmess_free((char *)u->users[i].email);
        sodium_memzero(&u->users[i], sizeof u->users[i]);
    }
    vmess_free(u->users);
    if (u->ids)
        sodium_memzero(u->ids, u->m * sizeof *u->ids);
    vmess_free(u->ids);
    vmess_free(u->id_user);
    if (u->tags) /* tags are derived from the ids: wipe them too */
        sodium_memzero(u->tags, RING * u->m * sizeof *u->tags);
    vmess_free(u->tags);
    vmess_free(u->next);
    vmess_free(u->buckets);
    pthread_mutex_destroy(&u->lock);
    vmess_free(u);
}

vmess_users *vmess_users_new(const vmess_user_conf *conf, size_t n, int64_t now, unsigned flags)
{
    vmess_users *u = vmess_calloc(1, sizeof *u);
    if (!u)
        return NULL;
    if (pthread_mutex_init(&u->lock, NULL) != 0) {
        vmess_free(u);
        return NULL;
    }
    atomic_init(&u->refs, 1);
    u->n = n;
    for (size_t i = 0; i < n; i++)
        u->m += 1 + (size_t)conf[i].alter_id;
    u->users = vmess_calloc(n ? n : 1, sizeof *u->users);
    u->ids = vmess_calloc(u->m ? u->m : 1, sizeof *u->ids);
    u->id_user = vmess_calloc(u->m ? u->m : 1, sizeof *u->id_user);
    if (!u->users || !u->ids || !u->id_user)
        goto fail;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        vmess_user *x = &u->users[i];
        memcpy(x->uuid, conf[i].uuid, 16);
        vmess_cmd_key(x->cmd_key, x->uuid);
        vmess_authid_dec_init(&x->authid_dec, x->cmd_key);
        x->level = conf[i].level;
        x->alter_id = conf[i].alter_id;
        x->email = vmess_strdup(conf[i].email ? conf[i].email : "");
        if (!x->email)
            goto fail;
        memcpy(u->ids[off], x->uuid, 16);
        vmess_alter_ids(u->ids + off + 1, x->uuid, x->alter_id);
        x->alter_ids = u->ids + off + 1;
        for (size_t j = 0; j <= x->alter_id; j++)
            u->id_user[off + j] = (uint32_t)i;
        off += 1 + (size_t)x->alter_id;
    }
    if (!(flags & VMESS_USERS_NO_LEGACY) && legacy_init(u, now) != 0)
        goto fail;
    return u;
fail:
    users_free(u);
    return NULL;
}

vmess_users *vmess_users_ref(vmess_users *u)
{
    atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
    return u;
}

void vmess_users_unref(vmess_users *u)
{
    if (u && atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) == 1)
        users_free(u);
}

size_t vmess_users_count(const vmess_users *u)
{
    return u->n;
}

const vmess_user *vmess_users_get(const vmess_users *u, size_t i)
{
    return i < u->n ? &u->users[i] : NULL;
}

int vmess_users_find_aead(const vmess_users *u, const uint8_t authid[16], int64_t now,
                          const vmess_user **user, int64_t *t)
{
    for (size_t i = 0; i < u->n; i++) {
        if (vmess_authid_check(&u->users[i].authid_dec, authid, now, t) != 0)
            continue;
        *user = &u->users[i];
        return VMESS_AUTH_OK;
    }
    return VMESS_AUTH_NOT_FOUND;
}

/* The entry whose auth is exactly auth and whose second is in [lo, hi], or NIL.
 * Caller holds the lock. */
static uint32_t find_entry(vmess_users *u, const uint8_t auth[16], int64_t lo, int64_t hi)
{
    uint64_t tag = tag_of(auth);
    for (uint32_t e = u->buckets[tag & u->bucket_mask]; e != NIL; e = u->next[e]) {
        if (u->tags[e] != tag)
            continue;
        const slot *s = &u->slots[e / u->m];
        if (s->t < lo || s->t > hi)
            continue;
        uint8_t full[16];
        vmess_legacy_auth(full, u->ids[e % u->m], s->t);
        int same = sodium_memcmp(full, auth, 16) == 0;
        sodium_memzero(full, sizeof full);
        if (same)
            return e;
    }
    return NIL;
}

static void maybe_refresh(vmess_users *u, int64_t now)
{
    if (now >= u->refreshed + VMESS_LEGACY_REFRESH || now < u->refreshed)
        refresh_locked(u, now);
}

int vmess_users_find_legacy(vmess_users *u, const uint8_t auth[16], int64_t now,
                            const vmess_user **user, int64_t *t)
{
    int rc = VMESS_AUTH_NOT_FOUND;
    if (!u->tags)
        return rc;
    pthread_mutex_lock(&u->lock);
    maybe_refresh(u, now);
    uint32_t e = find_entry(u, auth, now - VMESS_LEGACY_WINDOW, now + VMESS_LEGACY_WINDOW);
    if (e != NIL) {
        rc = VMESS_AUTH_OK;
        *user = &u->users[u->id_user[e % u->m]];
        *t = u->slots[e / u->m].t;
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

void vmess_users_refresh(vmess_users *u, int64_t now)
{
    if (!u->tags)
        return;
    pthread_mutex_lock(&u->lock);
    refresh_locked(u, now);
    pthread_mutex_unlock(&u->lock);
}

size_t vmess_users_legacy_entries(vmess_users *u)
{
    pthread_mutex_lock(&u->lock);
    size_t live = u->live;
    pthread_mutex_unlock(&u->lock);
    return live;
}
