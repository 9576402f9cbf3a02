/* The VMess inbound instance: its settings and user table (swapped in place by updates),
 * the detour users other inbounds make here, and the drain range of failed handshakes. The
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

static void free_extra(detour_user *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vmess_free(x[i].email);
        sodium_memzero(x[i].uuid, 16);
    }
    vmess_free(x);
}

/* Builds the user table of cfg's clients plus the detour users. */
static vmess_users *build_table(const vmess_inbound_cfg *cfg, const detour_user *extra,
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

void vmess_in_instance_unref(vmess_inbound *in)
{
    if (atomic_fetch_sub(&in->refs, 1) != 1)
        return;
    vmess_users_unref(in->users);
    vmess_inbound_cfg_free(&in->cfg);
    vmess_free(in->settings);
    free_extra(in->extra, in->n_extra);
    pthread_mutex_destroy(&in->lock);
    sodium_memzero(in, sizeof(*in));
    vmess_free(in);
}

/* Detour target side: the account of the user with this email, created if needed (as
 * V2Ray's usersByEmail.Get). Runs with the detour registry locked. */
static int detour_account(void *owner, const char *email, vmess_switch_account *sa)
{
    vmess_inbound *in = owner;
    const evp_host *h = in->host;
    int rc = -1;
    pthread_mutex_lock(&in->lock);
    if (in->cfg.port == 0) {
        h->log(EVP_LOG_WARNING, "vmess: detour target has no port configured");
        goto out;
    }
    const uint8_t *uuid = NULL;
    uint16_t alter = 0;
    uint32_t level = 0;
    for (size_t i = 0; i < in->cfg.n_clients && uuid == NULL; i++) {
        const vmess_user_cfg *c = &in->cfg.clients[i];
        if (c->email[0] != '\0' && strcasecmp(c->email, email) == 0) {
            uuid = c->id;
            alter = c->alter_id;
            level = c->level;
        }
    }
    for (size_t i = 0; i < in->n_extra && uuid == NULL; i++) {
        if (strcasecmp(in->extra[i].email, email) == 0) {
            uuid = in->extra[i].uuid;
            alter = in->extra[i].alter_id;
            level = in->extra[i].level;
        }
    }
    if (uuid == NULL) {
        detour_user *x = vmess_realloc(in->extra, (in->n_extra + 1) * sizeof(*x));
        if (x == NULL)
            goto out;
        in->extra = x;
        detour_user *nu = &x[in->n_extra];
        memset(nu, 0, sizeof(*nu));
        nu->email = vmess_strdup(email);
        if (nu->email == NULL)
            goto out;
        h->random_bytes(nu->uuid, 16);
        nu->uuid[6] = (uint8_t)((nu->uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
        nu->uuid[8] = (uint8_t)((nu->uuid[8] & 0x3f) | 0x80);
        nu->alter_id = in->cfg.default_alter_id;
        nu->level = in->cfg.default_level;
        vmess_users *t = build_table(&in->cfg, in->extra, in->n_extra + 1, h->unix_time());
        if (t == NULL) {
            vmess_free(nu->email);
            goto out;
        }
        in->n_extra++;
        vmess_users_unref(in->users);
        in->users = t;
        uuid = nu->uuid;
        alter = nu->alter_id;
        level = nu->level;
    }
    memset(sa, 0, sizeof(*sa));
    sa->port = in->cfg.port;
    memcpy(sa->uuid, uuid, 16);
    sa->alter_id = alter;
    sa->level = (uint8_t)level; /* one byte on the wire, as V2Ray truncates it */
    sa->valid_min = 255;        /* a fixed-port inbound is always there: V2Ray caps at 255 */
    rc = 0;
out:
    pthread_mutex_unlock(&in->lock);
    return rc;
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
    in->users = build_table(&in->cfg, NULL, 0, host->unix_time());
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
    vmess_detour_register(&in->node, args->tag != NULL ? args->tag : "", in, detour_account);
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
    vmess_detour_unregister(&in->node);
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
    /* Built aside, outside the lock: handshakes keep using the old table meanwhile. The
     * detour users made so far carry over (a concurrent new one may be lost: it is
     * simply created again on the next detour). */
    pthread_mutex_lock(&in->lock);
    size_t n_extra = in->n_extra;
    detour_user *extra = n_extra ? vmess_calloc(n_extra, sizeof(*extra)) : NULL;
    int oom = n_extra && extra == NULL;
    for (size_t i = 0; i < n_extra && !oom; i++) {
        extra[i] = in->extra[i];
        extra[i].email = vmess_strdup(in->extra[i].email);
        oom = extra[i].email == NULL;
    }
    cfg.port = in->cfg.port; /* the listening port stays: SwitchAccount names it */
    pthread_mutex_unlock(&in->lock);
    oom |= settings == NULL;
    vmess_users *t = oom ? NULL : build_table(&cfg, extra, n_extra, in->host->unix_time());
    if (t == NULL) {
        vmess_free(settings);
        free_extra(extra, n_extra);
        vmess_inbound_cfg_free(&cfg);
        fail_msg(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&in->lock);
    vmess_users *old = in->users;
    in->users = t;
    vmess_inbound_cfg old_cfg = in->cfg;
    in->cfg = cfg;
    detour_user *old_extra = in->extra;
    size_t old_n = in->n_extra;
    in->extra = extra;
    in->n_extra = n_extra;
    char *old_settings = in->settings;
    in->settings = settings;
    pthread_mutex_unlock(&in->lock);
    vmess_free(old_settings);
    vmess_users_unref(old);
    vmess_inbound_cfg_free(&old_cfg);
    free_extra(old_extra, old_n);
    return 0;
}
