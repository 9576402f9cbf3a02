/* Memory counted per plugin (ABI 1.3 mem_*): vmess.so loaded through the loader allocates
 * only through its module's own host table, so the module's count rises with an instance and
 * a session and falls back to where it started once they are freed. */
#include "host.h"
#include "host_mem.h"
#include "vmess_wire.h"

#include <check.h>
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
    tcase_add_test(tc, host_table_counts_exact_sizes);
    suite_add_tcase(s, tc);
    return s;
}
