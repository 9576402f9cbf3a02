/* Fuzz target: the socks and http outbounds (core/builtin/socks_out.c, http_out.c) reading a
 * hostile server's answers. Input: byte 0 picks the protocol, whether the server has a user
 * and the target's address type; byte 1 picks a split point; the rest is what the server
 * sends. The answer is decoded whole and split in two: both runs must agree on the outcome
 * and the client's bytes, and a refusal's reason must be printable (it goes to the log). */
#include "builtin/builtin.h"
#include "fuzz_host.h"

static const char *const settings[] = {
    "{\"servers\":[{\"address\":\"127.0.0.1\",\"port\":1080}]}",
    "{\"servers\":[{\"address\":\"127.0.0.1\",\"port\":1080,"
    "\"users\":[{\"user\":\"u\",\"pass\":\"p\"}]}]}",
};

static void *instances[2][2]; /* [socks, http][no user, user] */

static const evp_outbound_ops *ops_of(int http)
{
    return http ? evp_builtin_http()->outbound : evp_builtin_socks()->outbound;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    for (int p = 0; p < 2; p++)
        for (int u = 0; u < 2; u++) {
            char err[256];
            evp_instance_args a = {sizeof(a), "fuzz", settings[u], 0};
            instances[p][u] = ops_of(p)->instance_new(fuzz_host_get(), &a, err, sizeof(err));
            if (instances[p][u] == NULL) {
                fprintf(stderr, "outbound settings %d/%d: %s\n", p, u, err);
                abort();
            }
        }
    return 0;
}

typedef struct outcome {
    int status;
    evp_buf plain;
    char reason[128];
} outcome;

/* One session: the first encode (the handshake), then the answer in parts cut at cuts. */
static void run(int http, int user, const evp_addr *target, const uint8_t *data, size_t len,
                size_t cut, outcome *o)
{
    const evp_outbound_ops *ops = ops_of(http);
    char err[256];
    evp_addr dial;
    void *s = ops->session_new(instances[http][user], target, EVP_NET_TCP, &dial, err,
                               sizeof(err));
    if (s == NULL)
        abort();
    evp_buf out = {0}, back = {0}, pending = {0};
    evp_io io = {.in = (const uint8_t *)"x", .in_len = 1, .out = &out, .back = &back};
    if (ops->encode(s, &io) != EVP_OK || io.consumed != 1)
        abort();
    o->status = EVP_OK;
    size_t parts[2][2] = {{0, cut}, {cut, len}};
    for (int p = 0; p < 2 && o->status == EVP_OK; p++) {
        fuzz_buf_put(&pending, data + parts[p][0], parts[p][1] - parts[p][0]);
        while (pending.len > 0) {
            evp_io d = {.in = pending.data, .in_len = pending.len, .out = &o->plain,
                        .back = &back};
            o->status = ops->decode(s, &d);
            if (d.consumed > pending.len)
                abort();
            if (o->status == EVP_ERR) {
                memcpy(o->reason, d.reason, sizeof o->reason);
                break;
            }
            fuzz_buf_consume(&pending, d.consumed);
            if (d.consumed == 0)
                break;
        }
    }
    if (back.len != 0) /* the outbounds write nothing back to the server while decoding */
        abort();
    ops->session_free(s);
    fuzz_buf_free(&out);
    fuzz_buf_free(&back);
    fuzz_buf_free(&pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    int http = data[0] & 1, user = (data[0] >> 1) & 1, kind = (data[0] >> 2) % 3;
    size_t cut = len - 2 > 0 ? data[1] % (len - 2 + 1) : 0;
    evp_addr t = {.port = 443};
    if (kind == 0) {
        t.type = EVP_ADDR_DOMAIN;
        t.len = 12;
        memcpy(t.bytes, "example.test", 12);
    } else {
        t.type = kind == 1 ? EVP_ADDR_IPV4 : EVP_ADDR_IPV6;
        t.len = kind == 1 ? 4 : 16;
        t.bytes[0] = 10;
    }
    outcome whole = {0}, split = {0};
    run(http, user, &t, data + 2, len - 2, len - 2, &whole);
    run(http, user, &t, data + 2, len - 2, cut, &split);
    if (whole.status != split.status || whole.plain.len != split.plain.len ||
        (whole.plain.len && memcmp(whole.plain.data, split.plain.data, whole.plain.len) != 0))
        abort();
    if (whole.status == EVP_ERR) {
        if (whole.reason[0] == '\0' || strcmp(whole.reason, split.reason) != 0)
            abort();
        for (const char *c = whole.reason; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                abort();
    }
    fuzz_buf_free(&whole.plain);
    fuzz_buf_free(&split.plain);
    return 0;
}
