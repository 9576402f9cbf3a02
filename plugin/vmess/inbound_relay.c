/* A VMess inbound connection once its request is accepted: opens the request body, and
 * seals the response (its header, with SwitchAccount when a detour is configured, then the
 * body). */
#include "inbound.h"

#include "host_abi.h"
#include "inbound_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int vmess_in_relay_decode(vmess_in_session *s, evp_io *io)
{
    size_t used = 0;
    int rc = vmess_body_open(s->rx, s->inst->host, io->in, io->in_len, &used, io->out);
    io->consumed = used;
    if (rc == EVP_ERR)
        return vmess_in_broken(s, io, s->rx->why != NULL ? s->rx->why : "bad request body");
    if (rc == EVP_OK && io->in_eof) {
        /* The client closed without the end marker: clean only between chunks. */
        if (used == io->in_len && vmess_body_at_boundary(s->rx))
            return EVP_EOF;
        return vmess_in_broken(s, io, "request truncated mid-chunk");
    }
    return rc;
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
        if (vmess_detour_switch(h, s->detour_to, s->user->email, &sa) == 0)
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
        return vmess_in_broken(s, io, "no response before the request");
    if (!s->resp_sent) {
        if (start_response(s, io->out) != 0)
            return vmess_in_broken(s, io, "cannot write the response header");
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
