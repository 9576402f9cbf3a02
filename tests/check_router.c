/* IP rules see an address however it is spelt: a domain that is an IP literal in any form
 * the system resolver accepts, or an IPv4-mapped IPv6 address, matches the rules for the
 * address it is; the resolver reads those spellings the same way; and a name that resolves
 * into a blackholed range is caught after resolution. */
#include "config.h"
#include "registry.h"
#include "resolver.h"
#include "router.h"

#include <arpa/inet.h>
#include <check.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static evp_registry reg;
static evp_config *cfg;

/* geoip:private -> block (outbound 1), 10.0.0.0/8 as a mapped CIDR -> block, an earlier
 * rule letting 10.9.0.0/16 through, everything else -> the first outbound (freedom). */
static const char guarded[] =
    "{\"inbounds\":[{\"tag\":\"a\",\"listen\":\"127.0.0.1\",\"port\":1080,"
    "\"protocol\":\"socks\"}],"
    "\"outbounds\":[{\"tag\":\"direct\",\"protocol\":\"freedom\"},"
    "{\"tag\":\"block\",\"protocol\":\"blackhole\"},{\"tag\":\"other\",\"protocol\":\"freedom\"}],"
    "\"routing\":{\"rules\":["
    "{\"type\":\"field\",\"domain\":[\"full:allowed.test\"],\"outboundTag\":\"other\"},"
    "{\"type\":\"field\",\"ip\":[\"10.9.0.0/16\"],\"outboundTag\":\"other\"},"
    "{\"type\":\"field\",\"ip\":[\"geoip:private\"],\"outboundTag\":\"block\"},"
    "{\"type\":\"field\",\"ip\":[\"::ffff:198.51.0.0/112\"],\"outboundTag\":\"block\"}"
    "]}}";

static void setup(void)
{
    char *errors = NULL;
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
    cfg = evp_config_load(NULL, guarded, "schema", &reg, &errors);
    ck_assert_msg(cfg != NULL, "%s", errors ? errors : "");
}

static void teardown(void)
{
    evp_config_free(cfg);
    evp_registry_free(&reg);
}

static evp_addr domain(const char *name)
{
    evp_addr a = {.type = EVP_ADDR_DOMAIN, .len = (uint8_t)strlen(name), .port = 80};
    memcpy(a.bytes, name, a.len);
    return a;
}

static size_t pick(const evp_addr *a)
{
    return evp_router_pick(cfg->router, "a", a, EVP_NET_TCP);
}

/* Spellings of loopback addresses that the system resolver takes as numeric hosts. */
static const char *const loopback_spellings[] = {
    "127.0.0.1",        "127.1",           "127.0.1",          "2130706433",
    "0x7f.1",           "0X7F.0.0.1",      "0x7f000001",       "0177.0.0.1",
    "0177.1",           "00000177.0.0.01", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]",
    "::ffff:7f00:1",    "[::1]",           "::1",              "0:0:0:0:0:0:0:1",
    "[0:0:0:0:0:0:0:1]", "127.255.255.254", "0x7f.0xff.0xff.0xfe", "[127.0.0.1]",
    "[127.1]",
};

START_TEST(literal_domains_match_ip_rules)
{
    evp_addr a = domain(loopback_spellings[_i]);
    ck_assert_msg(pick(&a) == 1, "\"%s\" sent as a domain routed to outbound %zu, not the "
                  "blackhole", loopback_spellings[_i], pick(&a));
}
END_TEST

/* Names, and near-literals the resolver would look up as names: no ip rule applies. */
static const char *const not_literals[] = {
    "127.0.0.1.example", "1.2.3.4.5",  "127.0.0.1 x", " 127.0.0.1", "127.0.0.1.",
    "0x",                "08.1",       "127..1",      ".127.1",     "256.1",
    "1.16777216",        "4294967296", "[::1",        "::1]",       "[]",
    "localhost",         "fe80::1%lo", "0x7f.1g",     "-1",         "1.2.3.4:80",
};

START_TEST(near_literals_stay_names)
{
    evp_addr a = domain(not_literals[_i]);
    ck_assert_msg(pick(&a) == 0, "\"%s\" routed to outbound %zu, want the default",
                  not_literals[_i], pick(&a));
}
END_TEST

START_TEST(mapped_ipv6_matches_ipv4_rules)
{
    evp_addr a = {.type = EVP_ADDR_IPV6, .len = 16, .port = 80};
    inet_pton(AF_INET6, "::ffff:192.168.1.2", a.bytes);
    ck_assert_uint_eq(pick(&a), 1);
    inet_pton(AF_INET6, "::ffff:8.8.8.8", a.bytes);
    ck_assert_uint_eq(pick(&a), 0);
    inet_pton(AF_INET6, "::ffff:10.9.1.1", a.bytes);
    ck_assert_uint_eq(pick(&a), 2); /* the earlier, narrower rule */
    /* A rule written as a mapped CIDR matches the plain IPv4 address too. */
    evp_addr b = {.type = EVP_ADDR_IPV4, .len = 4, .port = 80};
    inet_pton(AF_INET, "198.51.7.7", b.bytes);
    ck_assert_uint_eq(pick(&b), 1);
    evp_addr c = domain("8.8.8.8");
    ck_assert_uint_eq(pick(&c), 0);
    c = domain("::ffff:10.9.0.1");
    ck_assert_uint_eq(pick(&c), 2);
}
END_TEST

/* ---- the resolver reads the same spellings the same way ------------------------------ */

typedef struct answer {
    int done;
    char text[INET6_ADDRSTRLEN];
    const char *err;
} answer;

static void on_answer(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    answer *ans = arg;
    ans->done = 1;
    ans->err = err;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ans->text,
                  sizeof ans->text);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ans->text,
                  sizeof ans->text);
}

static const struct {
    const char *name, *want;
} resolver_cases[] = {
    {"127.1", "127.0.0.1"},        {"2130706433", "127.0.0.1"}, {"0x7f.1", "127.0.0.1"},
    {"0177.0.0.1", "127.0.0.1"},   {"[::1]", "::1"},            {"0:0:0:0:0:0:0:1", "::1"},
    {"::ffff:127.0.0.1", "127.0.0.1"}, {"10.0.0.1", "10.0.0.1"},
};

START_TEST(resolver_agrees_with_router)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evp_resolver *r = evp_resolver_new(loop);
    ck_assert_ptr_nonnull(r);
    answer ans = {0};
    ck_assert_ptr_nonnull(evp_resolve(r, resolver_cases[_i].name, 80, on_answer, &ans));
    for (int turns = 0; !ans.done && turns < 1000; turns++)
        ev_run(loop, EVRUN_ONCE);
    ck_assert_msg(ans.done, "no answer for %s", resolver_cases[_i].name);
    ck_assert_msg(strcmp(ans.text, resolver_cases[_i].want) == 0, "%s resolved to \"%s\" (%s)",
                  resolver_cases[_i].name, ans.text, ans.err ? ans.err : "no error");
    evp_resolver_free(r);
    ev_loop_destroy(loop);
}
END_TEST

/* ---- after resolution: an address an ip rule blackholes is refused ------------------- */

START_TEST(resolved_address_rechecked)
{
    size_t rule = 99, out = 99;
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4, .port = 80};
    inet_pton(AF_INET, "127.0.0.1", a.bytes);
    ck_assert_int_eq(evp_router_ip_blocked(cfg->router, "a", &a, EVP_NET_TCP, &rule, &out), 1);
    ck_assert_uint_eq(rule, 2); /* its index in routing.rules */
    ck_assert_uint_eq(out, 1);
    /* An earlier ip rule that lets the address through wins, as it would for the IP. */
    inet_pton(AF_INET, "10.9.3.3", a.bytes);
    ck_assert_int_eq(evp_router_ip_blocked(cfg->router, "a", &a, EVP_NET_TCP, &rule, &out), 0);
    inet_pton(AF_INET, "8.8.8.8", a.bytes);
    ck_assert_int_eq(evp_router_ip_blocked(cfg->router, "a", &a, EVP_NET_TCP, &rule, &out), 0);
    evp_addr v6 = {.type = EVP_ADDR_IPV6, .len = 16, .port = 80};
    inet_pton(AF_INET6, "::ffff:192.168.0.1", v6.bytes);
    ck_assert_int_eq(evp_router_ip_blocked(cfg->router, "a", &v6, EVP_NET_TCP, &rule, &out), 1);
    inet_pton(AF_INET6, "::1", v6.bytes);
    ck_assert_int_eq(evp_router_ip_blocked(cfg->router, "a", &v6, EVP_NET_TCP, &rule, &out), 1);
}
END_TEST

/* Only ip rules count: a port rule to a blackhole did not stop the name before it
 * resolved, and the address changes nothing about the port. */
START_TEST(only_ip_rules_recheck)
{
    const char *text =
        "{\"inbounds\":[{\"tag\":\"a\",\"listen\":\"127.0.0.1\",\"port\":1080,"
        "\"protocol\":\"socks\"}],"
        "\"outbounds\":[{\"tag\":\"block\",\"protocol\":\"blackhole\"},"
        "{\"tag\":\"direct\",\"protocol\":\"freedom\"}],"
        "\"routing\":{\"rules\":["
        "{\"type\":\"field\",\"domain\":[\"domain:test\"],\"outboundTag\":\"direct\"},"
        "{\"type\":\"field\",\"port\":\"80\",\"outboundTag\":\"block\"}]}}";
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    size_t rule, out;
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4, .port = 80};
    inet_pton(AF_INET, "127.0.0.1", a.bytes);
    /* Neither the port rule nor the default (a blackhole here) refuses a resolved name. */
    ck_assert_int_eq(evp_router_ip_blocked(c->router, "a", &a, EVP_NET_TCP, &rule, &out), 0);
    a.port = 81;
    ck_assert_int_eq(evp_router_ip_blocked(c->router, "a", &a, EVP_NET_TCP, &rule, &out), 0);
    evp_config_free(c);
}
END_TEST

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, literal_domains_match_ip_rules, 0,
                        (int)(sizeof loopback_spellings / sizeof loopback_spellings[0]));
    tcase_add_loop_test(tc, near_literals_stay_names, 0,
                        (int)(sizeof not_literals / sizeof not_literals[0]));
    tcase_add_test(tc, mapped_ipv6_matches_ipv4_rules);
    tcase_add_loop_test(tc, resolver_agrees_with_router, 0,
                        (int)(sizeof resolver_cases / sizeof resolver_cases[0]));
    tcase_add_test(tc, resolved_address_rechecked);
    tcase_add_test(tc, only_ip_rules_recheck);
    suite_add_tcase(s, tc);
    return s;
}
