/* Fuzz target: the ws layer's server side (plugin/ws: the upgrade request, early data,
 * X-Forwarded-For, then frames). Input: byte 0 bits 0-1 pick the settings,
 * bit 2 the peer (loopback, a trusted front by default, or not), bit 3 whether the stream
 * ends (in_eof) after the input; byte 1 picks a split point; the rest is the client's
 * stream. It is decoded whole and split in two, and both runs must agree on every status,
 * the bytes sent up and the bytes sent back; short inputs also go a byte at a time. After
 * the input the layer above writes some bytes and ends, which must frame cleanly. */
#include "../../plugin/ws/ws_int.h"
#include "fuzz_host.h"

static const char *const settings[] = {
    "{\"path\":\"/ws\"}",
    "{\"path\":\"/ws\",\"maxEarlyData\":2048,\"earlyDataHeaderName\":\"Sec-WebSocket-Protocol\"}",
    "{\"path\":\"/ws\",\"maxEarlyData\":2048,\"trustedProxies\":[]}",
    "{\"path\":\"/\",\"earlyDataHeaderName\":\"X-Ed\",\"trustedProxies\":[\"0.0.0.0/0\"]}",
};

static void *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < 4; i++) {
        char err[256];
        evp_transport_args a = {sizeof(a), 1, "fuzz", settings[i], "{}"};
        instances[i] = ws_transport_ops.instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (instances[i] == NULL) {
            fprintf(stderr, "ws settings %zu: %s\n", i, err);
            abort();
        }
    }
    return 0;
}

/* What one run saw: statuses in order, bytes up and back. */
typedef struct run {
    evp_buf up, back, down;
    uint8_t status[64];
    size_t n_status;
    int last;
} run;

static void note(run *r, int status)
{
    /* Repeated EVP_OKs depend on the split: only changes of status are compared. */
    if (status == EVP_OK || (r->n_status > 0 && r->status[r->n_status - 1] == status))
        return;
    if (r->n_status < sizeof(r->status))
        r->status[r->n_status++] = (uint8_t)(status + 1);
}

/* Feeds data with cuts; returns when the session ends (EOF or ERR) or input is used. */
static void drive(void *inst, const evp_addr *peer, const uint8_t *data, size_t len, int eof,
                  const size_t *cuts, size_t ncuts, run *r)
{
    memset(r, 0, sizeof(*r));
    void *s = ws_transport_ops.session_new(inst, peer);
    if (s == NULL)
        abort();
    size_t fed = 0, held = 0, cut = 0; /* held: bytes offered, not consumed */
    int status = EVP_OK;
    for (int rounds = 0; rounds < 100000; rounds++) {
        while (cut < ncuts && cuts[cut] <= fed)
            cut++;
        size_t upto = cut < ncuts ? cuts[cut] : len;
        size_t avail = held + (upto - fed);
        const uint8_t *in = data + fed - held;
        evp_io io = {.in = in,
                     .in_len = avail,
                     .in_eof = eof && upto == len,
                     .out = &r->up,
                     .back = &r->back};
        status = ws_transport_ops.decode(s, &io);
        if (io.consumed > avail)
            abort();
        if (status == EVP_ERR && io.reason[0] == '\0')
            abort(); /* every refusal says why */
        note(r, status);
        fed = upto;
        held = avail - io.consumed;
        if (status == EVP_ERR || status == EVP_EOF)
            break;
        if (status == EVP_TARGET) {
            if (io.target.type != EVP_ADDR_IPV4 && io.target.type != EVP_ADDR_IPV6)
                abort();
            continue;
        }
        if (fed == len && io.consumed == 0)
            break;
    }
    if (status != EVP_ERR) {
        static const uint8_t reply[40000];
        evp_buf back = {0};
        evp_io io = {
            .in = reply, .in_len = sizeof(reply), .in_eof = 1, .out = &r->down, .back = &back};
        int e = ws_transport_ops.encode(s, &io);
        if (e != EVP_OK || back.len != 0)
            abort();
        free(back.data);
    }
    r->last = status;
    ws_transport_ops.session_free(s);
}

static void run_free(run *r)
{
    free(r->up.data);
    free(r->back.data);
    free(r->down.data);
}

static void same(const run *a, const run *b)
{
    if (a->n_status != b->n_status || memcmp(a->status, b->status, a->n_status) != 0 ||
        a->up.len != b->up.len || (a->up.len && memcmp(a->up.data, b->up.data, a->up.len)) ||
        a->back.len != b->back.len ||
        (a->back.len && memcmp(a->back.data, b->back.data, a->back.len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fuzz_host_reset();
    void *inst = instances[data[0] & 3];
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 40000};
    if (data[0] & 4)
        memcpy(peer.bytes, "\xc6\x33\x64\x09", 4); /* 198.51.100.9 */
    else
        memcpy(peer.bytes, "\x7f\x00\x00\x01", 4);
    int eof = (data[0] & 8) != 0;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    size_t cut = n ? data[1] % (n + 1) : 0;

    run whole, split;
    drive(inst, &peer, p, n, eof, NULL, 0, &whole);
    drive(inst, &peer, p, n, eof, &cut, 1, &split);
    same(&whole, &split);
    run_free(&split);
    if (n <= 256) {
        size_t cuts[256];
        for (size_t i = 0; i < n; i++)
            cuts[i] = i + 1;
        run bytes;
        drive(inst, &peer, p, n, eof, cuts, n, &bytes);
        same(&whole, &bytes);
        run_free(&bytes);
    }
    run_free(&whole);
    return 0;
}
