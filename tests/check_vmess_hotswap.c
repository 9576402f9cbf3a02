/* Replay state outlives a plugin hot swap: vmess.so loaded twice through the loader (two
 * private copies, each with its own statics, as a SIGHUP after the file changed does), on
 * the real host services. A header accepted by copy 1 is refused by copy 2, and a legacy
 * auth that copy 1 tainted stays tainted in copy 2. */
#include "host.h"
#include "module.h"
#include "vmess_wire.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define CLIENTS "{\"clients\":[{\"id\":\"" UUID1 "\",\"alterId\":4}]}"

/* Two copies of the module, as before and after a hot swap: separate code and data. */
static void load_two(evp_module **m1, evp_module **m2)
{
    *m1 = wire_load_vmess();
    *m2 = wire_load_vmess();
    ck_assert_ptr_ne((*m1)->handle, (*m2)->handle);
    ck_assert_ptr_ne((*m1)->desc, (*m2)->desc);
}

/* What a fresh inbound instance of module m (real host) says to wire. */
static int serve_on(evp_module *m, const evp_buf *wire, char *reason)
{
    void *in = wire_instance(m->desc, evp_host_services(), 1, CLIENTS);
    uint32_t drain = 0;
    int rc = wire_serve(m->desc, in, wire, reason, &drain);
    m->desc->inbound->instance_free(in);
    return rc;
}

START_TEST(aead_replay_refused_after_hot_swap)
{
    evp_module *m1, *m2;
    load_two(&m1, &m2);
    void *out = wire_client(m1->desc, UUID1, 0);
    evp_buf wire = {0};
    char reason[128];
    wire_request(m1->desc, out, &wire);
    m1->desc->outbound->instance_free(out);
    ck_assert_int_eq(serve_on(m1, &wire, reason), EVP_TARGET);
    evp_module_unref(m1); /* the old copy goes, as once its last session has ended */
    ck_assert_int_eq(serve_on(m2, &wire, reason), EVP_ERR);
    ck_assert_str_eq(reason, "vmess: replayed AuthID");
    evp_module_unref(m2);
    test_buf_free(&wire);
}
END_TEST

START_TEST(legacy_taint_survives_hot_swap)
{
    evp_module *m1, *m2;
    load_two(&m1, &m2);
    void *out = wire_client(m1->desc, UUID1, 4);
    evp_buf wire = {0}, bad = {0};
    char reason[128];
    wire_request(m1->desc, out, &wire);
    m1->desc->outbound->instance_free(out);
    /* Flip a byte of the request IV (CFB: the IV and key blocks are garbled, the rest of
     * the header still parses): the checksum fails, which burns the auth's fuse (§5). */
    ck_assert_ptr_nonnull(test_host_buf_reserve(&bad, wire.len));
    memcpy(bad.data, wire.data, wire.len);
    bad.len = wire.len;
    bad.data[16 + 3] ^= 0x40;
    ck_assert_int_eq(serve_on(m1, &bad, reason), EVP_ERR);
    ck_assert_ptr_nonnull(strstr(reason, "checksum"));
    evp_module_unref(m1);
    /* The genuine header with that auth: refused by the new copy too. */
    ck_assert_int_eq(serve_on(m2, &wire, reason), EVP_ERR);
    ck_assert_str_eq(reason, "vmess: tainted legacy auth");
    evp_module_unref(m2);
    test_buf_free(&wire);
    test_buf_free(&bad);
}
END_TEST

/* Control: copy 1 refuses its own replay too, and another header from the same client is
 * served by copy 2 (it is the replay that is refused, not the user). */
START_TEST(new_header_served_after_hot_swap)
{
    evp_module *m1, *m2;
    load_two(&m1, &m2);
    void *out = wire_client(m1->desc, UUID1, 0);
    evp_buf first = {0}, second = {0};
    char reason[128];
    wire_request(m1->desc, out, &first);
    wire_request(m1->desc, out, &second);
    m1->desc->outbound->instance_free(out);
    ck_assert_int_eq(serve_on(m1, &first, reason), EVP_TARGET);
    ck_assert_int_eq(serve_on(m1, &first, reason), EVP_ERR);
    evp_module_unref(m1);
    ck_assert_int_eq(serve_on(m2, &second, reason), EVP_TARGET);
    evp_module_unref(m2);
    test_buf_free(&first);
    test_buf_free(&second);
}
END_TEST

Suite *vmess_hotswap_suite(void)
{
    Suite *s = suite_create("vmess_hotswap");
    TCase *tc = tcase_create("hotswap");
    tcase_add_test(tc, aead_replay_refused_after_hot_swap);
    tcase_add_test(tc, legacy_taint_survives_hot_swap);
    tcase_add_test(tc, new_header_served_after_hot_swap);
    suite_add_tcase(s, tc);
    return s;
}
