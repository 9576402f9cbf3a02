/* Fuzz target: the HTTP proxy inbound (core/builtin/http.c, http_request.c). Input: byte 0
 * picks the settings (open / accounts / allowTransparent) and whether the outbound
 * "connects"; byte 1 picks a split point; the rest is the client's stream. Decoded whole
 * and split in two, both runs must agree; byte by byte for short inputs. */
#include "builtin/builtin.h"
#include "fuzz_drive.h"

static const char *const settings[] = {
    "{}",
    "{\"accounts\":[{\"user\":\"u\",\"pass\":\"p\"},{\"user\":\"admin\",\"pass\":\"secret\"}]}",
    "{\"allowTransparent\":true,\"timeout\":30}",
    "{\"allowTransparent\":true,\"accounts\":[{\"user\":\"u\",\"pass\":\"p\"}]}",
};

static void *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const evp_inbound_ops *ops = evp_builtin_http()->inbound;
    for (size_t i = 0; i < 4; i++) {
        char err[256];
        evp_instance_args a = {sizeof(a), "fuzz", settings[i], 8080};
        instances[i] = ops->instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (instances[i] == NULL) {
            fprintf(stderr, "http settings %zu: %s\n", i, err);
            abort();
        }
    }
    return 0;
}

static void run_stream(void *inst, const uint8_t *data, size_t len, const size_t *cuts,
                       size_t ncuts, int ok, fuzz_run *r)
{
    const evp_inbound_ops *ops = evp_builtin_http()->inbound;
    static const uint8_t reply[] = "HTTP/1.0 200 OK\r\n\r\n";
    void *s = ops->session_new(inst);
    if (s == NULL)
        abort();
    fuzz_drive_inbound(ops, s, data, len, cuts, ncuts, ok, reply, sizeof(reply) - 1, r);
    const char *user = ops->session_user(s);
    if (user != NULL && strlen(user) > 255)
        abort();
    ops->session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fuzz_host_reset();
    void *inst = instances[data[0] & 3];
    int ok = (data[0] & 4) == 0;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    size_t cut = n ? data[1] % (n + 1) : 0;

    fuzz_run whole, split;
    run_stream(inst, p, n, NULL, 0, ok, &whole);
    run_stream(inst, p, n, &cut, 1, ok, &split);
    fuzz_same_runs(&whole, &split, 1);
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    if (n <= 64) {
        size_t cuts[64];
        for (size_t i = 0; i < n; i++)
            cuts[i] = i;
        fuzz_run bytes;
        fuzz_host_reset();
        run_stream(inst, p, n, cuts, n, ok, &bytes);
        fuzz_run_free(&bytes);
    }
    return 0;
}
