/* V2Ray's legacy config forms rewritten into the modern ones in V2Ray 4.34's Build order:
 * inbound, inboundDetour, inbounds; outbound (the default), outboundDetour, outbounds;
 * routing.settings after routing.rules; the global transport filling streamSettings. */
#include "config.h"
#include "legacy_forms.h"
#include "registry.h"
#include "router.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* text rewritten and dumped with sorted keys (caller frees); *errors gets the error lines. */
static char *rewritten(const char *text, char **errors, char **note)
{
    evp_errlist errs = {0};
    json_t *root = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    char *n = evp_legacy_forms_apply(root, &errs);
    if (note)
        *note = n;
    else
        free(n);
    *errors = evp_errlist_take(&errs);
    char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return out;
}

static void assert_rewrite(const char *text, const char *want)
{
    char *errors;
    char *got = rewritten(text, &errors, NULL);
    ck_assert_msg(errors == NULL, "unexpected errors: %s", errors);
    ck_assert_str_eq(got, want);
    free(got);
}

static void assert_refused(const char *text, const char *want_error)
{
    char *errors;
    free(rewritten(text, &errors, NULL));
    ck_assert_ptr_nonnull(errors);
    ck_assert_msg(strstr(errors, want_error) != NULL, "errors \"%s\" lack \"%s\"", errors,
                  want_error);
    free(errors);
}

START_TEST(lists_join_in_build_order)
{
    char *errors, *note;
    char *got = rewritten("{\"inbounds\":[{\"tag\":\"m\"}],\"inboundDetour\":[{\"tag\":\"d1\"},"
                          "{\"tag\":\"d2\"}],\"inbound\":{\"tag\":\"one\"},"
                          "\"outbounds\":[{\"tag\":\"mo\"}],\"outboundDetour\":[{\"tag\":\"od\"}],"
                          "\"outbound\":{\"tag\":\"first\"}}",
                          &errors, &note);
    ck_assert_ptr_null(errors);
    ck_assert_str_eq(got, "{\"inbounds\":[{\"tag\":\"one\"},{\"tag\":\"d1\"},{\"tag\":\"d2\"},"
                          "{\"tag\":\"m\"}],\"outbounds\":[{\"tag\":\"first\"},{\"tag\":\"od\"},"
                          "{\"tag\":\"mo\"}]}");
    ck_assert_ptr_nonnull(note);
    ck_assert_ptr_nonnull(strstr(note, "note: inbounds[1..2] are inboundDetour[0..1]"));
    ck_assert_ptr_nonnull(strstr(note, "note: outbounds[0] is outbound\n"));
    free(note);
    free(got);
}
END_TEST

START_TEST(modern_config_unchanged)
{
    assert_rewrite("{\"inbounds\":[{\"port\":1}],\"outbounds\":[{\"protocol\":\"freedom\"}],"
                   "\"routing\":{\"rules\":[]}}",
                   "{\"inbounds\":[{\"port\":1}],\"outbounds\":[{\"protocol\":\"freedom\"}],"
                   "\"routing\":{\"rules\":[]}}");
}
END_TEST

START_TEST(top_level_port_fills_first_inbound)
{
    assert_rewrite("{\"port\":1080,\"inbound\":{\"protocol\":\"socks\"},"
                   "\"inboundDetour\":[{\"port\":2}]}",
                   "{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\"},{\"port\":2}]}");
    assert_rewrite("{\"port\":1080,\"inbound\":{\"port\":9}}", "{\"inbounds\":[{\"port\":9}]}");
}
END_TEST

START_TEST(routing_settings_after_rules)
{
    assert_rewrite("{\"routing\":{\"strategy\":\"rules\",\"rules\":[{\"outboundTag\":\"a\"}],"
                   "\"settings\":{\"domainStrategy\":\"IPOnDemand\","
                   "\"rules\":[{\"outboundTag\":\"b\"}]}}}",
                   "{\"routing\":{\"domainStrategy\":\"IPOnDemand\",\"rules\":[{\"outboundTag\":"
                   "\"a\"},{\"outboundTag\":\"b\"}]}}");
    /* routing.domainStrategy wins over the legacy one */
    assert_rewrite("{\"routing\":{\"domainStrategy\":\"AsIs\",\"settings\":{\"domainStrategy\":"
                   "\"IPOnDemand\",\"rules\":[{\"outboundTag\":\"b\"}]}}}",
                   "{\"routing\":{\"domainStrategy\":\"AsIs\",\"rules\":[{\"outboundTag\":"
                   "\"b\"}]}}");
}
END_TEST

START_TEST(transport_fills_missing_pieces)
{
    assert_rewrite("{\"transport\":{\"wsSettings\":{\"path\":\"/t\"},\"tcpSettings\":{\"x\":1},"
                   "\"quicSettings\":{}},"
                   "\"inbounds\":[{\"streamSettings\":{\"network\":\"ws\",\"wsSettings\":"
                   "{\"path\":\"/own\"}}}],\"outbound\":{\"protocol\":\"vmess\"}}",
                   "{\"inbounds\":[{\"streamSettings\":{\"network\":\"ws\",\"tcpSettings\":"
                   "{\"x\":1},\"wsSettings\":{\"path\":\"/own\"}}}],\"outbounds\":[{\"protocol\":"
                   "\"vmess\",\"streamSettings\":{\"tcpSettings\":{\"x\":1},\"wsSettings\":"
                   "{\"path\":\"/t\"}}}]}");
}
END_TEST

START_TEST(allocate_always_kept_as_range)
{
    assert_rewrite("{\"inboundDetour\":[{\"port\":\"1000-1002\",\"allocate\":{\"strategy\":"
                   "\"always\",\"refresh\":5}}]}",
                   "{\"inbounds\":[{\"port\":\"1000-1002\"}]}");
}
END_TEST

START_TEST(allocate_random_left_for_the_reader)
{
    assert_rewrite("{\"inboundDetour\":[{\"port\":\"1000-1010\",\"allocate\":"
                   "{\"strategy\":\"random\",\"concurrency\":3}}]}",
                   "{\"inbounds\":[{\"allocate\":{\"concurrency\":3,\"strategy\":"
                   "\"random\"},\"port\":\"1000-1010\"}]}");
}
END_TEST

START_TEST(bad_legacy_shapes_name_path)
{
    assert_refused("{\"inbound\":[1]}", "inbound: must be an object");
    assert_refused("{\"outboundDetour\":{}}", "outboundDetour: must be an array");
    assert_refused("{\"outboundDetour\":[{}, 3]}", "outboundDetour[1]: must be an object");
    assert_refused("{\"routing\":{\"settings\":{\"rules\":{}}}}",
                   "routing.settings.rules: must be an array");
    assert_refused("{\"transport\":[]}", "transport: must be an object");
    assert_refused("{\"port\":\"x\",\"inbound\":{}}", "port: must be a port");
}
END_TEST

/* A whole legacy config loads: the legacy outbound is the default route. */
START_TEST(legacy_config_loads)
{
    evp_registry reg;
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
    char *errors = NULL;
    evp_config *c = evp_config_load(
        NULL,
        "{\"inbound\":{\"port\":1080,\"listen\":\"127.0.0.1\",\"protocol\":\"socks\"},"
        "\"outbound\":{\"tag\":\"direct\",\"protocol\":\"freedom\"},"
        "\"outboundDetour\":[{\"tag\":\"blocked\",\"protocol\":\"blackhole\"}],"
        "\"routing\":{\"strategy\":\"rules\",\"settings\":{\"rules\":[{\"type\":\"field\","
        "\"port\":\"25\",\"outboundTag\":\"blocked\"}]}}}",
        "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "errors: %s", errors);
    ck_assert_uint_eq(c->n_inbounds, 1);
    ck_assert_uint_eq(c->n_outbounds, 2);
    ck_assert_str_eq(c->outbounds[0].tag, "direct");
    evp_addr smtp = {.type = EVP_ADDR_IPV4, .len = 4, .port = 25, .bytes = {192, 0, 2, 1}};
    evp_addr web = smtp;
    web.port = 80;
    ck_assert_uint_eq(evp_router_pick(c->router, "", &smtp, EVP_NET_TCP), 1);
    ck_assert_uint_eq(evp_router_pick(c->router, "", &web, EVP_NET_TCP), 0);
    evp_config_free(c);
    evp_registry_free(&reg);
}
END_TEST

Suite *legacy_forms_suite(void)
{
    Suite *s = suite_create("legacy_forms");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lists_join_in_build_order);
    tcase_add_test(tc, modern_config_unchanged);
    tcase_add_test(tc, top_level_port_fills_first_inbound);
    tcase_add_test(tc, routing_settings_after_rules);
    tcase_add_test(tc, transport_fills_missing_pieces);
    tcase_add_test(tc, allocate_always_kept_as_range);
    tcase_add_test(tc, allocate_random_left_for_the_reader);
    tcase_add_test(tc, bad_legacy_shapes_name_path);
    tcase_add_test(tc, legacy_config_loads);
    suite_add_tcase(s, tc);
    return s;
}
