/* Fuzz target: the SOCKS5 inbound (core/builtin/socks.c) and the SOCKS address and UDP
 * datagram parsers. Input: byte 0 picks the settings (noauth / password / udp) and whether
 * the outbound "connects"; byte 1 picks a split point; the rest is the client's stream.
 * The stream is decoded whole and split in two, and both runs must agree; the same bytes
 * are also parsed as one UDP datagram, whose header must survive a rebuild. */
#include "builtin/builtin.h"
#include "builtin/socks_addr.h"
#include "builtin/socks_udp.h"
#include "fuzz_drive.h"

static const char *const settings[] = {
    "{\"auth\":\"noauth\"}",
    ("{\"auth\":\"password\",\"accounts\":[{\"user\":\"u\",\"pass\":\"p\"},"
     "{\"user\":\"admin\",\"pass\":\"secret\"}]}"),
    "{\"auth\":\"noauth\",\"udp\":true,\"ip\":\"127.0.0.1\"}",
    "{\"auth\":\"password\",\"udp\":true,\"accounts\":[{\"user\":\"u\",\"pass\":\"p\"}]}",
};

static void *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const evp_inbound_ops *ops = evp_builtin_socks()->inbound;
    for (size_t i = 0; i < 4; i++) {
        char err[256];
        evp_instance_args a = {sizeof(a), "fuzz", settings[i], 1080};
        instances[i] = ops->instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (instances[i] == NULL) {
            fprintf(stderr, "socks settings %zu: %s\n", i, err);
            abort();
        }
    }
    return 0;
}

static void run_stream(void *inst, const uint8_t *data, size_t len, const size_t *cuts,
                       size_t ncuts, int ok, fuzz_run *r)
{
    const evp_inbound_ops *ops = evp_builtin_socks()->inbound;
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

/* One datagram: parse, and when it parses, rebuild its header and parse that again. */
static void run_datagram(const uint8_t *data, size_t len)
{
    evp_addr dst;
    size_t off = 0;
    memset(&dst, 0, sizeof(dst));
    if (evp_socks_udp_parse(data, len, &dst, &off) != EVP_SOCKS_UDP_OK)
        return;
    fuzz_check_addr(&dst);
    if (off > len)
        abort();
    evp_buf b = {0};
    if (evp_socks_udp_build(fuzz_host_get(), &b, &dst, data + off, len - off) == 0) {
        evp_addr again;
        size_t off2 = 0;
        memset(&again, 0, sizeof(again));
        if (evp_socks_udp_parse(b.data, b.len, &again, &off2) != EVP_SOCKS_UDP_OK)
            abort();
        if (again.type != dst.type || again.port != dst.port || again.len != dst.len ||
            memcmp(again.bytes, dst.bytes, dst.len) != 0 || b.len - off2 != len - off ||
            memcmp(b.data + off2, data + off, len - off) != 0)
            abort();
    } else if (dst.type != EVP_ADDR_DOMAIN || dst.len != 0) {
        abort(); /* only an address with no SOCKS form may fail to build */
    }
    fuzz_buf_free(&b);
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

    /* Byte by byte for short inputs: the harshest split. */
    if (n <= 64) {
        size_t cuts[64];
        for (size_t i = 0; i < n; i++)
            cuts[i] = i;
        fuzz_run bytes;
        fuzz_host_reset();
        run_stream(inst, p, n, cuts, n, ok, &bytes);
        fuzz_run_free(&bytes);
    }

    run_datagram(p, n);
    evp_addr a;
    int r = evp_socks_addr_read(p, n, &a);
    if (r > 0) {
        fuzz_check_addr(&a);
        if ((size_t)r > n)
            abort();
        uint8_t w[EVP_SOCKS_ADDR_MAX];
        size_t wl = evp_socks_addr_write(&a, w);
        if (wl != 0 && (wl != (size_t)r || memcmp(w, p, wl) != 0))
            abort(); /* the field must round-trip byte for byte */
    }
    return 0;
}
