/* Fuzz target: the shadowsocks inbound (plugin/shadowsocks/: user lookup by key, salt
 * check, first chunk and address, chunk reader, datagrams) on a table of three users, one
 * per method. Input: byte 0 chooses
 *   bits 0-1  mode: 0 the rest is the whole client stream;
 *                   1 the rest is the payload of a real client stream (made by the plugin's
 *                     outbound with a user's key): the inbound must hand back exactly it;
 *                   2 as 1, then the wire byte byte 1 picks is flipped: it must fail;
 *                   3 one UDP record: the rest raw, or (bit 4) a real datagram of the rest,
 *                     which must come back as one record of the rest;
 *   bits 2-3  the client's method (and user) for modes 1-3;
 * byte 1 picks where streams are split; streams are decoded whole and split, and both runs
 * must agree. */
#include "fuzz_drive.h"

#define SERVER                                                                                     \
    "{\"clients\":[{\"password\":\"fuzz-a\",\"method\":\"aes-128-gcm\",\"email\":\"a@fuzz\"},"  \
    "{\"password\":\"fuzz-b\",\"method\":\"aes-256-gcm\",\"email\":\"b@fuzz\"},"                  \
    "{\"password\":\"fuzz-c\",\"method\":\"chacha20-ietf-poly1305\",\"email\":\"c@fuzz\"}]}"

static const char *const methods[] = {"aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305"};
static const char *const passwords[] = {"fuzz-a", "fuzz-b", "fuzz-c"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

static void *instance(const evp_plugin *p, int inbound, const char *json)
{
    char err[256];
    evp_instance_args a = {sizeof(a), "fuzz", json, 0};
    void *inst = inbound ? p->inbound->instance_new(fuzz_host_get(), &a, err, sizeof(err))
                         : p->outbound->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (inst == NULL)
        abort();
    return inst;
}

/* What the plugin's outbound sends for payload with user k (a stream, or one datagram). */
static void client_wire(int k, int udp, const uint8_t *payload, size_t n, evp_buf *wire)
{
    const evp_plugin *p = evp_plugin_entry();
    char json[256];
    snprintf(json, sizeof(json),
             "{\"servers\":[{\"address\":\"127.0.0.1\",\"port\":1,\"method\":\"%s\","
             "\"password\":\"%s\"}]}",
             methods[k], passwords[k]);
    void *inst = instance(p, 0, json);
    evp_addr target = {.type = EVP_ADDR_DOMAIN, .len = 11, .port = 80}, dial;
    memcpy(target.bytes, "example.org", 11);
    char err[128];
    void *s = p->outbound->session_new(inst, &target, udp ? EVP_NET_UDP : EVP_NET_TCP, &dial,
                                       err, sizeof(err));
    evp_buf rec = {0}, scratch = {0};
    evp_io io;
    if (s == NULL)
        abort();
    if (udp) {
        uint8_t be[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        fuzz_buf_put(&rec, be, 2);
        fuzz_buf_put(&rec, payload, n);
    }
    if (fuzz_call(p->outbound->encode, s, udp ? rec.data : payload, udp ? rec.len : n, 0, wire,
                  &scratch, &io) != EVP_OK)
        abort();
    p->outbound->session_free(s);
    p->outbound->instance_free(inst);
    fuzz_buf_free(&rec);
    fuzz_buf_free(&scratch);
}

/* Decodes wire[0..len) on a fresh server (a TCP stream, or a UDP peer's with network
 * EVP_NET_UDP), split at the cuts. */
static void serve(const uint8_t *wire, size_t len, const size_t *cuts, size_t ncuts,
                  uint8_t network, fuzz_run *r)
{
    static const uint8_t reply[] = "\x00\x04pong"; /* a record too, for UDP sessions */
    const evp_plugin *p = evp_plugin_entry();
    fuzz_host_reset();
    void *inst = instance(p, 1, SERVER);
    evp_session_info info = {.size = sizeof info, .network = network};
    void *s = p->inbound->session_open(inst, &info);
    if (s == NULL)
        abort();
    fuzz_drive_inbound(p->inbound, s, wire, len, cuts, ncuts, 1, reply, sizeof(reply) - 1, r);
    const char *user = p->inbound->session_user(s);
    if (user != NULL && strstr("a@fuzz b@fuzz c@fuzz", user) == NULL)
        abort();
    p->inbound->session_free(s);
    p->inbound->instance_free(inst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3, k = ((data[0] >> 2) & 3) % 3;
    int real_udp = (data[0] & 0x10) != 0;
    const uint8_t *rest = data + 2;
    size_t n = size - 2;
    evp_buf wire = {0};
    fuzz_host_reset();
    if (mode == 3) {
        if (real_udp) {
            client_wire((int)k, 1, rest, n, &wire);
        } else {
            uint8_t be[2] = {(uint8_t)(n >> 8), (uint8_t)n};
            fuzz_buf_put(&wire, be, 2);
            fuzz_buf_put(&wire, rest, n);
        }
        fuzz_run r;
        serve(wire.data, wire.len, NULL, 0, EVP_NET_UDP, &r); /* a UDP peer's first call */
        if (real_udp && (r.targets != 1 || r.network != EVP_NET_UDP || r.out.len != n + 2 ||
                         (n && memcmp(r.out.data + 2, rest, n) != 0)))
            abort();
        fuzz_run_free(&r);
        fuzz_buf_free(&wire);
        return 0;
    }
    if (mode == 0)
        fuzz_buf_put(&wire, rest, n);
    else
        client_wire((int)k, 0, rest, n, &wire);
    if (mode == 2 && wire.len > 0)
        wire.data[data[1] % wire.len] ^= 0x20;
    size_t cut = wire.len ? data[1] % wire.len : 0;
    fuzz_run whole, split;
    serve(wire.data, wire.len, NULL, 0, EVP_NET_TCP, &whole);
    serve(wire.data, wire.len, &cut, 1, EVP_NET_TCP, &split);
    fuzz_same_runs(&whole, &split, 1);
    if (mode == 1 && (whole.status != EVP_EOF || whole.targets != 1 || whole.out.len != n ||
                      (n && memcmp(whole.out.data, rest, n) != 0)))
        abort();
    if (mode == 2 && whole.status != EVP_ERR)
        abort();
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    fuzz_buf_free(&wire);
    return 0;
}
