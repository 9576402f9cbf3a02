/* Fuzz target: the "h2" transport's server side (plugin/h2, nghttp2 underneath). Input: byte
 * 0 chooses
 *   bits 0-5  the piece size (1..64) of a second run, which must agree with the first;
 *   bit 6     a server with host ["a.example"] and path "/p" instead of V2Ray's defaults;
 *   bit 7     the bytes our own client writes first (preface, SETTINGS, window, a PUT for
 *             the defaults) go in front, so the fuzzer starts inside an accepted stream.
 * The rest is what a client sent. What passes up is the same however the input is split,
 * and on a live connection nothing passes up unless a request was accepted (a 200 went
 * back). */
#include "fuzz_h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_host_reset();
    size_t piece = (size_t)(data[0] & 63) + 1;
    void *inst = servers[(data[0] >> 6) & 1];
    evp_buf input = {0};
    if (data[0] & 128)
        client_start(&input);
    if (fuzz_buf_put(&input, data + 1, size - 1) != 0)
        abort();
    fuzz_run whole, split;
    fuzz_transport_run(ops(), inst, input.data, input.len, 0, &whole);
    fuzz_transport_run(ops(), inst, input.data, input.len, piece, &split);
    /* A run that stops at the stream's end does not read what followed it, which the whole
     * run may have read in the same call (and failed on): then only the bytes up agree. */
    int failed = whole.status == EVP_ERR;
    if (failed && split.status == EVP_EOF)
        whole.status = EVP_EOF;
    fuzz_same_runs(&whole, &split, 0);
    if (whole.targets != 0)
        abort();
    /* HPACK's static ":status: 200" (0x88) opens the 200's HEADERS block. (After a
     * connection error nghttp2 writes only its GOAWAY: the host drops the session then.) */
    if (!failed && whole.out.len > 0 &&
        memchr(whole.back.data, 0x88, whole.back.len) == NULL)
        abort();
    fuzz_buf_free(&input);
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    return 0;
}
