/* The "limits" block and dns.servers as the config reads them (defaults, values, errors), the
 * DNS answer cache, and admission against the caps. */
#include "admission.h"
#include "config.h"
#include "dns_cache.h"
#include "dns_servers.h"
#include "registry.h"

#include <arpa/inet.h>
#include <pthread.h>
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

#define BASE                                                                                   \
    "\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\"}],"                                   \
    "\"outbounds\":[{\"protocol\":\"freedom\"}]"

/* Loads BASE plus extra top-level members; NULL with *errors set when it does not load. */
static evp_config *load(const char *extra, char **errors)
{
    char text[1024];
    snprintf(text, sizeof text, "{" BASE "%s%s}", extra[0] ? "," : "", extra);
    *errors = NULL;
    return evp_config_load(NULL, text, "schema", &reg, errors);
}

START_TEST(limits_default_when_absent)
{
    char *errors;
    evp_config *c = load("", &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    ck_assert_uint_eq(c->limits.max_sessions, EVP_LIMITS_MAX_SESSIONS);
    ck_assert_uint_eq(c->limits.max_handshakes, EVP_LIMITS_MAX_HANDSHAKES);
    ck_assert_uint_eq(c->limits.max_udp_assocs, EVP_LIMITS_MAX_UDP_ASSOCS);
    ck_assert_double_eq(c->limits.udp_idle, EVP_LIMITS_UDP_IDLE);
    ck_assert_uint_eq(c->limits.dns_max_inflight, EVP_LIMITS_DNS_MAX_INFLIGHT);
    ck_assert_double_eq(c->limits.dns_cache, EVP_LIMITS_DNS_CACHE);
    ck_assert_double_eq(c->limits.dns_negative_cache, EVP_LIMITS_DNS_NEGATIVE_CACHE);
    ck_assert_ptr_null(c->dns_servers);
    evp_config_free(c);
}
END_TEST

START_TEST(limits_read)
{
    char *errors;
    evp_config *c = load("\"limits\":{\"maxSessions\":5,\"maxHandshakes\":3,"
                         "\"maxUdpAssociations\":2,\"udpIdle\":1.5,\"dnsMaxInflight\":4,"
                         "\"dnsCacheSeconds\":0,\"dnsNegativeCacheSeconds\":7}",
                         &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    ck_assert_uint_eq(c->limits.max_sessions, 5);
    ck_assert_uint_eq(c->limits.max_handshakes, 3);
    ck_assert_uint_eq(c->limits.max_udp_assocs, 2);
    ck_assert_double_eq(c->limits.udp_idle, 1.5);
    ck_assert_uint_eq(c->limits.dns_max_inflight, 4);
    ck_assert_double_eq(c->limits.dns_cache, 0);
    ck_assert_double_eq(c->limits.dns_negative_cache, 7);
    evp_config_free(c);
}
END_TEST

START_TEST(dns_servers_by_ip)
{
    char *errors;
    evp_config *c = load("\"dns\":{\"servers\":[\"8.8.8.8\",{\"address\":\"::1\",\"port\":5353},"
                         "\"localhost\",\"https://dns.example/dns-query\","
                         "{\"address\":\"10.0.0.1\",\"domains\":[\"corp.example\"]}]}",
                         &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    ck_assert_ptr_nonnull(c->dns_servers);
    ck_assert_uint_eq(evp_dns_servers_count(c->dns_servers), 3); /* one has domains: split */
    ck_assert_str_eq(evp_dns_servers_csv(c->dns_servers, 0), "8.8.8.8:53");
    ck_assert_str_eq(evp_dns_servers_csv(c->dns_servers, 1), "[::1]:5353");
    ck_assert_str_eq(evp_dns_servers_csv(c->dns_servers, 2), "10.0.0.1:53");
    evp_config_free(c);
}
END_TEST

static const struct {
    const char *extra;
    const char *want; /* substring the errors must hold */
} bad[] = {
    {"\"limits\":{\"maxSessions\":0}", "limits.maxSessions"},
    {"\"limits\":{\"maxHandshakes\":-1}", "limits.maxHandshakes"},
    {"\"limits\":{\"maxUdpAssociations\":\"many\"}", "limits.maxUdpAssociations"},
    {"\"limits\":{\"udpIdle\":0}", "limits.udpIdle"},
    {"\"limits\":{\"dnsMaxInflight\":1.5}", "limits.dnsMaxInflight"},
    {"\"limits\":{\"dnsCacheSeconds\":-1}", "limits.dnsCacheSeconds"},
    {"\"limits\":{\"maxSession\":5}", "maxSession"},
    {"\"limits\":[]", "limits"},
    {"\"dns\":{\"servers\":[{\"address\":\"1.1.1.1\",\"port\":70000}]}",
     "dns.servers[0]: matches none"},
};

START_TEST(limits_errors_name_path)
{
    char *errors;
    evp_config *c = load(bad[_i].extra, &errors);
    ck_assert_msg(c == NULL, "case %d loaded", _i);
    ck_assert_msg(errors && strstr(errors, bad[_i].want) != NULL, "case %d: want \"%s\" in: %s",
                  _i, bad[_i].want, errors ? errors : "");
    free(errors);
}
END_TEST

static evp_dns_answer answer_v4(const char *ip)
{
    evp_dns_answer a;
    memset(&a, 0, sizeof a);
    a.addr[0].in.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.addr[0].in.sin_addr);
    a.n = 1;
    return a;
}

START_TEST(dns_cache_expires_and_ignores_case)
{
    evp_dns_cache *c = evp_dns_cache_new(8);
    evp_dns_answer a = answer_v4("192.0.2.1"), got;
    evp_dns_cache_put(c, "Example.TEST", AF_UNSPEC, &a, 110, 100);
    ck_assert_int_eq(evp_dns_cache_get(c, "example.test", AF_UNSPEC, 109, &got), 1);
    ck_assert_int_eq(memcmp(&got.addr, &a.addr, sizeof a.addr), 0);
    ck_assert_int_eq(evp_dns_cache_get(c, "example.test", AF_UNSPEC, 110, &got), 0); /* expired */
    ck_assert_uint_eq(evp_dns_cache_size(c), 0);
    evp_dns_answer nx = {.err = "Domain name not found"};
    evp_dns_cache_put(c, "nx.test", AF_UNSPEC, &nx, 105, 100);
    ck_assert_int_eq(evp_dns_cache_get(c, "nx.test", AF_UNSPEC, 101, &got), 1);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_str_eq(got.err, "Domain name not found");
    evp_dns_cache_put(c, "zero.test", AF_UNSPEC, &a, 100, 100); /* TTL 0: not held */
    ck_assert_int_eq(evp_dns_cache_get(c, "zero.test", AF_UNSPEC, 100, &got), 0);
    evp_dns_cache_free(c);
}
END_TEST

/* An answer is held for the family it was asked for: an A answer must not satisfy an AAAA
 * ask (UseIPv6 would dial an IPv4 address), nor an any-family one a family's. */
START_TEST(dns_cache_keys_on_family)
{
    evp_dns_cache *c = evp_dns_cache_new(8);
    evp_dns_answer a = answer_v4("192.0.2.1"), got;
    evp_dns_cache_put(c, "fam.test", AF_INET, &a, 110, 100);
    ck_assert_int_eq(evp_dns_cache_get(c, "fam.test", AF_INET6, 101, &got), 0);
    ck_assert_int_eq(evp_dns_cache_get(c, "fam.test", AF_UNSPEC, 101, &got), 0);
    ck_assert_int_eq(evp_dns_cache_get(c, "FAM.test", AF_INET, 101, &got), 1);
    evp_dns_answer none = {.err = "No data"};
    evp_dns_cache_put(c, "fam.test", AF_INET6, &none, 110, 100);
    ck_assert_int_eq(evp_dns_cache_get(c, "fam.test", AF_INET6, 101, &got), 1);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_int_eq(evp_dns_cache_get(c, "fam.test", AF_INET, 101, &got), 1); /* still held */
    ck_assert_uint_eq(got.n, 1);
    ck_assert_uint_eq(evp_dns_cache_size(c), 2);
    evp_dns_cache_free(c);
}
END_TEST

START_TEST(dns_cache_bounded)
{
    evp_dns_cache *c = evp_dns_cache_new(3);
    evp_dns_answer a = answer_v4("192.0.2.1"), got;
    char name[32];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "n%d.test", i);
        evp_dns_cache_put(c, name, AF_UNSPEC, &a, 200 + i, 100);
        ck_assert_uint_le(evp_dns_cache_size(c), 3);
    }
    /* the newest stay (the ones closest to expiry went first) */
    ck_assert_int_eq(evp_dns_cache_get(c, "n9.test", AF_UNSPEC, 101, &got), 1);
    ck_assert_int_eq(evp_dns_cache_get(c, "n8.test", AF_UNSPEC, 101, &got), 1);
    ck_assert_int_eq(evp_dns_cache_get(c, "n0.test", AF_UNSPEC, 101, &got), 0);
    evp_dns_cache_clear(c);
    ck_assert_uint_eq(evp_dns_cache_size(c), 0);
    evp_dns_cache_free(c);
}
END_TEST

static int resumed;
static void on_resume(evp_runtime *rt)
{
    resumed++;
}

START_TEST(admission_pauses_and_resumes)
{
    evp_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.loop = ev_default_loop(0);
    rt.limits = evp_limits_default();
    rt.limits.max_sessions = 2;
    rt.limits.max_handshakes = 1;
    rt.resume_accepting = on_resume;
    resumed = 0;
    ck_assert_int_eq(evp_admission_room(&rt), 1);
    rt.n_sessions = 1;
    rt.n_handshakes = 1;
    ck_assert_int_eq(evp_admission_room(&rt), 0); /* handshakes full */
    evp_admission_pause(&rt);
    ck_assert_int_eq(rt.accept_paused.on, 1);
    rt.n_handshakes = 0;
    rt.n_sessions = 2;
    evp_admission_changed(&rt);
    ck_assert_int_eq(resumed, 0); /* sessions full now */
    ck_assert_int_eq(evp_admission_udp(&rt), 0);
    rt.n_sessions = 1;
    evp_admission_changed(&rt);
    ck_assert_int_eq(resumed, 1);
    ck_assert_int_eq(rt.accept_paused.on, 0);
    ck_assert_int_eq(evp_admission_udp(&rt), 1);
    rt.n_assocs = rt.limits.max_udp_assocs;
    ck_assert_int_eq(evp_admission_assoc(&rt), 0);
}
END_TEST

static int woken;
static void on_wake(evp_runtime *rt)
{
    woken++;
}

static void shared_runtime(evp_runtime *rt, evp_load *load)
{
    memset(rt, 0, sizeof *rt);
    rt->loop = ev_default_loop(0);
    rt->limits = evp_limits_default();
    rt->limits.max_sessions = 3;
    rt->limits.max_handshakes = 2;
    rt->load = load;
    rt->resume_accepting = on_resume;
    rt->wake_workers = on_wake;
}

/* Two workers' runtimes share one load: the caps bound their sum, and room made on one
 * wakes the other's paused listeners. */
START_TEST(caps_bound_the_workers_sum)
{
    evp_load load;
    memset(&load, 0, sizeof load);
    evp_runtime a, b;
    shared_runtime(&a, &load);
    shared_runtime(&b, &load);
    resumed = woken = 0;
    ck_assert_int_eq(evp_admission_enter(&a, 1), 1);
    ck_assert_int_eq(evp_admission_enter(&b, 1), 1);
    ck_assert_int_eq(evp_admission_room(&a), 0); /* two handshakes between them */
    ck_assert_int_eq(evp_admission_enter(&a, 1), 0);
    ck_assert_uint_eq(a.n_sessions, 1);
    evp_admission_pause(&b);
    ck_assert_uint_eq(atomic_load(&load.paused), 1);
    evp_admission_handshake_done(&a);
    evp_admission_changed(&a); /* a's room is b's to take too */
    ck_assert_int_eq(woken, 1);
    ck_assert_int_eq(resumed, 0);
    evp_admission_changed(&b);
    ck_assert_int_eq(resumed, 1);
    ck_assert_uint_eq(atomic_load(&load.paused), 0);
    ck_assert_int_eq(evp_admission_enter(&b, 0), 1); /* a UDP session: 3 sessions */
    ck_assert_int_eq(evp_admission_enter(&a, 1), 0);
    ck_assert_int_eq(evp_admission_udp(&a), 0);
    evp_admission_leave(&a, 0);
    evp_admission_leave(&b, 1);
    /* A place reserved before an accept is the session's, and given back when unused. */
    ck_assert_int_eq(evp_admission_reserve(&a), 1);
    ck_assert_int_eq(evp_admission_reserve(&b), 1);
    ck_assert_int_eq(evp_admission_reserve(&b), 1); /* still the one place */
    ck_assert_int_eq(evp_admission_room(&a), 0);    /* 3 sessions counted */
    ck_assert_int_eq(evp_admission_enter(&a, 1), 1);
    ck_assert_uint_eq(atomic_load(&load.sessions), 3);
    evp_admission_unreserve(&b);
    evp_admission_unreserve(&a); /* nothing left to give back */
    ck_assert_uint_eq(atomic_load(&load.sessions), 2);
    evp_admission_leave(&a, 1);
    evp_admission_leave(&b, 0);
    ck_assert_uint_eq(atomic_load(&load.sessions), 0);
    ck_assert_uint_eq(atomic_load(&load.handshakes), 0);
}
END_TEST

/* Threads entering and leaving at once never hold more than the cap between them. */
#define RACE_ROUNDS 200000
static atomic_int inside, most_inside;

static void *race(void *arg)
{
    evp_runtime *rt = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        if (!evp_admission_enter(rt, 1))
            continue;
        int n = atomic_fetch_add(&inside, 1) + 1;
        for (int m = atomic_load(&most_inside); n > m;)
            if (atomic_compare_exchange_weak(&most_inside, &m, n))
                break;
        atomic_fetch_sub(&inside, 1);
        evp_admission_leave(rt, 1);
    }
    return NULL;
}

START_TEST(caps_hold_under_racing_workers)
{
    evp_load load;
    memset(&load, 0, sizeof load);
    evp_runtime rts[4];
    pthread_t th[4];
    atomic_store(&inside, 0);
    atomic_store(&most_inside, 0);
    for (int i = 0; i < 4; i++) {
        shared_runtime(&rts[i], &load);
        rts[i].limits.max_handshakes = 1;
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rts[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&most_inside), 1);
    ck_assert_uint_eq(atomic_load(&load.sessions), 0);
    ck_assert_uint_eq(atomic_load(&load.handshakes), 0);
}
END_TEST

Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, limits_default_when_absent);
    tcase_add_test(tc, limits_read);
    tcase_add_test(tc, dns_servers_by_ip);
    tcase_add_loop_test(tc, limits_errors_name_path, 0, sizeof bad / sizeof bad[0]);
    suite_add_tcase(s, tc);
    tc = tcase_create("dns cache and admission");
    tcase_add_test(tc, dns_cache_expires_and_ignores_case);
    tcase_add_test(tc, dns_cache_keys_on_family);
    tcase_add_test(tc, dns_cache_bounded);
    tcase_add_test(tc, admission_pauses_and_resumes);
    tcase_add_test(tc, caps_bound_the_workers_sum);
    tcase_add_test(tc, caps_hold_under_racing_workers);
    suite_add_tcase(s, tc);
    return s;
}
