/* Fuzz target: the VMess inbound (plugin/vmess/inbound*.c: AEAD and legacy header decode,
 * user lookup, replay checks, body reader, response writer) with a fixed user table.
 * Input: byte 0 chooses
 *   bits 0-1  mode: 0 the rest is the whole client stream;
 *                   1 a real request header (made by the plugin's outbound), then the rest
 *                     raw, to reach the body reader;
 *                   2 a real header, then the rest as plaintext sealed by the outbound: the
 *                     inbound must hand back exactly that plaintext;
 *                   3 as 2, then one wire byte past the header is flipped;
 *   bit 2     legacy header (alterId 2 user) instead of AEAD;
 *   bit 3     UDP (command 2) instead of TCP;
 *   bits 4-6  the security (fuzz_vmess_securities);
 *   bit 7     server settings with disableInsecureEncryption and a detour;
 * byte 1 picks where the stream is split (and which byte mode 3 flips); every stream is
 * decoded whole and split, and both runs must agree. */
#include "fuzz_vmess_common.h"

#define DETOUR_TARGET "{\"clients\":[]}"
#define SERVER_STRICT                                                                              \
    "{\"clients\":[{\"id\":\"" FUZZ_UUID_AEAD "\",\"alterId\":0,\"email\":\"a@fuzz\"},"            \
    "{\"id\":\"" FUZZ_UUID_LEGACY "\",\"alterId\":2,\"email\":\"b@fuzz\"}],"                       \
    "\"disableInsecureEncryption\":true,\"detour\":{\"to\":\"fuzz-dt\"}}"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

/* Decodes wire[0..len) on fresh server instances, split at the given cuts. */
static void serve(int strict, const uint8_t *wire, size_t len, const size_t *cuts, size_t ncuts,
                  fuzz_run *r)
{
    static const uint8_t reply[] = "pong";
    const evp_inbound_ops *ops = fuzz_vmess_plugin()->inbound;
    char err[256];
    void *dt = NULL;
    if (strict) {
        evp_instance_args a = {sizeof(a), "fuzz-dt", DETOUR_TARGET, 10087};
        dt = ops->instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (dt == NULL)
            abort();
    }
    void *inst = fuzz_server_new(strict ? SERVER_STRICT : FUZZ_VMESS_INBOUND);
    void *s = ops->session_new(inst);
    if (s == NULL)
        abort();
    fuzz_drive_inbound(ops, s, wire, len, cuts, ncuts, 1, reply, sizeof(reply) - 1, r);
    /* Target data, then its end, through the response encoder. */
    if (r->targets == 1 && r->status != EVP_ERR) {
        evp_buf scratch = {0};
        evp_io io;
        if (fuzz_call(ops->encode, s, NULL, 0, 1, &r->back, &scratch, &io) == EVP_ERR &&
            r->network != EVP_NET_UDP)
            abort(); /* the end marker after an accepted request cannot fail */
        fuzz_buf_free(&scratch);
    }
    const char *user = ops->session_user(s);
    if (user != NULL && strcmp(user, "a@fuzz") != 0 && strcmp(user, "b@fuzz") != 0)
        abort();
    ops->session_free(s);
    ops->instance_free(inst);
    if (dt != NULL)
        ops->instance_free(dt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3;
    int legacy = (data[0] & 4) != 0, udp = (data[0] & 8) != 0;
    unsigned sec = (data[0] >> 4) & 7;
    int strict = (data[0] & 0x80) != 0;
    const uint8_t *p = data + 2;
    size_t n = size - 2;

    fuzz_host_reset();
    evp_buf wire = {0};
    size_t header_len = 0, sealed = 0;
    if (mode == 0) {
        fuzz_buf_put(&wire, p, n);
    } else {
        fuzz_client c;
        if (fuzz_client_open(&c, legacy, sec, udp) != 0)
            return 0;
        fuzz_client_send(&c, NULL, 0, 0, &wire);
        header_len = wire.len;
        if (mode == 1)
            fuzz_buf_put(&wire, p, n);
        else
            sealed = fuzz_client_send(&c, p, n, 1, &wire);
        fuzz_client_close(&c);
        if (mode == 3 && wire.len > header_len)
            wire.data[header_len + data[1] % (wire.len - header_len)] ^= 0x5a;
    }

    size_t cut = wire.len ? (size_t)data[1] * wire.len / 255 : 0;
    fuzz_run whole, split;
    fuzz_host_reset();
    serve(strict, wire.data, wire.len, NULL, 0, &whole);
    fuzz_host_reset();
    serve(strict, wire.data, wire.len, &cut, 1, &split);
    /* Responses carry random padding drawn at different times: compare what was decoded
     * (for UDP, the datagrams' payloads: see fuzz_unframe). */
    if (whole.targets == 1 && whole.network == EVP_NET_UDP) {
        fuzz_unframe(&whole.out);
        fuzz_unframe(&split.out);
    }
    fuzz_same_runs(&whole, &split, 0);

    if (mode == 2 && !strict && !udp) {
        /* Our own client's stream must come through intact. */
        if (whole.status == EVP_ERR || whole.targets != 1 || whole.out.len != sealed ||
            (sealed && memcmp(whole.out.data, p, sealed) != 0))
            abort();
    }
    if (mode != 0 && !strict && whole.targets != 1)
        abort(); /* a header from our own client must be accepted */
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    fuzz_buf_free(&wire);
    return 0;
}
