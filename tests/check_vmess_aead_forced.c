/* V2Ray >= 4.35's switch: with "aeadForced": true in the inbound settings, or
 * V2RAY_VMESS_AEAD_FORCED=true (v2ray.vmess.aead.forced) in the environment when the inbound
 * is created, legacy (MD5) headers are refused exactly like a wrong user (drain, no reply);
 * AEAD headers are still served. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../plugin/vmess/inbound.h"
#include "../plugin/vmess/mem.h"
#include "../plugin/vmess/settings.h"
#include "vmess_wire.h"

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define CLIENTS "\"clients\":[{\"id\":\"" UUID1 "\",\"alterId\":4}]"

/* What in_inst says to one request from a client with alter_id (0: AEAD header; > 0:
 * legacy header with an alternative id). A refusal must look like a wrong user's. */
static int serve(void *in_inst, int alter_id, char *reason)
{
    const evp_plugin *p = evp_plugin_entry();
    void *out = wire_client(p, UUID1, alter_id);
    evp_buf wire = {0};
    uint32_t drain = 0, lo, hi;
    wire_request(p, out, &wire);
    int rc = wire_serve(p, in_inst, &wire, reason, &drain);
    if (rc == EVP_ERR) {
        ck_assert_ptr_nonnull(strstr(reason, "invalid user"));
        /* The drain counts from the first byte: the close comes at a byte count in range
         * (or at once, drain 0, when the request was already longer). */
        vmess_inbound_drain_range(in_inst, &lo, &hi);
        ck_assert_uint_ge(wire.len + drain, lo);
        ck_assert(drain == 0 || wire.len + drain <= hi);
    }
    test_buf_free(&wire);
    p->outbound->instance_free(out);
    return rc;
}

START_TEST(forced_by_setting)
{
    const evp_plugin *p = evp_plugin_entry();
    char reason[128];
    void *in = wire_instance(p, test_host_get(), 1, "{" CLIENTS ",\"aeadForced\":true}");
    ck_assert_int_eq(serve(in, 4, reason), EVP_ERR);
    ck_assert_ptr_nonnull(strstr(reason, "AEAD forced"));
    ck_assert_int_eq(serve(in, 0, reason), EVP_TARGET);
    p->inbound->instance_free(in);
    /* Without it (false, or missing) both are served, as V2Ray 4.34. */
    in = wire_instance(p, test_host_get(), 1, "{" CLIENTS ",\"aeadForced\":false}");
    ck_assert_int_eq(serve(in, 4, reason), EVP_TARGET);
    ck_assert_int_eq(serve(in, 0, reason), EVP_TARGET);
    p->inbound->instance_free(in);
}
END_TEST

START_TEST(forced_by_env)
{
    static const char *const names[] = {"V2RAY_VMESS_AEAD_FORCED", "v2ray.vmess.aead.forced"};
    const evp_plugin *p = evp_plugin_entry();
    char reason[128];
    ck_assert_int_eq(setenv(names[_i], "true", 1), 0);
    void *in = wire_instance(p, test_host_get(), 1, "{" CLIENTS "}");
    ck_assert_int_eq(unsetenv(names[_i]), 0);
    /* Read when the instance was made: unsetting it now changes nothing for this one. */
    ck_assert_int_eq(serve(in, 4, reason), EVP_ERR);
    ck_assert_int_eq(serve(in, 0, reason), EVP_TARGET);
    /* An update (or the instance a reload builds) reads it again. */
    evp_instance_args a = {sizeof(a), "in", "{" CLIENTS "}", 0};
    char err[128] = "";
    ck_assert_int_eq(p->inbound->instance_update(in, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(serve(in, 4, reason), EVP_TARGET);
    p->inbound->instance_free(in);
    /* Only "true" switches it on, as V2Ray compares it. */
    ck_assert_int_eq(setenv(names[_i], "1", 1), 0);
    in = wire_instance(p, test_host_get(), 1, "{" CLIENTS "}");
    ck_assert_int_eq(unsetenv(names[_i]), 0);
    ck_assert_int_eq(serve(in, 4, reason), EVP_TARGET);
    p->inbound->instance_free(in);
}
END_TEST

/* The legacy header with the primary id (V2RAY_VMESS_AEAD_DISABLED client) too. */
START_TEST(forced_refuses_primary_legacy)
{
    const evp_plugin *p = evp_plugin_entry();
    char reason[128];
    void *in = wire_instance(p, test_host_get(), 1, "{" CLIENTS ",\"aeadForced\":true}");
    ck_assert_int_eq(setenv("V2RAY_VMESS_AEAD_DISABLED", "true", 1), 0);
    ck_assert_int_eq(serve(in, 0, reason), EVP_ERR);
    ck_assert_int_eq(unsetenv("V2RAY_VMESS_AEAD_DISABLED"), 0);
    p->inbound->instance_free(in);
}
END_TEST

START_TEST(forced_setting_parse)
{
    vmess_inbound_cfg cfg;
    char err[128] = "";
    ck_assert_int_eq(vmess_inbound_cfg_parse("{\"aeadForced\":true}", &cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.aead_forced, 1);
    vmess_inbound_cfg_free(&cfg);
    ck_assert_int_eq(vmess_inbound_cfg_parse("{}", &cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.aead_forced, 0);
    vmess_inbound_cfg_free(&cfg);
    ck_assert_int_eq(vmess_inbound_cfg_parse("{\"aeadForced\":\"yes\"}", &cfg, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "settings.aeadForced: not a boolean");
}
END_TEST

Suite *vmess_aead_forced_suite(void)
{
    Suite *s = suite_create("vmess_aead_forced");
    vmess_mem_adopt(test_host_get()); /* these tests call the plugin's internals directly */
    TCase *tc = tcase_create("aead_forced");
    tcase_add_test(tc, forced_by_setting);
    tcase_add_loop_test(tc, forced_by_env, 0, 2);
    tcase_add_test(tc, forced_refuses_primary_legacy);
    tcase_add_test(tc, forced_setting_parse);
    suite_add_tcase(s, tc);
    return s;
}
