/* The VMess outbound: the client's half of the protocol, as V2Ray 4.34's client does it
 * (proxy/vmess/outbound, proxy/vmess/encoding/client.go), on the session-free codecs. */
#include "outbound.h"
#include "mux_frame.h"

#include "detour.h"
#include "host_abi.h"
#include "mem.h"
#include "proto.h"
#include "settings.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One configured account, with what sessions need precomputed. */
typedef struct out_account {
    const vmess_server_cfg *server; /* borrowed from the instance's cfg */
    uint8_t uuid[16];
    uint8_t cmd_key[16];
    uint16_t alter_id;
    uint8_t security;   /* nibble or VMESS_CFG_ZERO */
    uint8_t (*alt)[16]; /* alter_id alternative ids, or NULL */
} out_account;

typedef struct vmess_outbound {
    const evp_host *host;
    atomic_uint refs; /* the host's, plus one per session */
    vmess_outbound_cfg cfg;
    out_account *accounts; /* every (server, user) pair, in config order */
    size_t n_accounts;
    atomic_uint next;      /* round robin over accounts */
    uint8_t aead_disabled; /* env v2ray.vmess.aead.disabled == "true" */
    uint8_t padding_env;   /* env v2ray.vmess.padding set */
    vmess_detour_slot detour;
} vmess_outbound;

enum resp_state {
    RESP_HEADER = 0,
    RESP_BODY,
    RESP_FAILED,
};

typedef struct vmess_out_session {
    vmess_outbound *inst;
    uint8_t aead; /* AEAD header, else legacy */
    uint8_t header_sent;
    uint8_t resp_state;    /* enum resp_state */
    uint8_t have_resp_len; /* AEAD: the response header length is known */
    uint16_t resp_len;
    uint8_t id[16];      /* the id the legacy auth is made with */
    uint8_t cmd_key[16]; /* the primary cmdKey */
    evp_addr server;     /* where we dialled: a SwitchAccount with no host means this */
    vmess_request req;
    uint8_t resp_key[16];
    uint8_t resp_iv[16];
    uint8_t len_key[16]; /* AuthenticatedLength key, both directions */
    vmess_body tx;       /* request body writer */
    vmess_body rx;       /* response body reader */
} vmess_out_session;

static void fail(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static void free_accounts(vmess_outbound *o)
{
    for (size_t i = 0; i < o->n_accounts; i++) {
        out_account *a = &o->accounts[i];
        vmess_free_wiped(a->alt, (size_t)a->alter_id * 16);
        sodium_memzero(a, sizeof(*a));
    }
    vmess_free(o->accounts);
    o->accounts = NULL;
    o->n_accounts = 0;
}

static int build_accounts(vmess_outbound *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->cfg.n_servers; i++)
        n += o->cfg.servers[i].n_users;
    o->accounts = vmess_calloc(n, sizeof(*o->accounts));
    if (o->accounts == NULL)
        return -1;
    for (size_t i = 0; i < o->cfg.n_servers; i++) {
        const vmess_server_cfg *srv = &o->cfg.servers[i];
        for (size_t j = 0; j < srv->n_users; j++) {
            const vmess_user_cfg *u = &srv->users[j];
            out_account *a = &o->accounts[o->n_accounts++];
            a->server = srv;
            memcpy(a->uuid, u->id, 16);
            vmess_cmd_key(a->cmd_key, u->id);
            a->alter_id = u->alter_id;
            a->security = u->security;
            if (u->alter_id > 0) {
                a->alt = vmess_alloc((size_t)u->alter_id * 16);
                if (a->alt == NULL)
                    return -1;
                vmess_alter_ids(a->alt, u->id, u->alter_id);
            }
        }
    }
    return 0;
}

void *vmess_outbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                         size_t errlen)
{
    vmess_mem_adopt(host);
    vmess_outbound *o = vmess_calloc(1, sizeof(*o));
    if (o == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    o->host = host;
    atomic_init(&o->refs, 1);
    if (vmess_detour_slot_init(&o->detour, host, args->tag, args->settings_json) != 0) {
        vmess_free(o);
        fail(err, errlen, "cannot create a lock");
        return NULL;
    }
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if (vmess_outbound_cfg_parse(json, &o->cfg, err, errlen) != 0)
        goto fail;
    if (build_accounts(o) != 0) {
        fail(err, errlen, "out of memory");
        goto fail;
    }
    const char *v = vmess_env_flag("v2ray.vmess.aead.disabled", "V2RAY_VMESS_AEAD_DISABLED");
    o->aead_disabled = v != NULL && strcmp(v, "true") == 0;
    v = vmess_env_flag("v2ray.vmess.padding", "V2RAY_VMESS_PADDING");
    o->padding_env = v != NULL && v[0] != '\0';
    return o;
fail:
    vmess_outbound_free(o);
    return NULL;
}

static void inst_unref(vmess_outbound *o)
{
    if (atomic_fetch_sub(&o->refs, 1) != 1)
        return;
    free_accounts(o);
    vmess_outbound_cfg_free(&o->cfg);
    vmess_detour_slot_destroy(&o->detour);
    vmess_free(o);
}

void vmess_outbound_free(void *inst)
{
    if (inst != NULL)
        inst_unref(inst);
}

/* The option byte as 4.34's client sets it (§6), with "zero" as 4.35 sends it. */
static uint8_t client_option(const vmess_outbound *o, uint8_t sec, int zero)
{
    if (zero)
        return 0;
    uint8_t opt = VMESS_OPT_CHUNK_STREAM;
    if (sec == VMESS_SEC_GCM || sec == VMESS_SEC_CHACHA || sec == VMESS_SEC_NONE)
        opt |= VMESS_OPT_CHUNK_MASKING;
    if ((opt & VMESS_OPT_CHUNK_MASKING) &&
        (sec == VMESS_SEC_GCM || sec == VMESS_SEC_CHACHA || o->padding_env))
        opt |= VMESS_OPT_GLOBAL_PADDING;
    return opt;
}

/* Fills the request fields that are the client's random choices. */
static void random_request(const evp_host *h, vmess_request *r)
{
    uint8_t rnd[2];
    h->random_bytes(r->iv, sizeof(r->iv));
    h->random_bytes(r->key, sizeof(r->key));
    h->random_bytes(rnd, sizeof(rnd));
    r->v = rnd[0];
    r->padding_len = rnd[1] % 16;
    r->version = 1;
}

/* Chooses the account: a live detour account first, else round robin over the config. */
static void choose_account(vmess_out_session *s)
{
    vmess_outbound *o = s->inst;
    const evp_host *h = o->host;
    uint32_t r;
    h->random_bytes(&r, sizeof(r));
    vmess_detour_pick pick;
    if (vmess_detour_slot_pick(&o->detour, r, &pick)) {
        s->server = pick.server;
        vmess_cmd_key(s->cmd_key, pick.uuid);
        memcpy(s->id, pick.id, 16);
        s->aead = pick.alter_id == 0 && !o->aead_disabled;
        if (o->aead_disabled)
            memcpy(s->id, pick.uuid, 16);
        s->req.security = VMESS_SEC_LEGACY; /* SwitchAccount accounts are LEGACY (§7) */
        s->req.option = client_option(o, VMESS_SEC_LEGACY, 0);
        sodium_memzero(&pick, sizeof(pick));
        return;
    }
    unsigned i = atomic_fetch_add(&o->next, 1) % o->n_accounts;
    const out_account *a = &o->accounts[i];
    s->server = a->server->addr;
    memcpy(s->cmd_key, a->cmd_key, 16);
    /* 4.34: AEAD iff alterId == 0; legacy uses a random alternative id, or the primary
     * one when AEAD is disabled by the environment. */
    s->aead = a->alter_id == 0 && !o->aead_disabled;
    if (a->alter_id > 0 && !o->aead_disabled)
        memcpy(s->id, a->alt[r % a->alter_id], 16);
    else
        memcpy(s->id, a->uuid, 16);
    int zero = a->security == VMESS_CFG_ZERO;
    s->req.security = zero ? VMESS_SEC_NONE : a->security;
    s->req.option = client_option(o, s->req.security, zero);
}

static void body_params(vmess_body_params *p, const vmess_out_session *s, const uint8_t key[16],
                        const uint8_t iv[16])
{
    memset(p, 0, sizeof(*p));
    p->security = s->req.security;
    p->option = s->req.option;
    p->udp = s->req.command == VMESS_CMD_UDP;
    memcpy(p->key, key, 16);
    memcpy(p->iv, iv, 16);
    memcpy(p->len_key, s->len_key, 16);
    memcpy(p->len_iv, s->req.iv, 16);
}

void *vmess_outbound_session_new(void *inst, const evp_addr *target, uint8_t network,
                                 evp_addr *dial, char *err, size_t errlen)
{
    vmess_outbound *o = inst;
    const evp_host *h = o->host;
    if (network != EVP_NET_TCP && network != EVP_NET_UDP) {
        fail(err, errlen, "vmess: unsupported network");
        return NULL;
    }
    if (target->type != EVP_ADDR_IPV4 && target->type != EVP_ADDR_IPV6 &&
        target->type != EVP_ADDR_DOMAIN) {
        fail(err, errlen, "vmess: no target address");
        return NULL;
    }
    vmess_out_session *s = vmess_calloc(1, sizeof(*s));
    if (s == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    atomic_fetch_add(&o->refs, 1);
    s->inst = o;
    choose_account(s);
    random_request(h, &s->req);
    s->req.command = network == EVP_NET_UDP ? VMESS_CMD_UDP : VMESS_CMD_TCP;
    /* A Mux client's connection (V2Ray's rule: the target's name alone says so). */
    if (target->type == EVP_ADDR_DOMAIN && target->len == sizeof VMESS_MUX_COOL_DOMAIN - 1 &&
        memcmp(target->bytes, VMESS_MUX_COOL_DOMAIN, target->len) == 0)
        s->req.command = VMESS_CMD_MUX;
    s->req.target = *target;
    if (s->aead)
        vmess_resp_keys_aead(s->resp_key, s->resp_iv, s->req.key, s->req.iv);
    else
        vmess_resp_keys_legacy(s->resp_key, s->resp_iv, s->req.key, s->req.iv);
    vmess_kdf16_str(s->len_key, s->req.key, 16, "auth_len");
    vmess_body_params p;
    body_params(&p, s, s->req.key, s->req.iv);
    int rc = vmess_body_init(&s->tx, &p);
    sodium_memzero(&p, sizeof(p));
    if (rc != 0) {
        fail(err, errlen, "vmess: bad security/option combination");
        vmess_outbound_session_free(s);
        return NULL;
    }
    *dial = s->server;
    return s;
}

void vmess_outbound_session_free(void *sess)
{
    vmess_out_session *s = sess;
    if (s == NULL)
        return;
    vmess_outbound *o = s->inst;
    vmess_body_wipe_pair(&s->tx, &s->rx);
    vmess_free_wiped(s, sizeof(*s));
    inst_unref(o);
}

void vmess_outbound_session_idle(void *sess)
{
    vmess_out_session *s = sess;
    vmess_body_idle_pair(&s->tx, &s->rx);
}

static int set_error(evp_io *io, const char *why)
{
    snprintf(io->reason, sizeof(io->reason), "vmess: %s", why);
    return EVP_ERR;
}

/* Appends the request header (AEAD or legacy) to out. */
static int write_header(vmess_out_session *s, evp_buf *out)
{
    const evp_host *h = s->inst->host;
    uint8_t plain[VMESS_REQUEST_MAX];
    uint8_t pad[16];
    h->random_bytes(pad, sizeof(pad));
    int len = vmess_request_encode(&s->req, pad, plain, sizeof(plain));
    if (len < 0)
        return -1;
    int64_t now = h->unix_time();
    size_t need = s->aead ? VMESS_AEAD_REQ_SIZE((size_t)len) : 16 + (size_t)len;
    uint8_t *dst = h->buf_reserve(out, need);
    if (dst == NULL)
        return -1;
    if (s->aead) {
        uint8_t rnd[4 + 8], authid[16];
        h->random_bytes(rnd, sizeof(rnd));
        vmess_authid_make(authid, s->cmd_key, now, rnd);
        vmess_aead_req_seal(dst, s->cmd_key, authid, rnd + 4, plain, (size_t)len);
    } else {
        /* The legacy timestamp is jittered by [-30, +29] s, as Go's Roll(60) - 30. */
        uint8_t r;
        h->random_bytes(&r, 1);
        int64_t t = now + (int64_t)(r % 60) - 30;
        vmess_legacy_req_seal(dst, s->id, s->cmd_key, t, plain, (size_t)len);
    }
    out->len += need;
    sodium_memzero(plain, sizeof(plain));
    return 0;
}

int vmess_outbound_encode(void *sess, evp_io *io)
{
    vmess_out_session *s = sess;
    const evp_host *h = s->inst->host;
    if (!s->header_sent) {
        if (write_header(s, io->out) != 0)
            return set_error(io, "cannot write the request header");
        s->header_sent = 1;
    }
    size_t used = 0;
    int rc = EVP_OK;
    if (io->in_len > 0)
        rc = vmess_body_seal(&s->tx, h, io->in, io->in_len, &used, io->out);
    io->consumed = used;
    if (rc == EVP_OK && io->in_eof)
        rc = vmess_body_seal_eof(&s->tx, h, io->out);
    if (rc == EVP_ERR)
        return set_error(io, "cannot seal the request body");
    return EVP_OK;
}

/* Acts on a response command: SwitchAccount moves later sessions to the detour. */
static void handle_command(vmess_out_session *s, const vmess_resp_header *rh)
{
    const evp_host *h = s->inst->host;
    if (rh->cmd != VMESS_RESP_CMD_SWITCH_ACCOUNT)
        return;
    vmess_switch_account sa;
    if (vmess_switch_account_decode(&sa, rh->payload, rh->payload_len) != 0)
        return;
    if (vmess_detour_slot_accept(&s->inst->detour, &sa, &s->server) == 0 &&
        h->log_enabled(EVP_LOG_INFO)) {
        /* The host name comes from the server: escaped before it reaches the log. */
        char host[4 * sizeof(sa.host) + 1] = "?";
        if (VMESS_HOST_HAS(h, log_escape))
            h->log_escape(sa.host, sa.host_len, host, sizeof(host));
        h->log(EVP_LOG_INFO, "vmess: switched to a detour account at \"%s\" port %u for %u min",
               host, (unsigned)sa.port, (unsigned)sa.valid_min);
    }
    sodium_memzero(&sa, sizeof(sa));
}

/* Reads the response header from in[0..len); returns bytes used (0: need more) or -1. */
static long read_resp_header(vmess_out_session *s, const uint8_t *in, size_t len, const char **why)
{
    uint8_t plain[VMESS_AEAD_RESP_SIZE(VMESS_RESP_HEADER_MAX)];
    vmess_cfb cfb;
    size_t used = 0, n;
    *why = "bad response header";
    if (s->aead) {
        if (!s->have_resp_len) {
            if (len < VMESS_AEAD_LEN_SIZE)
                return 0;
            if (vmess_aead_resp_open_len(s->resp_key, s->resp_iv, in, &s->resp_len) != 0)
                return -1;
            if (s->resp_len > VMESS_RESP_HEADER_MAX)
                return -1;
            s->have_resp_len = 1;
        }
        n = (size_t)s->resp_len;
        if (len < VMESS_AEAD_RESP_SIZE(n))
            return 0;
        used = VMESS_AEAD_RESP_SIZE(n);
        if (vmess_aead_resp_open(s->resp_key, s->resp_iv, in + VMESS_AEAD_LEN_SIZE, n + 16,
                                 plain) != 0)
            return -1;
    } else {
        /* Unframed: decrypt the fixed 4 bytes to learn CmdLen, then the whole header from
         * the start of a fresh stream, which then continues into a LEGACY body. */
        if (len < 4)
            return 0;
        memcpy(plain, in, 4);
        vmess_cfb_init(&cfb, s->resp_key, s->resp_iv);
        vmess_cfb_decrypt(&cfb, plain, 4);
        n = vmess_resp_header_length(plain, 4);
        vmess_cfb_wipe(&cfb);
        if (len < n)
            return 0;
        used = n;
        memcpy(plain, in, n);
        vmess_cfb_init(&cfb, s->resp_key, s->resp_iv);
        vmess_cfb_decrypt(&cfb, plain, n);
    }
    vmess_resp_header rh;
    long rc = -1;
    if (vmess_resp_header_decode(&rh, plain, n) != 0)
        goto out;
    if (rh.v != s->req.v) {
        *why = "unexpected response header (V mismatch)";
        goto out;
    }
    handle_command(s, &rh);
    vmess_body_params p;
    body_params(&p, s, s->resp_key, s->resp_iv);
    if (!s->aead && s->req.security == VMESS_SEC_LEGACY)
        p.cfb = &cfb;
    int init = vmess_body_init(&s->rx, &p);
    sodium_memzero(&p, sizeof(p));
    if (init != 0)
        goto out;
    rc = (long)used;
out:
    if (!s->aead)
        vmess_cfb_wipe(&cfb);
    sodium_memzero(plain, sizeof(plain));
    return rc;
}

int vmess_outbound_decode(void *sess, evp_io *io)
{
    vmess_out_session *s = sess;
    size_t off = 0;
    io->consumed = 0;
    if (s->resp_state == RESP_FAILED)
        return set_error(io, "session already failed");
    if (s->resp_state == RESP_HEADER) {
        const char *why;
        long n = read_resp_header(s, io->in, io->in_len, &why);
        if (n < 0) {
            s->resp_state = RESP_FAILED;
            return set_error(io, why);
        }
        if (n == 0) {
            if (io->in_eof)
                return set_error(io, "connection closed before the response header");
            return EVP_OK;
        }
        off = (size_t)n;
        s->resp_state = RESP_BODY;
    }
    size_t used = 0;
    int rc = vmess_body_open(&s->rx, s->inst->host, io->in + off, io->in_len - off, &used, io->out);
    io->consumed = off + used;
    if (rc == EVP_ERR) {
        s->resp_state = RESP_FAILED;
        return set_error(io, s->rx.why != NULL ? s->rx.why : "bad response body");
    }
    if (rc == EVP_OK && io->in_eof) {
        /* A 4.34 server often ends with a bare close after a whole chunk (§8.6). */
        if (io->consumed == io->in_len && vmess_body_at_boundary(&s->rx))
            return EVP_EOF;
        s->resp_state = RESP_FAILED;
        return set_error(io, "response truncated mid-chunk");
    }
    return rc;
}
