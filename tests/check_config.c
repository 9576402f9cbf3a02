/* Config loading: every error names its JSON path; a good V2Ray-shaped config loads and
 * routes by inboundTag with the first outbound as the default. */
#include "config.h"
#include "registry.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static evp_registry reg;

static void setup(void)
{
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
}

static void teardown(void)
{
    evp_registry_free(&reg);
}

/* Loads text and returns the errors (caller frees), or NULL when it loaded. */
static char *load_errors(const char *text)
{
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    if (c) {
        evp_config_free(c);
        return NULL;
    }
    ck_assert_ptr_nonnull(errors);
    return errors;
}

#define IN_SOCKS "{\"tag\":\"a\",\"listen\":\"127.0.0.1\",\"port\":1080,\"protocol\":\"socks\"}"
#define OUT_FREE "{\"tag\":\"d\",\"protocol\":\"freedom\"}"

static const struct {
    const char *config;
    const char *want; /* substring the errors must hold */
} bad[] = {
    {"{\"inbounds\":[{\"port\":70000,\"protocol\":\"socks\"}],\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].port"},
    {"{\"inbounds\":[{\"port\":1080,\"protocol\":\"nosuch\"}],\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].protocol: unknown protocol \"nosuch\""},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[{\"protocol\":\"socks\"}]}",
     "outbounds[0].protocol: \"socks\" has no outbound"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"routing\":{\"rules\":[{\"inboundTag\":[\"a\"],\"outboundTag\":\"zz\"}]}}",
     "routing.rules[0].outboundTag: no outbound tagged \"zz\""},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[]}", "outbounds"},
    {"{\"inbounds\":[" IN_SOCKS "]", "(embedded):1:"},
    {"{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\",\"clientsFile\":\"/nonexistent/c.json\"}],"
     "\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].clientsFile: /nonexistent/c.json"},
    {"{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\",\"settings\":{\"auth\":\"x\"}}],"
     "\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].settings.auth"},
};

START_TEST(bad_config_names_path)
{
    char *errors = load_errors(bad[_i].config);
    ck_assert_msg(errors && strstr(errors, bad[_i].want) != NULL, "case %d: want \"%s\" in: %s",
                  _i, bad[_i].want, errors ? errors : "(loaded)");
    free(errors);
}
END_TEST

START_TEST(good_config_routes)
{
    const char *text =
        "{\"log\":{\"loglevel\":\"info\"},\"inbounds\":[" IN_SOCKS ","
        "{\"tag\":\"b\",\"port\":\"1081\",\"protocol\":\"dokodemo-door\","
        "\"settings\":{\"address\":\"127.0.0.1\",\"port\":80,\"network\":\"tcp,udp\"}}],"
        "\"outbounds\":[" OUT_FREE ",{\"tag\":\"x\",\"protocol\":\"blackhole\"}],"
        "\"routing\":{\"rules\":[{\"type\":\"field\",\"inboundTag\":[\"b\"],\"outboundTag\":\"x\"}]},"
        "\"streamSettings\":{\"network\":\"tcp\"},\"policy\":{}}";
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    ck_assert_int_eq(c->n_inbounds, 2);
    ck_assert_int_eq(c->inbounds[0].outbound, 0); /* default: the first outbound */
    ck_assert_int_eq(c->inbounds[1].outbound, 1);
    ck_assert_int_eq(c->inbounds[1].port, 1081);
    ck_assert_int_eq(c->inbounds[1].want_udp, 1);
    ck_assert_int_eq(c->inbounds[1].want_tcp, 1);
    ck_assert_str_eq(c->inbounds[1].listen, "0.0.0.0");
    ck_assert_int_eq(c->loglevel, 3);
    evp_config_free(c);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, bad_config_names_path, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, good_config_routes);
    suite_add_tcase(s, tc);
    return s;
}
