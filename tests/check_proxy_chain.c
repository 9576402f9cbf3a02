/* outbounds[].proxySettings (core/config/proxy_chain.c): the tag resolves to its outbound's
 * index; an unknown tag, an empty one and a loop are refused naming the path; without
 * transportLayer only tls stays over the proxied stream, with it every layer does. The
 * layers come from tests/plugins (stand-in tls.so and ws.so). */
#include "config.h"
#include "registry.h"
#include "testplug_registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static evp_registry reg;

static void setup(void)
{
    testplug_registry_init(&reg);
}

static void teardown(void)
{
    evp_registry_free(&reg);
}

#define HEAD "{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\"}],\"outbounds\":["
#define OUT(tag, via) "{\"tag\":\"" tag "\",\"protocol\":\"freedom\",\"proxySettings\":" \
                      "{\"tag\":\"" via "\"}}"

static const struct {
    const char *config, *want;
} refused[] = {
    {HEAD "{\"tag\":\"d\",\"protocol\":\"freedom\"}," OUT("a", "zz") "]}",
     "outbounds[1].proxySettings.tag: no outbound is tagged \"zz\""},
    {HEAD OUT("a", "b") "," OUT("b", "a") "]}",
     "outbounds[0].proxySettings.tag: the chain loops (\"a\" -> \"b\" -> \"a\")"},
    {HEAD "{\"tag\":\"d\",\"protocol\":\"freedom\"}," OUT("a", "a") "]}",
     "outbounds[1].proxySettings.tag: the chain loops (\"a\" -> \"a\")"},
    /* c leads into the loop b -> d -> b: the loop is named once, from its lowest index */
    {HEAD OUT("c", "b") "," OUT("b", "d") "," OUT("d", "b") "]}",
     "outbounds[1].proxySettings.tag: the chain loops (\"b\" -> \"d\" -> \"b\")"},
    {HEAD OUT("a", "") "]}", "outbounds[0].proxySettings.tag: must name an outbound"},
    {HEAD "{\"protocol\":\"freedom\",\"proxySettings\":{\"transportLayer\":true}}]}",
     "outbounds[0].proxySettings.tag: must name an outbound"},
};

START_TEST(bad_chain_names_path)
{
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, refused[_i].config, "schema", &reg, &errors);
    ck_assert_msg(c == NULL, "case %d loaded", _i);
    ck_assert_msg(errors && strstr(errors, refused[_i].want), "case %d: want \"%s\" in: %s",
                  _i, refused[_i].want, errors ? errors : "");
    /* a loop is named once, not once per outbound on it */
    const char *first = strstr(errors, "loops");
    ck_assert_msg(first == NULL || strstr(first + 1, "loops") == NULL, "twice: %s", errors);
    free(errors);
}
END_TEST

static evp_config *load_ok(const char *text)
{
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "");
    return c;
}

/* A chain of three ends in an outbound that dials itself; with a duplicate tag the last
 * outbound of that tag is the one dialled through, as V2Ray's handler map keeps it. */
START_TEST(chain_resolves_to_index)
{
    evp_config *c = load_ok(HEAD OUT("a", "b") "," OUT("b", "end") ","
                            "{\"tag\":\"end\",\"protocol\":\"freedom\"},"
                            "{\"tag\":\"end\",\"protocol\":\"blackhole\"}]}");
    ck_assert_str_eq(c->outbounds[0].proxy_tag, "b");
    ck_assert_uint_eq(c->outbounds[0].proxy_index, 1);
    ck_assert_uint_eq(c->outbounds[1].proxy_index, 3);
    ck_assert_ptr_null(c->outbounds[2].proxy_tag);
    evp_config_free(c);
}
END_TEST

#define WS_TLS "\"streamSettings\":{\"network\":\"ws\",\"security\":\"tls\"}"

/* V2Ray 4.34 puts only tls over a proxied stream; transportLayer (4.35+) keeps ws too. */
START_TEST(stream_layers_through_chain)
{
    evp_config *c = load_ok(HEAD "{\"tag\":\"a\",\"protocol\":\"freedom\"," WS_TLS ","
                            "\"proxySettings\":{\"tag\":\"d\"}},"
                            "{\"tag\":\"t\",\"protocol\":\"freedom\"," WS_TLS ","
                            "\"proxySettings\":{\"tag\":\"d\",\"transportLayer\":true}},"
                            "{\"tag\":\"d\",\"protocol\":\"freedom\"," WS_TLS "}]}");
    ck_assert_uint_eq(c->outbounds[0].stream.n, 1);
    ck_assert_str_eq(c->outbounds[0].stream.layers[0].name, "tls");
    ck_assert_uint_eq(c->outbounds[1].stream.n, 2);
    ck_assert_str_eq(c->outbounds[1].stream.layers[1].name, "ws");
    ck_assert_uint_eq(c->outbounds[2].stream.n, 2); /* unproxied: untouched */
    ck_assert_uint_eq(c->outbounds[1].proxy_transport_layer, 1);
    evp_config_free(c);
}
END_TEST

Suite *proxy_chain_suite(void)
{
    Suite *s = suite_create("proxy_chain");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, bad_chain_names_path, 0, (int)(sizeof refused / sizeof refused[0]));
    tcase_add_test(tc, chain_resolves_to_index);
    tcase_add_test(tc, stream_layers_through_chain);
    suite_add_tcase(s, tc);
    return s;
}
