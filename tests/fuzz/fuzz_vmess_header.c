/* Fuzz target: the VMess header plaintext parsers (plugin/vmess/request.c, command.c), alone
 * and behind real authentication, so that a hostile but authenticated client is covered.
 * Input: byte 0 chooses
 *   bits 0-1  0: request header decode, and a re-encode of what decoded must decode the same;
 *             1: the header sealed as an AEAD request for the fixed user, through the inbound;
 *             2: the header sealed as a legacy request (alterId user), through the inbound;
 *             3: response header decode and SwitchAccount decode, with a re-encode check;
 *   bit 2     write the right FNV-1a where the header's own length says it goes;
 * byte 1 = L, the header's length; then L header bytes; the rest follows it on the wire. */
#include "../../plugin/vmess/command.h"
#include "../../plugin/vmess/fnv1a.h"
#include "../../plugin/vmess/header_aead.h"
#include "../../plugin/vmess/header_legacy.h"
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

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void same_request(const vmess_request *a, const vmess_request *b)
{
    if (a->version != b->version || memcmp(a->iv, b->iv, 16) != 0 ||
        memcmp(a->key, b->key, 16) != 0 || a->v != b->v || a->option != b->option ||
        a->padding_len != b->padding_len || a->security != b->security ||
        a->command != b->command || a->target.type != b->target.type ||
        a->target.port != b->target.port || a->target.len != b->target.len ||
        memcmp(a->target.bytes, b->target.bytes, a->target.len) != 0)
        abort();
}

static void request_round_trip(const uint8_t *h, size_t len)
{
    vmess_request r;
    size_t need = vmess_request_length(h, len);
    int rc = vmess_request_decode(&r, h, len);
    if (rc != VMESS_REQ_OK)
        return;
    if (need == 0 || need > len || need > VMESS_REQUEST_MAX)
        abort(); /* an accepted header has the length the prefix promised */
    fuzz_check_addr(&r.target);
    uint8_t out[VMESS_REQUEST_MAX], pad[16];
    memcpy(pad, h + need - 4 - r.padding_len, r.padding_len); /* just before the FNV */
    int n = vmess_request_encode(&r, pad, out, sizeof(out));
    if (n < 0)
        return; /* e.g. an IP literal domain came back as an IP: encode may refuse nothing */
    vmess_request again;
    if (vmess_request_decode(&again, out, (size_t)n) != VMESS_REQ_OK)
        abort();
    same_request(&r, &again);
}

static void response_round_trip(const uint8_t *h, size_t len)
{
    vmess_resp_header rh;
    if (vmess_resp_header_decode(&rh, h, len) != 0)
        return;
    if (rh.payload != NULL && (rh.payload < h || rh.payload + rh.payload_len > h + len))
        abort();
    vmess_switch_account sa;
    if (rh.payload == NULL || vmess_switch_account_decode(&sa, rh.payload, rh.payload_len) != 0)
        return;
    if (strlen(sa.host) != sa.host_len)
        abort(); /* the host is one clean string */
    uint8_t out[300];
    int n = vmess_switch_account_encode(&sa, out, sizeof(out));
    vmess_switch_account again;
    if (n < 0 || vmess_switch_account_decode(&again, out, (size_t)n) != 0 ||
        again.host_len != sa.host_len || strcmp(again.host, sa.host) != 0 ||
        again.port != sa.port || memcmp(again.uuid, sa.uuid, 16) != 0 ||
        again.alter_id != sa.alter_id || again.level != sa.level || again.valid_min != sa.valid_min)
        abort();
}

/* Seals h as a client of the fixed users would, then lets a fresh inbound read it. */
static void through_inbound(int legacy, const uint8_t *h, size_t len, const uint8_t *rest,
                            size_t rest_len)
{
    uint8_t uuid[16], cmd_key[16];
    vmess_uuid_parse(uuid, legacy ? FUZZ_UUID_LEGACY : FUZZ_UUID_AEAD);
    vmess_cmd_key(cmd_key, uuid);
    evp_buf wire = {0};
    if (legacy) {
        uint8_t alt[2][16];
        vmess_alter_ids(alt, uuid, 2);
        uint8_t *d = fuzz_host_buf_reserve(&wire, 16 + len);
        if (d == NULL)
            abort();
        wire.len += vmess_legacy_req_seal(d, alt[1], cmd_key, FUZZ_NOW - 7, h, len);
    } else {
        static const uint8_t rnd[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        uint8_t authid[16];
        vmess_authid_make(authid, cmd_key, FUZZ_NOW, rnd);
        uint8_t *d = fuzz_host_buf_reserve(&wire, VMESS_AEAD_REQ_SIZE(len));
        if (d == NULL)
            abort();
        wire.len += vmess_aead_req_seal(d, cmd_key, authid, rnd + 4, h, len);
    }
    fuzz_buf_put(&wire, rest, rest_len);
    const evp_inbound_ops *ops = fuzz_vmess_plugin()->inbound;
    void *inst = fuzz_server_new(FUZZ_VMESS_INBOUND);
    void *s = ops->session_new(inst);
    if (s == NULL)
        abort();
    fuzz_run r;
    static const uint8_t reply[] = "pong";
    fuzz_drive_inbound(ops, s, wire.data, wire.len, NULL, 0, 1, reply, sizeof(reply) - 1, &r);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "[fuzz] inbound: status %d targets %d out %zu\n", r.status, r.targets,
                r.out.len);
    if (r.targets == 1) {
        /* Accepted: it must be a header the parser accepts on its own too. */
        vmess_request req;
        if (vmess_request_decode(&req, h, len) != VMESS_REQ_OK)
            abort();
    }
    fuzz_run_free(&r);
    ops->session_free(s);
    ops->instance_free(inst);
    fuzz_buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3;
    size_t hl = data[1] < size - 2 ? data[1] : size - 2;
    /* Exactly hl bytes on the heap, so that ASan sees a parser reading past the header. */
    uint8_t *h = malloc(hl > 0 ? hl : 1);
    if (h == NULL)
        return 0;
    memcpy(h, data + 2, hl);
    const uint8_t *rest = data + 2 + hl;
    size_t rest_len = size - 2 - hl;
    if (data[0] & 4) {
        if (mode == 3) {
            if (hl >= 8) {
                h[3] = (uint8_t)(hl - 4);
                put_be32(h + 4, vmess_fnv1a32(h + 8, hl - 8));
            }
        } else {
            size_t need = vmess_request_length(h, hl);
            if (need >= 4 && need <= hl)
                put_be32(h + need - 4, vmess_fnv1a32(h, need - 4));
        }
    }
    fuzz_host_reset();
    if (mode == 0)
        request_round_trip(h, hl);
    else if (mode == 3)
        response_round_trip(h, hl);
    else
        through_inbound(mode == 2, h, hl, rest, rest_len);
    free(h);
    return 0;
}
