/* VMess detour, inbound side, on the host's state store: registrations of inbounds by tag
 * and the accounts of detour targets by (tag, email). Values are laid out byte by byte (big
 * endian), so every loaded copy of the plugin reads what another wrote. */
#include "detour.h"

#include "host_abi.h"
#include "mem.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NS_TARGETS "vmess.detour.targets" /* tag NUL id[8] -> registration */
#define NS_USERS "vmess.detour.users"     /* tag NUL lowercased email -> account */
#define FORMAT 1                          /* first byte of every value */

/* A registration: FORMAT, port, default alterId (BE16 each), default level, created (BE64). */
enum { REG_SIZE = 1 + 2 + 2 + 1 + 8 };
/* An account: FORMAT, flags, uuid, alterId (BE16), level, then the email's bytes. */
enum { ACC_HEAD = 1 + 1 + 16 + 2 + 1, ACC_MAX = ACC_HEAD + EVP_STATE_KEY_MAX };
#define ACC_CONFIGURED 1u /* one of the target's configured users, not made on demand */
/* SwitchAccount's validity (V2Ray caps a fixed-port target's at 255 min); an account made
 * on demand is kept a minute longer than the last client it was given to may use it. */
#define VALID_MIN 255
#define ACCOUNT_TTL ((VALID_MIN + 1) * 60)

int vmess_detour_available(const evp_host *h)
{
    return VMESS_HOST_HAS(h, state_put) && VMESS_HOST_HAS(h, state_get) &&
           VMESS_HOST_HAS(h, state_del) && VMESS_HOST_HAS(h, state_each) &&
           h->abi_minor >= 4;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* tag NUL, then n bytes of tail (lowercased when lower); the length, or 0 when too long. */
static size_t make_key(uint8_t *key, const char *tag, const void *tail, size_t n, int lower)
{
    size_t t = strlen(tag);
    if (t + 1 + n > EVP_STATE_KEY_MAX)
        return 0;
    memcpy(key, tag, t + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = ((const uint8_t *)tail)[i];
        key[t + 1 + i] = lower ? (uint8_t)tolower(c) : c;
    }
    return t + 1 + n;
}

/* True when key is tag NUL something. */
static int key_of_tag(const void *key, size_t key_len, const char *tag)
{
    size_t t = strlen(tag);
    return key_len > t + 1 && memcmp(key, tag, t + 1) == 0;
}

/* The value of an entry under tag, in this FORMAT and of at least min bytes; else NULL. */
static const uint8_t *tagged_value(const void *key, size_t key_len, const char *tag,
                                   const void *val, size_t val_len, size_t min)
{
    const uint8_t *v = val;
    if (!key_of_tag(key, key_len, tag) || val_len < min || v[0] != FORMAT)
        return NULL;
    return v;
}

/* ---- registrations ------------------------------------------------------------------- */

void vmess_detour_withdraw(const evp_host *h, const vmess_detour_reg *reg)
{
    uint8_t key[EVP_STATE_KEY_MAX];
    size_t n = make_key(key, reg->tag, reg->id, sizeof reg->id, 0);
    if (n > 0 && reg->created != 0 && vmess_detour_available(h))
        h->state_del(NS_TARGETS, key, n);
}

/* The newest registration of a tag. */
typedef struct target_find {
    const char *tag;
    int found;
    uint64_t created;
    uint16_t port, default_alter;
    uint8_t default_level;
} target_find;

static int visit_target(void *ctx, const void *key, size_t key_len, const void *val,
                        size_t val_len)
{
    target_find *f = ctx;
    const uint8_t *v = tagged_value(key, key_len, f->tag, val, val_len, REG_SIZE);
    if (v == NULL || val_len != REG_SIZE)
        return 0;
    uint64_t created = 0;
    for (int i = 0; i < 8; i++)
        created = created << 8 | v[6 + i];
    if (f->found && created < f->created)
        return 0;
    f->found = 1;
    f->created = created;
    f->port = get16(v + 1);
    f->default_alter = get16(v + 3);
    f->default_level = v[5];
    return 0;
}

/* The port and minutes to announce for a target with dynamic ports (allocate "random"): a
 * random one of the host's current pick, and what is left of its refresh, counted as V2Ray
 * 4.34 does (refresh minus whole minutes since the pick; at least 1, at most 255): 1. 0 when
 * the host announces no ports for tag: the target listens on its fixed port. -1 when none
 * of its ports could be opened: no switch then (V2Ray has no worker to name either). */
static int dynamic_port(const evp_host *h, const char *tag, uint16_t *port, uint8_t *minutes)
{
    uint8_t v[EVP_STATE_VALUE_MAX];
    long n = h->state_get(EVP_STATE_NS_PORTS, tag, strlen(tag), v, sizeof v);
    enum { HEAD = 1 + 4 + 8 + 2 };
    if (n < HEAD || v[0] != 1)
        return 0;
    uint32_t refresh = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 8 | v[4];
    uint64_t picked_ms = 0;
    for (int i = 0; i < 8; i++)
        picked_ms = picked_ms << 8 | v[5 + i];
    size_t count = get16(v + 13);
    if (count == 0 || n < HEAD + 2 * (long)count)
        return -1;
    uint32_t r;
    h->random_bytes(&r, sizeof r);
    *port = get16(v + HEAD + 2 * (r % count));
    double since = h->monotonic() - (double)picked_ms / 1000;
    double left = (double)refresh - (since > 0 ? (double)(uint64_t)(since / 60) : 0);
    *minutes = left < 1 ? 1 : left > VALID_MIN ? VALID_MIN : (uint8_t)left;
    return 1;
}

/* ---- accounts ------------------------------------------------------------------------ */

static size_t account_encode(uint8_t *v, unsigned flags, const uint8_t uuid[16], uint16_t alter,
                             uint8_t level, const char *email)
{
    size_t n = strlen(email);
    if (n > ACC_MAX - ACC_HEAD)
        n = ACC_MAX - ACC_HEAD; /* longer ones never make a key */
    v[0] = FORMAT;
    v[1] = (uint8_t)flags;
    memcpy(v + 2, uuid, 16);
    put16(v + 18, alter);
    v[20] = level;
    memcpy(v + ACC_HEAD, email, n);
    return ACC_HEAD + n;
}

/* Publishes cfg's users with an email as the tag's configured accounts. */
static int publish_configured(const evp_host *h, const char *tag, const vmess_inbound_cfg *cfg)
{
    uint8_t key[EVP_STATE_KEY_MAX], val[ACC_MAX];
    int rc = 0;
    for (size_t i = 0; i < cfg->n_clients; i++) {
        const vmess_user_cfg *c = &cfg->clients[i];
        size_t kn = make_key(key, tag, c->email, strlen(c->email), 1);
        if (c->email[0] == '\0' || kn == 0)
            continue;
        size_t vn = account_encode(val, ACC_CONFIGURED, c->id, c->alter_id, (uint8_t)c->level,
                                   c->email);
        if (h->state_put(NS_USERS, key, kn, val, vn, 0, 0) != 0)
            rc = -1;
    }
    sodium_memzero(val, sizeof val);
    return rc;
}

/* Keys of the tag's configured accounts whose email cfg no longer has. */
typedef struct stale_find {
    const char *tag;
    const vmess_inbound_cfg *cfg;
    uint8_t (*keys)[EVP_STATE_KEY_MAX];
    size_t *lens;
    size_t n, cap;
} stale_find;

static int visit_stale(void *ctx, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
    stale_find *f = ctx;
    const uint8_t *v = val;
    if (!key_of_tag(key, key_len, f->tag) || val_len < ACC_HEAD || !(v[1] & ACC_CONFIGURED))
        return 0;
    size_t t = strlen(f->tag) + 1;
    for (size_t i = 0; i < f->cfg->n_clients; i++) {
        const char *e = f->cfg->clients[i].email;
        if (strlen(e) == key_len - t && strncasecmp(e, (const char *)key + t, key_len - t) == 0)
            return 0;
    }
    if (f->n < f->cap) {
        memcpy(f->keys[f->n], key, key_len);
        f->lens[f->n++] = key_len;
    }
    return 0;
}

/* Drops the tag's configured accounts cfg no longer has, a few at a time. */
static void drop_stale(const evp_host *h, const char *tag, const vmess_inbound_cfg *cfg)
{
    enum { BATCH = 64 };
    uint8_t keys[BATCH][EVP_STATE_KEY_MAX];
    size_t lens[BATCH];
    stale_find f = {tag, cfg, keys, lens, BATCH, BATCH};
    while (f.n == BATCH) {
        f.n = 0;
        h->state_each(NS_USERS, visit_stale, &f);
        for (size_t i = 0; i < f.n; i++)
            h->state_del(NS_USERS, keys[i], lens[i]);
    }
}

int vmess_detour_publish(const evp_host *h, vmess_detour_reg *reg, const char *tag,
                         const vmess_inbound_cfg *cfg)
{
    if (!vmess_detour_available(h) || tag == NULL || tag[0] == '\0')
        return 0; /* detour.to is never empty: an untagged inbound is no target */
    if (reg->created == 0) {
        snprintf(reg->tag, sizeof reg->tag, "%s", tag);
        h->random_bytes(reg->id, sizeof reg->id);
        reg->created = (uint64_t)(h->monotonic() * 1e9);
    }
    uint8_t key[EVP_STATE_KEY_MAX], val[REG_SIZE];
    size_t kn = make_key(key, reg->tag, reg->id, sizeof reg->id, 0);
    val[0] = FORMAT;
    put16(val + 1, cfg->port);
    put16(val + 3, cfg->default_alter_id);
    val[5] = cfg->default_level;
    for (int i = 0; i < 8; i++)
        val[6 + i] = (uint8_t)(reg->created >> (56 - 8 * i));
    int rc = kn > 0 && h->state_put(NS_TARGETS, key, kn, val, sizeof val, 0, 0) == 0 ? 0 : -1;
    drop_stale(h, reg->tag, cfg);
    if (publish_configured(h, reg->tag, cfg) != 0)
        rc = -1;
    return rc;
}

/* The account of email at tag, made (with the target's defaults) when there is none; its
 * length in val, or -1. */
static long get_or_make(const evp_host *h, const uint8_t *key, size_t kn, const target_find *t,
                        const char *email, uint8_t *val)
{
    long n = h->state_get(NS_USERS, key, kn, val, ACC_MAX);
    if (n >= 0)
        return n;
    uint8_t uuid[16];
    h->random_bytes(uuid, 16);
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    size_t vn = account_encode(val, 0, uuid, t->default_alter, t->default_level, email);
    sodium_memzero(uuid, sizeof uuid);
    int rc = h->state_put(NS_USERS, key, kn, val, vn, ACCOUNT_TTL, EVP_STATE_CREATE);
    if (rc == 1) /* another session made it first: use theirs */
        return h->state_get(NS_USERS, key, kn, val, ACC_MAX);
    return rc == 0 ? (long)vn : -1;
}

int vmess_detour_switch(const evp_host *h, const char *to, const char *email,
                        vmess_switch_account *sa)
{
    memset(sa, 0, sizeof *sa);
    if (!vmess_detour_available(h))
        return -1;
    target_find t = {.tag = to};
    h->state_each(NS_TARGETS, visit_target, &t);
    uint8_t key[EVP_STATE_KEY_MAX], val[ACC_MAX];
    size_t kn = make_key(key, to, email, strlen(email), 1);
    if (!t.found || t.port == 0 || kn == 0)
        return -1;
    uint16_t port = t.port;
    uint8_t minutes = VALID_MIN;
    if (dynamic_port(h, to, &port, &minutes) < 0)
        return -1;
    long n = get_or_make(h, key, kn, &t, email, val);
    int rc = -1;
    if (n >= ACC_HEAD && n <= ACC_MAX && val[0] == FORMAT) {
        if (!(val[1] & ACC_CONFIGURED)) /* this client may use it VALID_MIN more minutes */
            h->state_put(NS_USERS, key, kn, val, (size_t)n, ACCOUNT_TTL, 0);
        sa->port = port;
        sa->valid_min = minutes;
        memcpy(sa->uuid, val + 2, 16);
        sa->alter_id = get16(val + 18);
        sa->level = val[20]; /* one byte on the wire, as V2Ray truncates it */
        rc = 0;
    }
    sodium_memzero(val, sizeof val);
    return rc;
}

/* ---- a target's accounts ------------------------------------------------------------- */

typedef struct users_find {
    const char *tag;
    vmess_detour_user *users;
    size_t n, cap;
    int oom;
} users_find;

static int visit_user(void *ctx, const void *key, size_t key_len, const void *val,
                      size_t val_len)
{
    users_find *f = ctx;
    const uint8_t *v = tagged_value(key, key_len, f->tag, val, val_len, ACC_HEAD);
    if (v == NULL || (v[1] & ACC_CONFIGURED))
        return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        vmess_detour_user *u = vmess_realloc(f->users, cap * sizeof *u);
        if (u == NULL) {
            f->oom = 1;
            return 1;
        }
        f->users = u;
        f->cap = cap;
    }
    vmess_detour_user *u = &f->users[f->n];
    size_t elen = val_len - ACC_HEAD;
    u->email = vmess_alloc(elen + 1);
    if (u->email == NULL) {
        f->oom = 1;
        return 1;
    }
    memcpy(u->email, v + ACC_HEAD, elen);
    u->email[elen] = '\0';
    memcpy(u->uuid, v + 2, 16);
    u->alter_id = get16(v + 18);
    u->level = v[20];
    f->n++;
    return 0;
}

uint64_t vmess_detour_users(const evp_host *h, const char *tag, vmess_detour_user **users,
                            size_t *n)
{
    *users = NULL;
    *n = 0;
    if (!vmess_detour_available(h) || tag == NULL || tag[0] == '\0')
        return 0;
    users_find f = {.tag = tag};
    uint64_t version = h->state_each(NS_USERS, visit_user, &f);
    if (f.oom) {
        vmess_detour_users_free(f.users, f.n);
        return UINT64_MAX;
    }
    *users = f.users;
    *n = f.n;
    return version;
}

uint64_t vmess_detour_users_version(const evp_host *h)
{
    return vmess_detour_available(h) ? h->state_each(NS_USERS, NULL, NULL) : 0;
}

void vmess_detour_users_free(vmess_detour_user *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vmess_free(users[i].email);
        sodium_memzero(users[i].uuid, 16);
    }
    vmess_free(users);
}
