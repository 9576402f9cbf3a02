/* The VMess inbound: the server's half of the protocol, as V2Ray 4.34's server does it
 * (proxy/vmess/inbound, proxy/vmess/encoding/server.go), on the session-free codecs. */
#include "inbound.h"

#include "detour.h"
#include "host_abi.h"
#include "proto.h"
#include "replay.h"
#include "settings.h"
#include "users.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A user created on demand because another inbound detours its clients here. */
typedef struct detour_user {
    uint8_t uuid[16];
    uint16_t alter_id;
    uint8_t level;
    char *email; /* owned */
} detour_user;

typedef struct vmess_inbound {
    const evp_host *host;
    atomic_uint refs;     /* the host's, plus one per session */
    atomic_int detour_warned; /* a missing detour target is said once */
    pthread_mutex_t lock; /* guards users, cfg and extra */
    vmess_users *users;   /* the current table; the instance holds one reference */
    vmess_inbound_cfg cfg;
    char *settings;       /* the settings text cfg came from (owned), for the users ops */
    detour_user *extra;
    size_t n_extra;
    uint32_t drain_base;     /* a failed handshake drains base + [0, span) bytes (§10) */
    uint32_t drain_span;
    vmess_detour_node node;
} vmess_inbound;

enum phase {
    P_AUTH = 0,   /* waiting for the 16-byte AuthID / legacy auth */
    P_AEAD_LEN,   /* waiting for EncLen and the connection nonce */
    P_AEAD_HDR,   /* waiting for the sealed header */
    P_LEGACY_HDR, /* decrypting the CFB header as it arrives */
    P_BODY,       /* target named: request body */
    P_FAILED,
};

typedef struct vmess_in_session {
    vmess_inbound *inst;
    vmess_users *users; /* the table the user was found in (a reference), or NULL */
    const vmess_user *user;
    uint8_t phase; /* enum phase */
    uint8_t aead;
    uint8_t disable_insecure; /* the setting when the handshake began */
    uint8_t aead_forced;      /* likewise: legacy headers refused */
    uint8_t resp_sent;
    uint16_t hdr_len;    /* AEAD: sealed header plaintext length */
    uint32_t drain;      /* a failed handshake ends once this many bytes came in all */
    uint32_t taken;      /* handshake bytes consumed by earlier decode calls */
    int64_t t;           /* legacy: the time the auth matched */
    uint8_t auth[16];    /* the AuthID or legacy auth */
    uint8_t nonce[8];    /* AEAD connection nonce */
    char detour_to[128]; /* "" without a detour */
    vmess_request req;
    uint8_t resp_key[16];
    uint8_t resp_iv[16];
    uint8_t len_key[16];
    /* Request reader and response writer (~9 KiB each): allocated once the header is
     * accepted, so a connection that has not authenticated costs well under 1 KiB here. */
    vmess_body *rx, *tx;
} vmess_in_session;

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
        free(x[i].email);
        sodium_memzero(x[i].uuid, 16);
    }
    free(x);
}

/* Builds the user table of cfg's clients plus the detour users. */
static vmess_users *build_table(const vmess_inbound_cfg *cfg, const detour_user *extra,
                                size_t n_extra, int64_t now)
{
    size_t n = cfg->n_clients + n_extra;
    vmess_user_conf *conf = calloc(n ? n : 1, sizeof(*conf));
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
    free(conf);
    return u;
}

static void inst_unref(vmess_inbound *in)
{
    if (atomic_fetch_sub(&in->refs, 1) != 1)
        return;
    vmess_users_unref(in->users);
    vmess_inbound_cfg_free(&in->cfg);
    free(in->settings);
    free_extra(in->extra, in->n_extra);
    pthread_mutex_destroy(&in->lock);
    const evp_host *h = in->host;
    sodium_memzero(in, sizeof(*in));
    h->free(in);
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
        detour_user *x = realloc(in->extra, (in->n_extra + 1) * sizeof(*x));
        if (x == NULL)
            goto out;
        in->extra = x;
        detour_user *nu = &x[in->n_extra];
        memset(nu, 0, sizeof(*nu));
        nu->email = strdup(email);
        if (nu->email == NULL)
            goto out;
        h->random_bytes(nu->uuid, 16);
        nu->uuid[6] = (uint8_t)((nu->uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
        nu->uuid[8] = (uint8_t)((nu->uuid[8] & 0x3f) | 0x80);
        nu->alter_id = in->cfg.default_alter_id;
        nu->level = in->cfg.default_level;
        vmess_users *t = build_table(&in->cfg, in->extra, in->n_extra + 1, h->unix_time());
        if (t == NULL) {
            free(nu->email);
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
    vmess_inbound *in = host->calloc(1, sizeof(*in));
    if (in == NULL) {
        fail_msg(err, errlen, "out of memory");
        return NULL;
    }
    in->host = host;
    atomic_init(&in->refs, 1);
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        host->free(in);
        fail_msg(err, errlen, "cannot create a lock");
        return NULL;
    }
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if (vmess_inbound_cfg_parse(json, &in->cfg, err, errlen) != 0)
        goto fail;
    if ((in->settings = strdup(json)) == NULL) {
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
    inst_unref(in);
    return NULL;
}

void vmess_inbound_free(void *inst)
{
    vmess_inbound *in = inst;
    if (in == NULL)
        return;
    vmess_detour_unregister(&in->node);
    inst_unref(in);
}

const evp_host *vmess_inbound_host(void *inst)
{
    return ((vmess_inbound *)inst)->host;
}

char *vmess_inbound_settings(void *inst)
{
    vmess_inbound *in = inst;
    pthread_mutex_lock(&in->lock);
    char *copy = strdup(in->settings);
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
    char *settings = strdup(json);
    /* Built aside, outside the lock: handshakes keep using the old table meanwhile. The
     * detour users made so far carry over (a concurrent new one may be lost: it is
     * simply created again on the next detour). */
    pthread_mutex_lock(&in->lock);
    size_t n_extra = in->n_extra;
    detour_user *extra = n_extra ? calloc(n_extra, sizeof(*extra)) : NULL;
    int oom = n_extra && extra == NULL;
    for (size_t i = 0; i < n_extra && !oom; i++) {
        extra[i] = in->extra[i];
        extra[i].email = strdup(in->extra[i].email);
        oom = extra[i].email == NULL;
    }
    cfg.port = in->cfg.port; /* the listening port stays: SwitchAccount names it */
    pthread_mutex_unlock(&in->lock);
    oom |= settings == NULL;
    vmess_users *t = oom ? NULL : build_table(&cfg, extra, n_extra, in->host->unix_time());
    if (t == NULL) {
        free(settings);
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
    free(old_settings);
    vmess_users_unref(old);
    vmess_inbound_cfg_free(&old_cfg);
    free_extra(old_extra, old_n);
    return 0;
}

/* ---- session -------------------------------------------------------------------------- */

void *vmess_inbound_session_new(void *inst)
{
    vmess_inbound *in = inst;
    vmess_in_session *s = in->host->calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    atomic_fetch_add(&in->refs, 1);
    s->inst = in;
    uint32_t r;
    in->host->random_bytes(&r, sizeof(r));
    s->drain = in->drain_base + r % in->drain_span;
    return s;
}

void vmess_inbound_session_free(void *sess)
{
    vmess_in_session *s = sess;
    if (s == NULL)
        return;
    vmess_inbound *in = s->inst;
    vmess_users_unref(s->users);
    if (s->rx != NULL) {
        vmess_body_wipe(s->rx);
        vmess_body_wipe(s->tx);
        in->host->free(s->rx); /* tx shares the allocation */
    }
    sodium_memzero(s, sizeof(*s));
    in->host->free(s);
    inst_unref(in);
}

const char *vmess_inbound_session_user(void *sess)
{
    vmess_in_session *s = sess;
    if (s->user == NULL || s->user->email == NULL || s->user->email[0] == '\0')
        return NULL;
    return s->user->email;
}

/* Rejects the handshake the way V2Ray does: no reply; the host reads until s->drain bytes
 * came in all, counted from the first, then closes. So whatever failed, and however the
 * bytes arrived, a prober sees the close at the same byte count (§10). */
static int reject(vmess_in_session *s, evp_io *io, const char *why)
{
    vmess_inbound *in = s->inst;
    size_t seen = s->taken + io->in_len;
    s->phase = P_FAILED;
    io->consumed = io->in_len;
    io->drain = seen < s->drain ? s->drain - (uint32_t)seen : 0;
    snprintf(io->reason, sizeof(io->reason), "vmess: %s", why);
    if (in->host->log_enabled(EVP_LOG_INFO))
        in->host->log(EVP_LOG_INFO, "vmess: rejected a handshake: %s", why);
    return EVP_ERR;
}

/* A failure after authentication: just close. */
static int broken(vmess_in_session *s, evp_io *io, const char *why)
{
    s->phase = P_FAILED;
    snprintf(io->reason, sizeof(io->reason), "vmess: %s", why);
    return EVP_ERR;
}

/* Looks the first 16 bytes up: AEAD AuthID first, then the legacy table (§5). */
static int authenticate(vmess_in_session *s, const uint8_t *p, const char **why)
{
    vmess_inbound *in = s->inst;
    int64_t now = in->host->unix_time();
    pthread_mutex_lock(&in->lock);
    s->users = vmess_users_ref(in->users);
    s->disable_insecure = in->cfg.disable_insecure;
    s->aead_forced = in->cfg.aead_forced;
    if (in->cfg.detour_to != NULL)
        snprintf(s->detour_to, sizeof(s->detour_to), "%s", in->cfg.detour_to);
    pthread_mutex_unlock(&in->lock);
    memcpy(s->auth, p, 16);
    if (vmess_users_find_aead(s->users, p, now, &s->user, NULL) == VMESS_AUTH_OK) {
        if (vmess_replay_authid(in->host, p) != VMESS_REPLAY_NEW) {
            *why = "replayed AuthID";
            return -1;
        }
        s->aead = 1;
        s->phase = P_AEAD_LEN;
        return 0;
    }
    if (vmess_users_find_legacy(s->users, p, now, &s->user, &s->t) != VMESS_AUTH_OK) {
        *why = "invalid user";
        return -1;
    }
    if (s->aead_forced) {
        /* As V2Ray >= 4.35: a wrong user to the client (drain, no reply). */
        *why = "invalid user: legacy header refused (AEAD forced)";
        return -1;
    }
    if (vmess_replay_tainted(in->host, p)) {
        *why = "tainted legacy auth";
        return -1;
    }
    s->phase = P_LEGACY_HDR;
    return 0;
}

/* After the header plaintext is decoded: the checks V2Ray makes, then the body reader. */
static int accept_request(vmess_in_session *s, int dec, const char **why)
{
    vmess_inbound *in = s->inst;
    int taint = 0;
    if (dec != VMESS_REQ_OK) {
        *why = vmess_request_strerror(dec);
        taint = dec == VMESS_REQ_SHORT || dec == VMESS_REQ_BAD_CHECKSUM;
        goto fail;
    }
    if (vmess_replay_session(in->host, s->user->uuid, s->req.key, s->req.iv) !=
        VMESS_REPLAY_NEW) {
        *why = "duplicated session id";
        taint = 1;
        goto fail;
    }
    if (s->req.command == VMESS_CMD_MUX) {
        *why = "Mux (command 3) is not supported";
        goto fail;
    }
    if (s->disable_insecure &&
        (s->req.security == VMESS_SEC_NONE || s->req.security == VMESS_SEC_LEGACY)) {
        *why = "insecure encryption is disabled";
        goto fail;
    }
    if (s->aead)
        vmess_resp_keys_aead(s->resp_key, s->resp_iv, s->req.key, s->req.iv);
    else
        vmess_resp_keys_legacy(s->resp_key, s->resp_iv, s->req.key, s->req.iv);
    vmess_kdf16_str(s->len_key, s->req.key, 16, "auth_len");
    vmess_body_params p;
    memset(&p, 0, sizeof(p));
    p.security = s->req.security;
    p.option = s->req.option;
    p.udp = s->req.command == VMESS_CMD_UDP;
    memcpy(p.key, s->req.key, 16);
    memcpy(p.iv, s->req.iv, 16);
    memcpy(p.len_key, s->len_key, 16);
    memcpy(p.len_iv, s->req.iv, 16);
    if (s->rx == NULL) {
        s->rx = s->inst->host->calloc(2, sizeof(vmess_body));
        s->tx = s->rx != NULL ? s->rx + 1 : NULL;
    }
    int rc = s->rx != NULL ? vmess_body_init(s->rx, &p) : -1;
    sodium_memzero(&p, sizeof(p));
    if (rc != 0) {
        *why = "unsupported security or options";
        goto fail;
    }
    return 0;
fail:
    if (taint && !s->aead)
        vmess_replay_taint(in->host, s->auth);
    return -1;
}

/* The legacy header has no length: decrypt what has arrived from the stream's start and
 * ask the parser how long the header is. Returns its length, 0 for "need more", -1. */
static long legacy_header(vmess_in_session *s, const uint8_t *in, size_t len, int *dec)
{
    uint8_t plain[VMESS_REQUEST_MAX];
    size_t n = len < sizeof(plain) ? len : sizeof(plain);
    vmess_cfb cfb;
    memcpy(plain, in, n);
    vmess_legacy_header_cfb(&cfb, s->user->cmd_key, s->t);
    vmess_cfb_decrypt(&cfb, plain, n);
    vmess_cfb_wipe(&cfb);
    size_t need = vmess_request_length(plain, n);
    long rc;
    if (need == 0) {
        *dec = VMESS_REQ_BAD_ADDR_TYPE;
        rc = -1;
    } else if (need > n) {
        rc = 0;
    } else {
        *dec = vmess_request_decode(&s->req, plain, need);
        rc = (long)need;
    }
    sodium_memzero(plain, sizeof(plain));
    return rc;
}

static void set_target(const vmess_in_session *s, evp_io *io)
{
    io->target = s->req.target;
    io->network = s->req.command == VMESS_CMD_UDP ? EVP_NET_UDP : EVP_NET_TCP;
}

int vmess_inbound_decode(void *sess, evp_io *io)
{
    vmess_in_session *s = sess;
    const uint8_t *in = io->in;
    size_t len = io->in_len, off = 0;
    const char *why = "bad header";
    io->consumed = 0;
    switch (s->phase) {
    case P_AUTH:
        if (len < VMESS_AUTHID_SIZE)
            break;
        if (authenticate(s, in, &why) != 0)
            return reject(s, io, why);
        off = VMESS_AUTHID_SIZE;
        if (s->phase == P_LEGACY_HDR)
            goto legacy;
        /* fall through */
    case P_AEAD_LEN:
        if (len - off < VMESS_AEAD_LEN_SIZE + VMESS_AEAD_NONCE_SIZE)
            break;
        memcpy(s->nonce, in + off + VMESS_AEAD_LEN_SIZE, 8);
        if (vmess_aead_req_open_len(s->user->cmd_key, s->auth, s->nonce, in + off, &s->hdr_len) !=
            0)
            return reject(s, io, "bad header length");
        if (s->hdr_len > VMESS_REQUEST_MAX)
            return reject(s, io, "header too long");
        off += VMESS_AEAD_LEN_SIZE + VMESS_AEAD_NONCE_SIZE;
        s->phase = P_AEAD_HDR;
        /* fall through */
    case P_AEAD_HDR: {
        size_t n = (size_t)s->hdr_len + VMESS_AEAD_TAG_SIZE;
        uint8_t plain[VMESS_REQUEST_MAX + VMESS_AEAD_TAG_SIZE];
        if (len - off < n)
            break;
        if (vmess_aead_req_open(s->user->cmd_key, s->auth, s->nonce, in + off, n, plain) != 0)
            return reject(s, io, "bad header");
        int dec = vmess_request_decode(&s->req, plain, s->hdr_len);
        sodium_memzero(plain, sizeof(plain));
        if (accept_request(s, dec, &why) != 0)
            return reject(s, io, why);
        off += n;
        s->phase = P_BODY;
        set_target(s, io);
        io->consumed = off;
        return EVP_TARGET;
    }
    case P_LEGACY_HDR:
    legacy : {
        int dec = VMESS_REQ_OK;
        long n = legacy_header(s, in + off, len - off, &dec);
        if (n == 0)
            break;
        if (n < 0 || accept_request(s, dec, &why) != 0)
            return reject(s, io, why);
        off += (size_t)n;
        s->phase = P_BODY;
        set_target(s, io);
        io->consumed = off;
        return EVP_TARGET;
    }
    case P_BODY: {
        size_t used = 0;
        int rc = vmess_body_open(s->rx, s->inst->host, in, len, &used, io->out);
        io->consumed = used;
        if (rc == EVP_ERR)
            return broken(s, io, s->rx->why != NULL ? s->rx->why : "bad request body");
        if (rc == EVP_OK && io->in_eof) {
            /* The client closed without the end marker: clean only between chunks. */
            if (used == len && vmess_body_at_boundary(s->rx))
                return EVP_EOF;
            return broken(s, io, "request truncated mid-chunk");
        }
        return rc;
    }
    default:
        return broken(s, io, "session already failed");
    }
    /* Need more header bytes. */
    io->consumed = off;
    s->taken += (uint32_t)off;
    if (io->in_eof)
        return broken(s, io, "client closed during the handshake");
    return EVP_OK;
}

static void warn_no_detour(const evp_host *h, const char *to)
{
    char safe[4 * 128 + 1] = "?";
    if (VMESS_HOST_HAS(h, log_escape)) /* a tag from the config: escaped all the same */
        h->log_escape(to, strlen(to), safe, sizeof(safe));
    h->log(EVP_LOG_WARNING, "vmess: detour.to \"%s\" names no vmess inbound with a port; "
           "clients are not switched", safe);
}

/* Appends the response header: V, no option, and SwitchAccount when a detour is set. */
static int write_response_header(vmess_in_session *s, evp_buf *out, vmess_cfb *cfb)
{
    const evp_host *h = s->inst->host;
    uint8_t plain[VMESS_RESP_HEADER_MAX];
    uint8_t payload[VMESS_RESP_HEADER_MAX];
    int plen = -1;
    if (s->detour_to[0] != '\0') {
        vmess_switch_account sa;
        if (vmess_detour_switch(s->detour_to, s->user->email, &sa) == 0)
            plen = vmess_switch_account_encode(&sa, payload, sizeof(payload));
        else if (!atomic_exchange(&s->inst->detour_warned, 1))
            warn_no_detour(h, s->detour_to);
        sodium_memzero(&sa, sizeof(sa));
    }
    int n;
    if (plen > 0)
        n = vmess_resp_header_encode(plain, sizeof(plain), s->req.v, 0,
                                     VMESS_RESP_CMD_SWITCH_ACCOUNT, payload, (size_t)plen);
    else
        n = vmess_resp_header_encode(plain, sizeof(plain), s->req.v, 0, VMESS_RESP_CMD_NONE, NULL,
                                     0);
    sodium_memzero(payload, sizeof(payload)); /* the detour account's id */
    size_t need = s->aead ? VMESS_AEAD_RESP_SIZE((size_t)n) : (size_t)n;
    uint8_t *dst = n < 0 ? NULL : h->buf_reserve(out, need);
    if (dst != NULL && s->aead) {
        vmess_aead_resp_seal(dst, s->resp_key, s->resp_iv, plain, (size_t)n);
    } else if (dst != NULL) {
        memcpy(dst, plain, (size_t)n);
        vmess_legacy_resp_seal(cfb, s->resp_key, s->resp_iv, dst, (size_t)n);
    }
    sodium_memzero(plain, sizeof(plain));
    if (dst == NULL)
        return -1;
    out->len += need;
    return 0;
}

static int start_response(vmess_in_session *s, evp_buf *out)
{
    vmess_cfb cfb;
    memset(&cfb, 0, sizeof(cfb));
    int rc = -1;
    if (write_response_header(s, out, &cfb) != 0)
        goto out;
    vmess_body_params p;
    memset(&p, 0, sizeof(p));
    p.security = s->req.security;
    p.option = s->req.option;
    p.udp = s->req.command == VMESS_CMD_UDP;
    memcpy(p.key, s->resp_key, 16);
    memcpy(p.iv, s->resp_iv, 16);
    memcpy(p.len_key, s->len_key, 16);
    memcpy(p.len_iv, s->req.iv, 16);
    /* Legacy mode: one CFB stream runs from the response header into a LEGACY body. */
    if (!s->aead && s->req.security == VMESS_SEC_LEGACY)
        p.cfb = &cfb;
    rc = vmess_body_init(s->tx, &p);
    sodium_memzero(&p, sizeof(p));
out:
    vmess_cfb_wipe(&cfb);
    return rc;
}

int vmess_inbound_encode(void *sess, evp_io *io)
{
    vmess_in_session *s = sess;
    const evp_host *h = s->inst->host;
    io->consumed = 0;
    if (s->phase != P_BODY && !(s->phase == P_FAILED && s->resp_sent))
        return broken(s, io, "no response before the request");
    if (!s->resp_sent) {
        if (start_response(s, io->out) != 0)
            return broken(s, io, "cannot write the response header");
        s->resp_sent = 1;
    }
    size_t used = 0;
    int rc = EVP_OK;
    if (io->in_len > 0)
        rc = vmess_body_seal(s->tx, h, io->in, io->in_len, &used, io->out);
    io->consumed = used;
    if (rc == EVP_OK && io->in_eof)
        rc = vmess_body_seal_eof(s->tx, h, io->out);
    if (rc == EVP_ERR) {
        snprintf(io->reason, sizeof(io->reason), "vmess: cannot seal the response body");
        return EVP_ERR;
    }
    return EVP_OK;
}
