/* A VMess inbound connection until its request is accepted: authenticates the first 16
 * bytes (AEAD AuthID, then legacy), reads and checks the request header, names the target,
 * and rejects a failed handshake the way V2Ray does (drain, no reply). */
#include "inbound.h"

#include "inbound_int.h"
#include "mem.h"
#include "replay.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void *vmess_inbound_session_new(void *inst)
{
    vmess_inbound *in = inst;
    vmess_in_session *s = vmess_calloc(1, sizeof(*s));
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
        vmess_body_wipe_pair(s->rx, s->tx);
        vmess_free(s->rx); /* tx shares the allocation */
    }
    vmess_free_wiped(s, sizeof(*s));
    vmess_in_instance_unref(in);
}

void vmess_inbound_session_idle(void *sess)
{
    vmess_in_session *s = sess;
    if (s->rx != NULL)
        vmess_body_idle_pair(s->rx, s->tx);
}

uint32_t vmess_inbound_session_level(void *sess)
{
    vmess_in_session *s = sess;
    return s->user ? s->user->level : 0;
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

int vmess_in_broken(vmess_in_session *s, evp_io *io, const char *why)
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
    vmess_in_detour_refresh(in);
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
        s->rx = vmess_calloc(2, sizeof(vmess_body));
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
    case P_BODY:
        return vmess_in_relay_decode(s, io);
    default:
        return vmess_in_broken(s, io, "session already failed");
    }
    /* Need more header bytes. */
    io->consumed = off;
    s->taken += (uint32_t)off;
    if (io->in_eof)
        return vmess_in_broken(s, io, "client closed during the handshake");
    return EVP_OK;
}
