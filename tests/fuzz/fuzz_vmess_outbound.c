/* Fuzz target: the VMess outbound's reading of a server's response (plugin/vmess/outbound.c:
 * AEAD and legacy response header, commands incl. SwitchAccount, response body), after a
 * real request header so the keys are known. Input:
 *   byte 0  bit 0 legacy header (alterId 2), bit 1 UDP, bits 2-4 security,
 *           bit 5 "wrap": the harness encrypts a response header the fuzzer writes in the
 *           clear (so commands are reachable) and seals the body plaintext with the right
 *           keys (which must then come back intact); without it the rest is the raw reply;
 *   byte 1  wrap fix-ups: bit 0 set V to the request's, bit 1 set CmdLen to fit, bit 2 set
 *           the command's FNV-1a;
 *   byte 2  where the reply is split;
 *   wrap:   byte 3 = L, then L bytes of response header plaintext, then body plaintext.
 * Each reply is decoded whole and split, and both must agree; a second session on the same
 * instance then checks where a SwitchAccount would send it. */
#include "../../plugin/vmess/body.h"
#include "../../plugin/vmess/fnv1a.h"
#include "../../plugin/vmess/header_aead.h"
#include "../../plugin/vmess/header_legacy.h"
#include "../../plugin/vmess/kdf.h"
#include "../../plugin/vmess/request.h"
#include "../../plugin/vmess/user_id.h"
#include "fuzz_vmess_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static int open_aead(const uint8_t *w, size_t len, vmess_request *r)
{
    uint8_t uuid[16], cmd_key[16], plain[VMESS_REQUEST_MAX + 16];
    uint16_t hl;
    vmess_uuid_parse(uuid, FUZZ_UUID_AEAD);
    vmess_cmd_key(cmd_key, uuid);
    if (len < VMESS_AEAD_PREFIX || vmess_aead_req_open_len(cmd_key, w, w + 34, w + 16, &hl) != 0 ||
        hl > VMESS_REQUEST_MAX || len < VMESS_AEAD_REQ_SIZE((size_t)hl) ||
        vmess_aead_req_open(cmd_key, w, w + 34, w + VMESS_AEAD_PREFIX, (size_t)hl + 16, plain) != 0)
        return -1;
    return vmess_request_decode(r, plain, hl) == VMESS_REQ_OK ? 0 : -1;
}

static int open_legacy(const uint8_t *w, size_t len, vmess_request *r)
{
    uint8_t uuid[16], cmd_key[16], alt[2][16], auth[16], plain[VMESS_REQUEST_MAX];
    vmess_uuid_parse(uuid, FUZZ_UUID_LEGACY);
    vmess_cmd_key(cmd_key, uuid);
    vmess_alter_ids(alt, uuid, 2);
    if (len < 16)
        return -1;
    /* The client jitters t by [-30, +29] s and picks one of the alternative ids. */
    for (int64_t t = FUZZ_NOW - 30; t < FUZZ_NOW + 30; t++) {
        for (int i = 0; i < 2; i++) {
            vmess_legacy_auth(auth, alt[i], t);
            if (memcmp(auth, w, 16) != 0)
                continue;
            size_t n = len - 16 < sizeof(plain) ? len - 16 : sizeof(plain);
            vmess_cfb cfb;
            memcpy(plain, w + 16, n);
            vmess_legacy_header_cfb(&cfb, cmd_key, t);
            vmess_cfb_decrypt(&cfb, plain, n);
            size_t need = vmess_request_length(plain, n);
            if (need == 0 || need > n)
                return -1;
            return vmess_request_decode(r, plain, need) == VMESS_REQ_OK ? 0 : -1;
        }
    }
    return -1;
}

/* Builds the server's reply from the fuzzer's wrap input; *plain gets the body plaintext
 * and *plain_len how much of it was sealed (UDP: whole records only). Returns 1 when the
 * header's CmdLen matches its length (so the client must find the body where it is). */
static int wrap_reply(const vmess_request *r, int legacy, uint8_t fix, const uint8_t *p, size_t n,
                      evp_buf *reply, const uint8_t **plain, size_t *plain_len)
{
    uint8_t rk[16], riv[16], len_key[16];
    uint8_t hdr[256 + 4];
    size_t hl = n ? p[0] : 0;
    if (hl > n - (n ? 1 : 0))
        hl = n ? n - 1 : 0;
    if (hl > sizeof(hdr))
        hl = sizeof(hdr);
    if (hl)
        memcpy(hdr, p + 1, hl);
    const uint8_t *body = p + (n ? 1 : 0) + hl;
    size_t body_len = n - (n ? 1 : 0) - hl;
    *plain = body;
    if ((fix & 1) && hl >= 1)
        hdr[0] = r->v;
    if ((fix & 2) && hl >= 4)
        hdr[3] = (uint8_t)(hl - 4);
    if ((fix & 4) && hl >= 8) {
        uint32_t f = vmess_fnv1a32(hdr + 8, hl - 8);
        hdr[4] = (uint8_t)(f >> 24);
        hdr[5] = (uint8_t)(f >> 16);
        hdr[6] = (uint8_t)(f >> 8);
        hdr[7] = (uint8_t)f;
    }
    vmess_cfb cfb;
    memset(&cfb, 0, sizeof(cfb));
    if (legacy) {
        vmess_resp_keys_legacy(rk, riv, r->key, r->iv);
        vmess_legacy_resp_seal(&cfb, rk, riv, hdr, hl);
        fuzz_buf_put(reply, hdr, hl);
    } else {
        vmess_resp_keys_aead(rk, riv, r->key, r->iv);
        uint8_t *d = fuzz_host_buf_reserve(reply, VMESS_AEAD_RESP_SIZE(hl));
        if (d == NULL)
            abort();
        reply->len += vmess_aead_resp_seal(d, rk, riv, hdr, hl);
    }
    vmess_kdf16_str(len_key, r->key, 16, "auth_len");
    vmess_body_params bp;
    memset(&bp, 0, sizeof(bp));
    bp.security = r->security;
    bp.option = r->option;
    bp.udp = r->command == VMESS_CMD_UDP;
    memcpy(bp.key, rk, 16);
    memcpy(bp.iv, riv, 16);
    memcpy(bp.len_key, len_key, 16);
    memcpy(bp.len_iv, r->iv, 16);
    if (legacy && r->security == VMESS_SEC_LEGACY)
        bp.cfb = &cfb; /* one CFB stream runs from the header into the body */
    vmess_body w;
    if (vmess_body_init(&w, &bp) != 0)
        abort(); /* the client asked for it, so the combination is valid */
    *plain_len = 0;
    if (vmess_body_seal(&w, fuzz_host_get(), body, body_len, plain_len, reply) != EVP_OK ||
        vmess_body_seal_eof(&w, fuzz_host_get(), reply) != EVP_OK)
        abort();
    vmess_body_wipe(&w);
    return (fix & 2) && hl >= 4 && n >= 1 && hl == p[0];
}

/* Decodes reply on a fresh client (same keys every time), split at cut. */
static void client_read(fuzz_client *c, const uint8_t *reply, size_t len, size_t cut, fuzz_run *r)
{
    const evp_outbound_ops *ops = fuzz_vmess_plugin()->outbound;
    evp_buf rbuf = {0}, back = {0};
    evp_io io;
    memset(r, 0, sizeof(*r));
    for (int step = 0; step < 3 && r->status != EVP_ERR && r->status != EVP_EOF; step++) {
        if (step == 0)
            fuzz_buf_put(&rbuf, reply, cut);
        else if (step == 1 && len > cut)
            fuzz_buf_put(&rbuf, reply + cut, len - cut);
        for (;;) {
            r->status = fuzz_call(ops->decode, c->sess, rbuf.data, rbuf.len, step == 2, &r->out,
                                  &back, &io);
            fuzz_buf_consume(&rbuf, io.consumed);
            if (r->status != EVP_OK || io.consumed == 0)
                break;
        }
    }
    if (back.len != 0)
        abort(); /* reading a response writes nothing back */
    fuzz_buf_free(&rbuf);
    fuzz_buf_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int legacy = data[0] & 1, udp = (data[0] & 2) != 0, wrap = (data[0] & 0x20) != 0;
    unsigned sec = (data[0] >> 2) & 7;
    const uint8_t *p = data + 3;
    size_t n = size - 3;

    /* The request header, and the server's reading of it. */
    fuzz_host_reset();
    fuzz_client c;
    if (fuzz_client_open(&c, legacy, sec, udp) != 0)
        return 0;
    evp_buf wire = {0};
    fuzz_client_send(&c, NULL, 0, 0, &wire);
    fuzz_client_close(&c);
    vmess_request req;
    if ((legacy ? open_legacy : open_aead)(wire.data, wire.len, &req) != 0)
        abort(); /* our own header must open with our own keys */
    fuzz_buf_free(&wire);

    evp_buf reply = {0};
    size_t plain_len = 0;
    const uint8_t *plain = NULL;
    int framed = 0;
    if (wrap)
        framed = wrap_reply(&req, legacy, data[1], p, n, &reply, &plain, &plain_len);
    else
        fuzz_buf_put(&reply, p, n);
    size_t cut = reply.len ? (size_t)data[2] * reply.len / 255 : 0;

    fuzz_run whole, split;
    for (int i = 0; i < 2; i++) {
        fuzz_host_reset();
        if (fuzz_client_open(&c, legacy, sec, udp) != 0)
            abort();
        evp_buf hdr = {0};
        fuzz_client_send(&c, NULL, 0, 0, &hdr);
        fuzz_buf_free(&hdr);
        client_read(&c, reply.data, reply.len, i ? cut : reply.len, i ? &split : &whole);
        if (i == 1) {
            /* A later session on this instance: a SwitchAccount may have moved it. */
            evp_addr target, dial;
            char err[128];
            memset(&target, 0, sizeof(target));
            target.type = EVP_ADDR_IPV4;
            target.len = 4;
            target.port = 80;
            void *s2 = fuzz_vmess_plugin()->outbound->session_new(c.inst, &target, EVP_NET_TCP,
                                                                  &dial, err, sizeof(err));
            if (s2 != NULL) {
                fuzz_check_addr(&dial);
                evp_buf h2 = {0}, b2 = {0};
                evp_io io;
                fuzz_call(fuzz_vmess_plugin()->outbound->encode, s2, NULL, 0, 0, &h2, &b2, &io);
                fuzz_buf_free(&h2);
                fuzz_buf_free(&b2);
                fuzz_vmess_plugin()->outbound->session_free(s2);
            }
        }
        fuzz_client_close(&c);
    }
    /* For UDP, compare the datagrams' payloads (see fuzz_unframe). */
    if (udp) {
        fuzz_unframe(&whole.out);
        fuzz_unframe(&split.out);
    }
    fuzz_same_runs(&whole, &split, 0);
    if (framed && !udp && whole.status != EVP_ERR &&
        (whole.out.len != plain_len ||
         (plain_len && memcmp(whole.out.data, plain, plain_len) != 0)))
        abort(); /* a response the client accepted must decode to what was sealed */
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    fuzz_buf_free(&reply);
    return 0;
}
