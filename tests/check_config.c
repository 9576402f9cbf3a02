/* Config loading: every error names its JSON path; a good V2Ray-shaped config loads and
 * routes by inboundTag with the first outbound as the default. */
#include "config.h"
#include "registry.h"
#include "router.h"

#include <arpa/inet.h>

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

/* Loads text, which must load. */
static evp_config *load_ok(const char *text)
{
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    return c;
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
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[{\"protocol\":\"dokodemo-door\"}]}",
     "outbounds[0].protocol: \"dokodemo-door\" has no outbound"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[{\"protocol\":\"socks\"}]}",
     "outbounds[0].settings: required property \"servers\" is missing"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[]}", "outbounds"},
    {"{\"inbounds\":[" IN_SOCKS "]", "(embedded):1:"},
    {"{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\",\"clientsFile\":\"/nonexistent/c.json\"}],"
     "\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].clientsFile: /nonexistent/c.json"},
    {"{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\",\"settings\":{\"auth\":\"x\"}}],"
     "\"outbounds\":[" OUT_FREE "]}",
     "inbounds[0].settings.auth"},
    /* never dialled directly past the outbound it names (tests/check_proxy_chain.c) */
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE ",{\"protocol\":\"freedom\","
     "\"proxySettings\":{\"tag\":\"nope\"}}]}",
     "outbounds[1].proxySettings.tag: no outbound is tagged \"nope\""},
    /* What V2Ray's int32 bufferSize refuses. */
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"policy\":{\"levels\":{\"1\":{\"bufferSize\":\"16\"}}}}",
     "policy.levels.1.bufferSize: must be an integer number of KiB"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"policy\":{\"levels\":{\"0\":{\"bufferSize\":1.5}}}}",
     "policy.levels.0.bufferSize: must be an integer number of KiB"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"policy\":{\"levels\":{\"2\":{\"bufferSize\":3000000000}}}}",
     "policy.levels.2.bufferSize: 3000000000 is out of range"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"policy\":{\"levels\":{\"3\":{\"bufferSize\":-2147483649}}}}",
     "policy.levels.3.bufferSize: -2147483649 is out of range"},
    {"{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
     "\"policy\":{\"levels\":{\"1\":{\"bufferSize\":true}}}}",
     "policy.levels.1.bufferSize: must be an integer number of KiB"},
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
    evp_addr t = {.type = EVP_ADDR_IPV4, .len = 4, .port = 80};
    inet_pton(AF_INET, "192.0.2.1", t.bytes);
    ck_assert_uint_eq(evp_router_pick(c->router, "a", &t, EVP_NET_TCP), 0); /* the default */
    ck_assert_uint_eq(evp_router_pick(c->router, "b", &t, EVP_NET_TCP), 1);
    ck_assert_int_eq(c->inbounds[1].port, 1081);
    ck_assert_int_eq(c->inbounds[1].want_udp, 1);
    ck_assert_int_eq(c->inbounds[1].want_tcp, 1);
    ck_assert_str_eq(c->inbounds[1].listen, "0.0.0.0");
    ck_assert_int_eq(c->loglevel, 3);
    evp_config_free(c);
}
END_TEST

/* bufferSize per level, in KiB: V2Ray's default where absent (a level not named too), 0
 * kept, a negative one (V2Ray: unlimited) or one past the max capped at the max. */
START_TEST(buffer_size_per_level)
{
    evp_config *c = load_ok("{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
                            "\"policy\":{\"levels\":{\"0\":{\"bufferSize\":16},"
                            "\"1\":{\"bufferSize\":256},\"2\":{\"bufferSize\":0},"
                            "\"3\":{\"bufferSize\":-1},\"4\":{\"bufferSize\":2147483647},"
                            "\"5\":{\"connIdle\":7},\"6\":{\"bufferSize\":null},"
                            "\"20\":{\"bufferSize\":1}}}}");
    const size_t max = (size_t)EVP_RELAY_BUFFER_MAX_KIB * 1024;
    const size_t want[5] = {16 * 1024, 256 * 1024, 0, max, max};
    for (int i = 0; i < 16; i++) {
        size_t w = i < 5 ? want[i] : EVP_RELAY_BUFFER_DEFAULT;
        ck_assert_msg(c->buffer_bytes[i] == w, "level %d: %zu bytes, want %zu", i,
                      c->buffer_bytes[i], w);
    }
    ck_assert_double_eq(c->levels[5].conn_idle, 7);
    evp_config_free(c);
    /* No policy at all: every level gets the default (512 KiB, what the relay always held). */
    c = load_ok("{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "]}");
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(c->buffer_bytes[i], 512 * 1024);
    evp_config_free(c);
}
END_TEST

static evp_addr ip4(const char *text, uint16_t port)
{
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4, .port = port};
    inet_pton(AF_INET, text, a.bytes);
    return a;
}

static evp_addr ip6(const char *text, uint16_t port)
{
    evp_addr a = {.type = EVP_ADDR_IPV6, .len = 16, .port = port};
    inet_pton(AF_INET6, text, a.bytes);
    return a;
}

static evp_addr dom(const char *name, uint16_t port)
{
    evp_addr a = {.type = EVP_ADDR_DOMAIN, .len = (uint8_t)strlen(name), .port = port};
    memcpy(a.bytes, name, a.len);
    return a;
}

/* routing.rules conditions, V2Ray's way: first matching rule wins, else the first outbound. */
START_TEST(routing_rules_match)
{
    const char *text =
        "{\"inbounds\":[" IN_SOCKS "],\"outbounds\":["
        "{\"tag\":\"proxy\",\"protocol\":\"freedom\"},{\"tag\":\"direct\",\"protocol\":\"freedom\"},"
        "{\"tag\":\"block\",\"protocol\":\"blackhole\"}],"
        "\"routing\":{\"rules\":["
        "{\"type\":\"field\",\"ip\":[\"geoip:private\"],\"outboundTag\":\"direct\"},"
        "{\"type\":\"field\",\"domain\":[\"domain:ads.example\",\"full:x.test\","
        "\"regexp:^tr[a-z]+\\\\.net$\",\"keyword\"],\"outboundTag\":\"block\"},"
        "{\"type\":\"field\",\"port\":\"53,8000-8100\",\"network\":\"udp\","
        "\"outboundTag\":\"direct\"},"
        "{\"type\":\"field\",\"ip\":[\"203.0.114.0/24\",\"2001:db8:1::/48\"],"
        "\"outboundTag\":\"block\"},"
        "{\"type\":\"field\",\"source\":[\"10.0.0.1\"],\"outboundTag\":\"direct\"}"
        "]}}";
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    const evp_router *r = c->router;
    evp_addr a;
    a = ip4("127.0.0.1", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 1); /* private */
    a = ip4("192.168.3.4", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 1);
    a = ip6("::1", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 1);
    a = ip4("8.8.8.8", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0); /* no rule */
    a = dom("cdn.ads.example", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2); /* domain: suffix */
    a = dom("badads.example", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0); /* not a label boundary */
    a = dom("x.test", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2); /* full: */
    a = dom("y.x.test", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0);
    a = dom("tracker.net", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2); /* regexp: */
    a = dom("my-keyword-site.org", 443);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2); /* plain: substring */
    a = ip4("9.9.9.9", 53);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_UDP), 1); /* port + network */
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0);
    a = ip4("9.9.9.9", 8050);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_UDP), 1);
    a = ip4("203.0.114.9", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2); /* CIDR */
    a = ip6("2001:db8:1:2::5", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 2);
    a = ip6("2001:db8:2::5", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0);
    /* A source rule sees the client's address: a target alone never meets it. */
    a = ip4("10.0.0.1", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 1); /* private, not source */
    a = dom("example.cn", 80);
    ck_assert_uint_eq(evp_router_pick(r, "a", &a, EVP_NET_TCP), 0);
    evp_config_free(c);
}
END_TEST

START_TEST(routing_rule_errors_name_path)
{
    const char *text =
        "{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE "],"
        "\"routing\":{\"rules\":[{\"ip\":[\"300.1.1.1\"],\"outboundTag\":\"d\"}]}}";
    char *errors = load_errors(text);
    ck_assert_msg(strstr(errors, "routing.rules[0].ip[0]") != NULL, "%s", errors);
    free(errors);
}
END_TEST

/* V2Ray 4.34 accepts a rule naming no outbound; its dispatcher sends what the rule matches to
 * the default outbound ("non existing tag"), and the rule still ends the search. */
START_TEST(unknown_outbound_tag_goes_to_default)
{
    const char *text =
        "{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE ","
        "{\"tag\":\"x\",\"protocol\":\"blackhole\"}],\"routing\":{\"rules\":["
        "{\"port\":\"25\",\"outboundTag\":\"zz\"},"
        "{\"port\":\"25,80\",\"outboundTag\":\"x\"}]}}";
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "");
    evp_addr t = {.type = EVP_ADDR_IPV4, .len = 4, .port = 25, .bytes = {192, 0, 2, 1}};
    ck_assert_uint_eq(evp_router_pick(c->router, "a", &t, EVP_NET_TCP), 0);
    t.port = 80;
    ck_assert_uint_eq(evp_router_pick(c->router, "a", &t, EVP_NET_TCP), 1);
    evp_config_free(c);
}
END_TEST

/* outbounds[].sendThrough: an IP is kept for the dial; 0.0.0.0 (V2Ray's default) and no
 * sendThrough bind nothing; a name is refused. */
START_TEST(send_through_loads)
{
    const char *text =
        "{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[" OUT_FREE ","
        "{\"tag\":\"v4\",\"protocol\":\"freedom\",\"sendThrough\":\"127.0.0.2\"},"
        "{\"tag\":\"v6\",\"protocol\":\"freedom\",\"sendThrough\":\"::1\"},"
        "{\"tag\":\"any\",\"protocol\":\"freedom\",\"sendThrough\":\"0.0.0.0\"}]}";
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "refused: %s", errors ? errors : "");
    evp_addr want4 = ip4("127.0.0.2", 0), want6 = ip6("::1", 0);
    ck_assert_int_eq(c->outbounds[0].send_through.type, EVP_ADDR_NONE);
    ck_assert_int_eq(c->outbounds[1].send_through.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(c->outbounds[1].send_through.bytes, want4.bytes, 4);
    ck_assert_int_eq(c->outbounds[2].send_through.type, EVP_ADDR_IPV6);
    ck_assert_mem_eq(c->outbounds[2].send_through.bytes, want6.bytes, 16);
    ck_assert_int_eq(c->outbounds[3].send_through.type, EVP_ADDR_NONE);
    evp_config_free(c);
    errors = load_errors("{\"inbounds\":[" IN_SOCKS "],\"outbounds\":[{\"protocol\":"
                         "\"freedom\",\"sendThrough\":\"localhost\"}]}");
    ck_assert_msg(errors && strstr(errors, "outbounds[0].sendThrough") != NULL, "%s",
                  errors ? errors : "(loaded)");
    free(errors);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, bad_config_names_path, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, good_config_routes);
    tcase_add_test(tc, buffer_size_per_level);
    tcase_add_test(tc, routing_rules_match);
    tcase_add_test(tc, routing_rule_errors_name_path);
    tcase_add_test(tc, unknown_outbound_tag_goes_to_default);
    tcase_add_test(tc, send_through_loads);
    suite_add_tcase(s, tc);
    return s;
}
