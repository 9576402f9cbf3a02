/* Memory counted per plugin (ABI 1.3 mem_*): vmess.so loaded through the loader allocates
 * only through its module's own host table, so the module's count rises with an instance and
 * a session and falls back to where it started once they are freed. */
#include "host.h"
#include "host_mem.h"
#include "vmess_wire.h"

#include <check.h>
#include <gnutls/crypto.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define CLIENTS "{\"clients\":[{\"id\":\"" UUID1 "\",\"alterId\":0}]}"

static size_t bytes_of(const evp_module *m)
{
    return atomic_load(&m->host.bytes);
}

static size_t blocks_of(const evp_module *m)
{
    return atomic_load(&m->host.blocks);
}

START_TEST(vmess_memory_rises_and_falls_back)
{
    evp_module *m = wire_load_vmess();
    const evp_plugin *p = m->desc;
    size_t start = bytes_of(m), start_blocks = blocks_of(m);

    void *in = wire_instance(p, &m->host.services, 1, CLIENTS);
    size_t with_instance = bytes_of(m);
    ck_assert_uint_gt(with_instance, start);
    ck_assert_uint_gt(blocks_of(m), start_blocks);

    /* A client request, made by an outbound of the same module, then released. */
    void *out = wire_client(p, UUID1, 0);
    evp_buf wire = {0};
    wire_request(p, out, &wire);
    p->outbound->instance_free(out);
    ck_assert_uint_eq(bytes_of(m), with_instance);

    void *sess = p->inbound->session_new(in);
    ck_assert_ptr_nonnull(sess);
    size_t with_session = bytes_of(m);
    ck_assert_uint_gt(with_session, with_instance);
    evp_buf plain = {0}, back = {0};
    evp_io io = {.in = wire.data, .in_len = wire.len, .out = &plain, .back = &back};
    ck_assert_int_eq(p->inbound->decode(sess, &io), EVP_TARGET);
    ck_assert_uint_gt(bytes_of(m), with_session); /* the body codecs, after the handshake */

    p->inbound->session_free(sess);
    ck_assert_uint_eq(bytes_of(m), with_instance);
    p->inbound->instance_free(in);
    ck_assert_uint_eq(bytes_of(m), start);
    ck_assert_uint_eq(blocks_of(m), start_blocks);
    evp_module_unref(m);
    test_buf_free(&wire);
    test_buf_free(&plain);
    test_buf_free(&back);
}
END_TEST

/* Runs a codec hook over in[0..len) into out; returns its status, after checking it used all. */
static int run_hook(int (*fn)(void *, evp_io *), void *sess, const void *in, size_t len,
                    evp_buf *out)
{
    evp_buf back = {0};
    evp_io io = {.in = in, .in_len = len, .out = out, .back = &back};
    int rc = fn(sess, &io);
    ck_assert_uint_eq(io.consumed, len);
    test_buf_free(&back);
    return rc;
}

/* One message each way through a client and a server session of the module: the server's
 * target sees up, the client sees down. */
static void exchange(const evp_plugin *p, void *cli, void *srv, const char *up, const char *down)
{
    evp_buf wire = {0}, plain = {0};
    size_t up_len = strlen(up), down_len = strlen(down);
    ck_assert_int_eq(run_hook(p->outbound->encode, cli, up, up_len, &wire), EVP_OK);
    ck_assert_int_eq(run_hook(p->inbound->decode, srv, wire.data, wire.len, &plain), EVP_OK);
    ck_assert_uint_eq(plain.len, up_len);
    ck_assert_mem_eq(plain.data, up, up_len);
    wire.len = plain.len = 0;
    ck_assert_int_eq(run_hook(p->inbound->encode, srv, down, down_len, &wire), EVP_OK);
    ck_assert_int_eq(run_hook(p->outbound->decode, cli, wire.data, wire.len, &plain), EVP_OK);
    ck_assert_uint_eq(plain.len, down_len);
    ck_assert_mem_eq(plain.data, down, down_len);
    test_buf_free(&wire);
    test_buf_free(&plain);
}

/* A quiet session (ABI 1.4 session_idle) gives its expanded ciphers back: aes-128-gcm, four
 * bodies (request and response, at the client and at the server), one GnuTLS handle each
 * (its context GnuTLS allocates outside the plugin's counter); the next bytes rebuild them
 * and still decrypt. A session in its handshake holds no body state. */
START_TEST(vmess_idle_session_gives_back_cipher_memory)
{
    evp_module *m = wire_load_vmess();
    const evp_plugin *p = m->desc;
    void *in = wire_instance(p, &m->host.services, 1, CLIENTS);
    void *out = wire_client(p, UUID1, 0);
    evp_addr target = {.type = EVP_ADDR_IPV4, .len = 4, .port = 80, .bytes = {127, 0, 0, 1}};
    evp_addr dial;
    char err[128] = "";
    size_t before = bytes_of(m);
    void *cli = p->outbound->session_new(out, &target, EVP_NET_TCP, &dial, err, sizeof err);
    ck_assert_msg(cli != NULL, "%s", err);
    void *srv = p->inbound->session_new(in);
    ck_assert_ptr_nonnull(srv);
    /* ~2 KiB: compact keys and the request; no expanded cipher yet. */
    size_t handshake = bytes_of(m) - before;
    ck_assert_msg(handshake < 3 * 1024, "two sessions in their handshake hold %zu bytes",
                  handshake);

    evp_buf wire = {0}, plain = {0};
    ck_assert_int_eq(run_hook(p->outbound->encode, cli, NULL, 0, &wire), EVP_OK); /* header */
    ck_assert_int_eq(run_hook(p->inbound->decode, srv, wire.data, wire.len, &plain), EVP_TARGET);
    exchange(p, cli, srv, "first request", "first response");
    size_t active = bytes_of(m);
    p->inbound->session_idle(srv);
    p->outbound->session_idle(cli);
    size_t idle = bytes_of(m);
    ck_assert_uint_eq(active - idle, 4 * sizeof(gnutls_aead_cipher_hd_t));
    p->inbound->session_idle(srv); /* told twice: nothing more to give */
    ck_assert_uint_eq(bytes_of(m), idle);
    exchange(p, cli, srv, "after a quiet spell", "still in step");
    ck_assert_uint_eq(bytes_of(m), active);

    p->outbound->session_free(cli);
    p->inbound->session_free(srv);
    ck_assert_uint_eq(bytes_of(m), before);
    p->outbound->instance_free(out);
    p->inbound->instance_free(in);
    evp_module_unref(m);
    test_buf_free(&wire);
    test_buf_free(&plain);
}
END_TEST

/* The counters follow realloc both ways and stay put when a request cannot be met. */
START_TEST(host_table_counts_exact_sizes)
{
    evp_host_table t;
    evp_host_table_init(&t);
    const evp_host *h = &t.services;
    char *a = h->mem_alloc(h, 100);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(((uintptr_t)a) % alignof(max_align_t), 0);
    uint64_t *z = h->mem_calloc(h, 4, sizeof *z);
    ck_assert_ptr_nonnull(z);
    ck_assert_uint_eq(z[0] | z[1] | z[2] | z[3], 0);
    ck_assert_uint_eq(atomic_load(&t.bytes), 100 + 4 * sizeof *z);
    ck_assert_uint_eq(atomic_load(&t.blocks), 2);
    memset(a, 'x', 100);
    a = h->mem_realloc(h, a, 5000);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a[99], 'x');
    ck_assert_uint_eq(atomic_load(&t.bytes), 5000 + 4 * sizeof *z);
    a = h->mem_realloc(h, a, 10);
    ck_assert_uint_eq(atomic_load(&t.bytes), 10 + 4 * sizeof *z);
    ck_assert_ptr_null(h->mem_calloc(h, SIZE_MAX / 2, 4));
    ck_assert_ptr_null(h->mem_alloc(h, SIZE_MAX - 8));
    ck_assert_ptr_null(h->mem_realloc(h, a, SIZE_MAX - 8)); /* a stays as it was */
    ck_assert_uint_eq(atomic_load(&t.blocks), 2);
    h->mem_free(h, a);
    h->mem_free(h, z);
    h->mem_free(h, NULL);
    ck_assert_uint_eq(atomic_load(&t.bytes), 0);
    ck_assert_uint_eq(atomic_load(&t.blocks), 0);
}
END_TEST

Suite *plugin_memory_suite(void)
{
    Suite *s = suite_create("plugin_memory");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, vmess_memory_rises_and_falls_back);
    tcase_add_test(tc, vmess_idle_session_gives_back_cipher_memory);
    tcase_add_test(tc, host_table_counts_exact_sizes);
    suite_add_tcase(s, tc);
    return s;
}
