/* Fuzz target: the "proxy-protocol" transport (core/builtin/proxy_protocol.c and its parser
 * proxy_header.c). Input: byte 0 picks the piece size of a second run (1..64 bytes); the
 * rest is what a front sends. Both runs must agree; a header that is accepted must be
 * consumed exactly, with every byte after it passed up unchanged. */
#include "builtin/builtin.h"
#include "builtin/proxy_header.h"
#include "fuzz_transport.h"

static void *instance;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    evp_transport_args a = {
        .size = sizeof(a), .server = 1, .tag = "fuzz", .settings_json = "{}", .stream_json = "{}"};
    instance =
        evp_builtin_proxy_protocol.transport->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (instance == NULL) {
        fprintf(stderr, "proxy-protocol: %s\n", err);
        abort();
    }
    return 0;
}

static void run(const uint8_t *data, size_t len, size_t piece, fuzz_run *r)
{
    const evp_transport_ops *ops = evp_builtin_proxy_protocol.transport;
    void *s = ops->session_new(instance, NULL);
    if (s == NULL)
        abort();
    fuzz_drive_transport(ops, s, data, len, piece, r);
    ops->session_free(s);
}

/* The parser alone: a verdict on a prefix never needs more than the bound, and a header it
 * accepts lies within the input. */
static void parse_alone(const uint8_t *data, size_t len)
{
    pp_header h;
    char reason[128];
    int v = pp_header_parse(data, len, &h, reason, sizeof(reason));
    if (v == PP_MORE && len >= PP_V2_FIXED + 36 && len >= PP_V1_MAX)
        abort();
    if (v == PP_DONE && (h.len > len || h.len > PP_V1_MAX))
        abort();
    if (v == PP_DONE && h.has_source)
        fuzz_check_addr(&h.source);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_host_reset();
    size_t piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    parse_alone(data, size);
    fuzz_run whole, split;
    run(data, size, 0, &whole);
    run(data, size, piece, &split);
    fuzz_same_runs(&whole, &split, 1);
    if (whole.back.len != 0)
        abort(); /* the server side never answers a front */
    if (whole.status == EVP_ERR && whole.out.len != 0)
        abort(); /* nothing passes before the header is whole */
    if (whole.status == EVP_EOF &&
        (whole.out.len > size ||
         (whole.out.len && memcmp(whole.out.data, data + size - whole.out.len, whole.out.len))))
        abort(); /* after the header, the input's own tail, unchanged */
    if (whole.targets && whole.target.type != EVP_ADDR_IPV4 && whole.target.type != EVP_ADDR_IPV6)
        abort();
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    return 0;
}
