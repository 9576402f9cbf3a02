/* The VMess inbound instance: its settings and user table (swapped in place by updates),
 * the detour accounts other inbounds make here (kept by the host), and the drain range of failed handshakes. The
 * server's half of the protocol follows V2Ray 4.34 (proxy/vmess/inbound,
 * proxy/vmess/encoding/server.go), on the session-free codecs: inbound_handshake.c reads a
 * connection's request header, inbound_relay.c the bodies once it is accepted. */
#include "inbound.h"

#include "inbound_int.h"
#include "mem.h"
#include "replay.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* aeadForced, or V2Ray >= 4.35's environment switch: read whenever settings are (instance
 * creation, which every reload does, and in-place updates). */
static void read_aead_forced_env(vmess_inbound_cfg *cfg)
{
    const char *v = vmess_env_flag("v2ray.vmess.aead.forced", "V2RAY_VMESS_AEAD_FORCED");
    if (v != NULL && strcmp(v, "true") == 0)
        cfg->aead_forced = 1;
}

static void fail_msg(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* ---- instance ------------------------------------------------------------------------- */

/* Builds the user table of cfg's clients plus the detour accounts made for this inbound. */
static vmess_users *build_table(const vmess_inbound_cfg *cfg, const vmess_detour_user *extra,
                                size_t n_extra, int64_t now)
{
    size_t n = cfg->n_clients + n_extra;
    vmess_user_conf *conf = vmess_calloc(n ? n : 1, sizeof(*conf));
    if (conf == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->n_clients; i++) {
        const vmess_user_cfg *c = &cfg->clients[i];
        memcpy(conf[i].uuid, c->id, 16);
        conf[i].alter_id = c->alter_id;
        conf[i].level = c->level;
        conf[i].email = c->email;
    }
    for (size_t i = 0; i < n_extra; i++) {
        vmess_user_conf *c = &conf[cfg->n_clients + i];
        memcpy(c->uuid, extra[i].uuid, 16);
        c->alter_id = extra[i].alter_id;
        c->level = extra[i].level;
        c->email = extra[i].email;
    }
    vmess_users *u = vmess_users_new(conf, n, now, 0);
    sodium_memzero(conf, n * sizeof(*conf));
    vmess_free(conf);
    return u;
}

/* A digest of the detour accounts a table was built with: a change to another inbound's
 * accounts then costs this one no rebuild. */
static void accounts_digest(const vmess_detour_user *u, size_t n, uint8_t out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (size_t i = 0; i < n; i++) {
        crypto_generichash_update(&st, u[i].uuid, 16);
        uint8_t al[3] = {(uint8_t)(u[i].alter_id >> 8), (uint8_t)u[i].alter_id, u[i].level};
        crypto_generichash_update(&st, al, sizeof(al));
        crypto_generichash_update(&st, (const uint8_t *)u[i].email, strlen(u[i].email) + 1);
    }
    crypto_generichash_final(&st, out, 16);
}

/* The table of cfg plus the host's detour accounts for tag, whose change count goes in
 * *version and digest in digest; NULL when out of memory, or (with *same set) when the
 * accounts' digest is unchanged_from's (may be NULL). */
static vmess_users *build_with_detour(const evp_host *h, const char *tag,
                                      const vmess_inbound_cfg *cfg,
                                      const uint8_t *unchanged_from, uint64_t *version,
                                      uint8_t digest[16], int *same)
{
    vmess_detour_user *extra;
    size_t n_extra;
    *same = 0;
    *version = vmess_detour_users(h, tag, &extra, &n_extra);
    if (*version == UINT64_MAX)
        return NULL;
    accounts_digest(extra, n_extra, digest);
    vmess_users *t = NULL;
    if (unchanged_from != NULL && sodium_memcmp(digest, unchanged_from, 16) == 0)
        *same = 1;
    else
        t = build_table(cfg, extra, n_extra, h->unix_time());
    vmess_detour_users_free(extra, n_extra);
    return t;
}

void vmess_in_detour_refresh(vmess_inbound *in)
{
    if (in->reg.tag[0] == '\0') /* untagged: no detour leads here */
        return;
    uint64_t now_version = vmess_detour_users_version(in->host);
    if (now_version == atomic_load(&in->detour_version))
        return;
    pthread_mutex_lock(&in->lock);
    uint64_t version;
    uint8_t digest[16];
    int same;
    vmess_users *t = build_with_detour(in->host, in->reg.tag, &in->cfg, in->detour_digest,
                                       &version, digest, &same);
    if (t != NULL) {
        vmess_users_unref(in->users);
        in->users = t;
        memcpy(in->detour_digest, digest, 16);
    }
    if (t != NULL || same) /* out of memory: the old table stays, tried again next time */
        atomic_store(&in->detour_version, version);
    pthread_mutex_unlock(&in->lock);
}

void vmess_in_instance_unref(vmess_inbound *in)
{
    if (atomic_fetch_sub(&in->refs, 1) != 1)
        return;
    vmess_users_unref(in->users);
    vmess_inbound_cfg_free(&in->cfg);
    vmess_free(in->settings);
    pthread_mutex_destroy(&in->lock);
    vmess_free_wiped(in, sizeof(*in));
}

void *vmess_inbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                        size_t errlen)
{
    vmess_mem_adopt(host);
    vmess_inbound *in = vmess_calloc(1, sizeof(*in));
    if (in == NULL) {
        fail_msg(err, errlen, "out of memory");
        return NULL;
    }
    in->host = host;
    atomic_init(&in->refs, 1);
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        vmess_free(in);
        fail_msg(err, errlen, "cannot create a lock");
        return NULL;
    }
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if (vmess_inbound_cfg_parse(json, &in->cfg, err, errlen) != 0)
        goto fail;
    if ((in->settings = vmess_strdup(json)) == NULL) {
        fail_msg(err, errlen, "out of memory");
        goto fail;
    }
    read_aead_forced_env(&in->cfg);
    /* The host tells us our listening port (ABI 1.0 args carry it), for SwitchAccount. */
    if (args->size >= offsetof(evp_instance_args, port) + sizeof args->port && args->port)
        in->cfg.port = args->port;
    /* Replay filters must outlive instances and modules, so only a host can keep them. */
    if (!vmess_replay_available(host)) {
        fail_msg(err, errlen, "vmess inbound needs a host with plugin ABI >= 1.1 (replay "
                              "filters); this host offers an older one");
        goto fail;
    }
    uint8_t seed[8];
    host->random_bytes(seed, sizeof(seed));
    /* As a detour target: registered by tag, with the accounts earlier instances made. */
    if (vmess_detour_publish(host, &in->reg, args->tag, &in->cfg) != 0)
        host->log(EVP_LOG_WARNING, "vmess: the host's state store is full: detours to this "
                                   "inbound may fail");
    uint64_t version;
    int same;
    in->users = build_with_detour(host, in->reg.tag, &in->cfg, NULL, &version,
                                  in->detour_digest, &same);
    atomic_init(&in->detour_version, version);
    if (in->users == NULL) {
        fail_msg(err, errlen, "out of memory");
        goto fail;
    }
    /* §10: stable per instance. V2Ray's base is 54 + [0, 3266); ours starts at the longest
     * legacy header instead, so that a legacy auth replayed with junk is always complete
     * (and failed) before the drain ends, and closes where random bytes would. */
    enum { LEGACY_MAX = VMESS_LEGACY_AUTH_SIZE + VMESS_REQUEST_MAX, BASE_TOP = 54 + 3266 };
    uint32_t r1, r2;
    memcpy(&r1, seed, 4);
    memcpy(&r2, seed + 4, 4);
    in->drain_base = LEGACY_MAX + r1 % (BASE_TOP - LEGACY_MAX);
    in->drain_span = 1 + r2 % 64;
    sodium_memzero(seed, sizeof(seed));
    return in;
fail:
    vmess_in_instance_unref(in);
    return NULL;
}

void vmess_inbound_free(void *inst)
{
    vmess_inbound *in = inst;
    if (in == NULL)
        return;
    vmess_detour_withdraw(in->host, &in->reg);
    vmess_in_instance_unref(in);
}

const evp_host *vmess_inbound_host(void *inst)
{
    return ((vmess_inbound *)inst)->host;
}

char *vmess_inbound_settings(void *inst)
{
    vmess_inbound *in = inst;
    pthread_mutex_lock(&in->lock);
    char *copy = vmess_strdup(in->settings);
    pthread_mutex_unlock(&in->lock);
    return copy;
}

void vmess_inbound_drain_range(void *inst, uint32_t *min, uint32_t *max)
{
    vmess_inbound *in = inst;
    *min = in->drain_base;
    *max = in->drain_base + in->drain_span - 1;
}

int vmess_inbound_update(void *inst, const evp_instance_args *args, char *err, size_t errlen)
{
    vmess_inbound *in = inst;
    vmess_inbound_cfg cfg;
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if (vmess_inbound_cfg_parse(json, &cfg, err, errlen) != 0)
        return -1;
    read_aead_forced_env(&cfg);
    char *settings = vmess_strdup(json);
    pthread_mutex_lock(&in->lock);
    cfg.port = in->cfg.port; /* the listening port stays: SwitchAccount names it */
    pthread_mutex_unlock(&in->lock);
    /* in->reg is fixed once the instance is made. */
    if (settings != NULL && vmess_detour_publish(in->host, &in->reg, in->reg.tag, &cfg) != 0)
        in->host->log(EVP_LOG_WARNING, "vmess: the host's state store is full: detours to "
                                       "this inbound may fail");
    /* Built aside, outside the lock: handshakes keep using the old table meanwhile. */
    uint64_t version = 0;
    uint8_t digest[16];
    int same;
    vmess_users *t = settings == NULL ? NULL
                                      : build_with_detour(in->host, in->reg.tag, &cfg, NULL,
                                                          &version, digest, &same);
    if (t == NULL) {
        vmess_free(settings);
        vmess_inbound_cfg_free(&cfg);
        fail_msg(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&in->lock);
    vmess_users *old = in->users;
    in->users = t;
    vmess_inbound_cfg old_cfg = in->cfg;
    in->cfg = cfg;
    char *old_settings = in->settings;
    in->settings = settings;
    memcpy(in->detour_digest, digest, 16);
    atomic_store(&in->detour_version, version);
    pthread_mutex_unlock(&in->lock);
    vmess_free(old_settings);
    vmess_users_unref(old);
    vmess_inbound_cfg_free(&old_cfg);
    return 0;
}
