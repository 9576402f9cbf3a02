/* dns.hosts (core/dns/dns_hosts.c) as V2Ray 4.34 reads it: a bare name matches itself only,
 * the prefixed kinds as routing's, keys tried in sorted order, names followed to an IP at most
 * 5 deep (else the last name goes to DNS), bad keys refused naming them; and the resolver
 * answering a mapped name without asking any server. */
#include <check.h>
#include <ev.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dns_hosts.h"
#include "errlist.h"
#include "resolver.h"

static evp_dns_hosts *parse(const char *json_text, evp_errlist *errs)
{
    json_error_t jerr;
    json_t *o = json_loads(json_text, 0, &jerr);
    ck_assert_ptr_nonnull(o);
    evp_dns_hosts *h = NULL;
    int rc = evp_dns_hosts_parse(o, &h, errs);
    json_decref(o);
    ck_assert_int_eq(rc == 0, h != NULL || errs->count == 0);
    return h;
}

/* The addresses of family name maps to, space-separated ("-" for none of that family), ""
 * when not mapped, "=NAME" for a name left to DNS. */
static const char *look_family(const evp_dns_hosts *h, const char *name, int family)
{
    static char out[600];
    evp_addr ips[8];
    size_t n = 99;
    char alias[256];
    memset(ips, 0, sizeof ips);
    switch (evp_dns_hosts_lookup(h, name, family, ips, 8, &n, alias)) {
    case 1:
        ck_assert_uint_le(n, 8);
        strcpy(out, n ? "" : "-");
        for (size_t i = 0; i < n; i++) {
            char one[64];
            int v6 = ips[i].type == EVP_ADDR_IPV6;
            ck_assert_int_eq(ips[i].type, v6 ? EVP_ADDR_IPV6 : EVP_ADDR_IPV4);
            inet_ntop(v6 ? AF_INET6 : AF_INET, ips[i].bytes, one, sizeof one);
            strcat(strcat(out, i ? " " : ""), one);
        }
        return out;
    case 2:
        snprintf(out, sizeof out, "=%s", alias);
        return out;
    default:
        ck_assert_uint_eq(n, 0);
        return "";
    }
}

/* The first address name maps to (any family), as the resolver's callers see it. */
static const char *look(const evp_dns_hosts *h, const char *name)
{
    const char *all = look_family(h, name, AF_UNSPEC);
    static char first[300];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(all, " "), all);
    return first;
}

START_TEST(kinds_match_as_v2ray_reads_them)
{
    evp_errlist errs = {0};
    evp_dns_hosts *h = parse("{\"example.test\": \"127.0.0.2\","
                             " \"domain:sub.test\": \"127.0.0.3\","
                             " \"keyword:kw\": \"127.0.0.4\","
                             " \"regexp:^r[0-9]+\\\\.test$\": \"127.0.0.5\","
                             " \"full:www.full.test\": \"127.0.0.6\"}",
                             &errs);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(look(h, "example.test"), "127.0.0.2");
    ck_assert_str_eq(look(h, "EXAMPLE.test"), "127.0.0.2");
    ck_assert_str_eq(look(h, "www.example.test"), ""); /* a bare name is not a suffix */
    ck_assert_str_eq(look(h, "sub.test"), "127.0.0.3");
    ck_assert_str_eq(look(h, "a.b.sub.test"), "127.0.0.3");
    ck_assert_str_eq(look(h, "notsub.test"), "");
    ck_assert_str_eq(look(h, "akwb.test"), "127.0.0.4");
    ck_assert_str_eq(look(h, "r12.test"), "127.0.0.5");
    ck_assert_str_eq(look(h, "r12.test.x"), "");
    ck_assert_str_eq(look(h, "www.full.test"), "127.0.0.6");
    ck_assert_str_eq(look(h, "full.test"), "");
    evp_dns_hosts_unref(h);
    free(evp_errlist_take(&errs));
}
END_TEST

START_TEST(sorted_keys_first_match_wins)
{
    evp_errlist errs = {0};
    /* "domain:x.test" sorts before "full:www.x.test": its address wins for www.x.test. */
    evp_dns_hosts *h =
        parse("{\"full:www.x.test\": \"127.0.0.9\", \"domain:x.test\": \"127.0.0.8\"}", &errs);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(look(h, "www.x.test"), "127.0.0.8");
    evp_dns_hosts_unref(h);
    free(evp_errlist_take(&errs));
}
END_TEST

START_TEST(names_are_followed_five_deep)
{
    evp_errlist errs = {0};
    evp_dns_hosts *h = parse("{\"a.test\": \"b.test\", \"b.test\": \"c.test\","
                             " \"c.test\": \"127.0.0.7\", \"d.test\": \"elsewhere.test\","
                             " \"l1.test\": \"l2.test\", \"l2.test\": \"l3.test\","
                             " \"l3.test\": \"l4.test\", \"l4.test\": \"l5.test\","
                             " \"l5.test\": \"l6.test\", \"l6.test\": \"127.0.0.1\","
                             " \"m1.test\": \"m2.test\", \"m2.test\": \"m3.test\","
                             " \"m3.test\": \"m4.test\", \"m4.test\": \"m5.test\","
                             " \"m5.test\": \"m6.test\", \"m6.test\": \"m7.test\","
                             " \"m7.test\": \"127.0.0.1\", \"loop.test\": \"loop.test\"}",
                             &errs);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(look(h, "a.test"), "127.0.0.7");
    ck_assert_str_eq(look(h, "d.test"), "=elsewhere.test");
    ck_assert_str_eq(look(h, "l1.test"), "127.0.0.1"); /* 5 names followed, as V2Ray's */
    ck_assert_str_eq(look(h, "m1.test"), "=m7.test");  /* a 6th is not: DNS gets it */
    ck_assert_str_eq(look(h, "loop.test"), "=loop.test");
    evp_dns_hosts_unref(h);
    free(evp_errlist_take(&errs));
}
END_TEST

/* hosts.go: every matching key gives its address, filtered by the family asked; a value of
 * exactly 127.0.0.1 also gives ::1; a name mapped to no address of the family asked is still
 * mapped (V2Ray answers it with no record, and asks no server). */
START_TEST(family_filter_and_localhost_rule)
{
    evp_errlist errs = {0};
    evp_dns_hosts *h = parse("{\"local.test\": \"127.0.0.1\","
                             " \"two.test\": \"127.0.0.2\","
                             " \"v6.test\": \"::2\","
                             " \"domain:both.test\": \"127.0.0.5\","
                             " \"full:www.both.test\": \"::5\","
                             " \"mapped4.test\": \"::ffff:127.0.0.1\"}",
                             &errs);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(look_family(h, "local.test", AF_UNSPEC), "127.0.0.1 ::1");
    ck_assert_str_eq(look_family(h, "local.test", AF_INET), "127.0.0.1");
    ck_assert_str_eq(look_family(h, "local.test", AF_INET6), "::1");
    ck_assert_str_eq(look_family(h, "two.test", AF_UNSPEC), "127.0.0.2"); /* not localhost */
    ck_assert_str_eq(look_family(h, "two.test", AF_INET6), "-");
    ck_assert_str_eq(look_family(h, "v6.test", AF_INET), "-");
    ck_assert_str_eq(look_family(h, "v6.test", AF_INET6), "::2");
    ck_assert_str_eq(look_family(h, "www.both.test", AF_UNSPEC), "127.0.0.5 ::5");
    ck_assert_str_eq(look_family(h, "www.both.test", AF_INET6), "::5");
    ck_assert_str_eq(look_family(h, "mapped4.test", AF_INET6), "::1"); /* read as 127.0.0.1 */
    ck_assert_str_eq(look_family(h, "other.test", AF_INET), "");
    evp_dns_hosts_unref(h);
    free(evp_errlist_take(&errs));
}
END_TEST

START_TEST(bad_keys_are_refused_by_name)
{
    evp_errlist errs = {0};
    evp_dns_hosts *h = parse("{\"domain:\": \"127.0.0.1\", \"regexp:(\": \"127.0.0.1\","
                             " \"geosite:absent-list\": \"127.0.0.1\"}",
                             &errs);
    ck_assert_ptr_null(h);
    ck_assert_uint_eq(errs.count, 3);
    char *all = evp_errlist_take(&errs);
    ck_assert_ptr_nonnull(strstr(all, "dns.hosts[\"domain:\"]"));
    ck_assert_ptr_nonnull(strstr(all, "dns.hosts[\"regexp:(\"]"));
    ck_assert_ptr_nonnull(strstr(all, "dns.hosts[\"geosite:absent-list\"]"));
    free(all);
}
END_TEST

static int answered;
static char answer[64];

static void on_answer(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    answered = 1;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    if (sa && sa->sa_family == AF_INET)
        snprintf(answer, sizeof answer, "%s:%u", inet_ntoa(sin->sin_addr), ntohs(sin->sin_port));
    else
        snprintf(answer, sizeof answer, "error %s", err ? err : "?");
}

/* A resolver on loop with the dns.hosts in hosts_json, whose only server is a closed port:
 * a name the hosts answer never reaches the network (a leak would fail instead). */
static evp_resolver *hosts_resolver(struct ev_loop *loop, const char *hosts_json)
{
    evp_errlist errs = {0};
    evp_dns_hosts *h = parse(hosts_json, &errs);
    ck_assert_ptr_nonnull(h);
    evp_resolver *r = evp_resolver_new(loop);
    evp_limits l = evp_limits_default();
    json_t *closed = json_loads("[{\"address\": \"127.0.0.1\", \"port\": 9}]", 0, NULL);
    evp_dns_servers *servers = NULL;
    ck_assert_int_eq(evp_dns_servers_parse(closed, &servers, &errs), 0);
    json_decref(closed);
    evp_resolver_configure(r, &l, servers, h);
    evp_dns_servers_unref(servers);
    evp_dns_hosts_unref(h); /* the resolver holds its own reference */
    free(evp_errlist_take(&errs));
    return r;
}

/* The resolver answers a mapped name from the hosts, without asking its servers. */
START_TEST(resolver_answers_from_hosts)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evp_resolver *r = hosts_resolver(loop, "{\"domain:mapped.test\": \"127.0.0.3\"}");
    answered = 0;
    ck_assert_ptr_nonnull(evp_resolve(r, "www.mapped.test", 443, on_answer, NULL));
    ck_assert_int_eq(answered, 0); /* never from inside the call */
    for (int i = 0; i < 100 && !answered; i++)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
    ck_assert_int_eq(answered, 1);
    ck_assert_str_eq(answer, "127.0.0.3:443");
    evp_resolver_free(r);
    ev_loop_destroy(loop);
}
END_TEST

static char all_answer[600];

static void on_all(void *arg, const evp_dns_sockaddr *addrs, unsigned n, const char *err)
{
    answered = 1;
    all_answer[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        char ip[64];
        int v6 = addrs[i].sa.sa_family == AF_INET6;
        inet_ntop(v6 ? AF_INET6 : AF_INET,
                  v6 ? (const void *)&addrs[i].in6.sin6_addr : (const void *)&addrs[i].in.sin_addr,
                  ip, sizeof ip);
        unsigned port = ntohs(v6 ? addrs[i].in6.sin6_port : addrs[i].in.sin_port);
        snprintf(all_answer + strlen(all_answer), sizeof all_answer - strlen(all_answer),
                 "%s%s/%u", i ? " " : "", ip, port);
    }
    if (n == 0)
        snprintf(all_answer, sizeof all_answer, "error %s", err ? err : "?");
}

/* What r answers for name asked for family, every address with its port. */
static const char *resolve_all(struct ev_loop *loop, evp_resolver *r, const char *name,
                               int family)
{
    answered = 0;
    ck_assert_ptr_nonnull(evp_resolve_family(r, name, 8080, family, on_all, NULL));
    for (int i = 0; i < 100 && !answered; i++)
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
    ck_assert_int_eq(answered, 1);
    return all_answer;
}

/* The resolver hands every mapped address of the family asked, ports set; a name mapped to
 * no address of that family has no record (and no server, a closed port here, is asked). */
START_TEST(resolver_family_from_hosts)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evp_resolver *r =
        hosts_resolver(loop, "{\"local.test\": \"127.0.0.1\", \"v6.test\": \"::2\"}");
    ck_assert_str_eq(resolve_all(loop, r, "local.test", AF_UNSPEC), "127.0.0.1/8080 ::1/8080");
    ck_assert_str_eq(resolve_all(loop, r, "local.test", AF_INET), "127.0.0.1/8080");
    ck_assert_str_eq(resolve_all(loop, r, "local.test", AF_INET6), "::1/8080");
    ck_assert_str_eq(resolve_all(loop, r, "v6.test", AF_INET6), "::2/8080");
    ck_assert_str_eq(resolve_all(loop, r, "v6.test", AF_INET),
                     "error DNS server returned answer with no data");
    ck_assert_str_eq(resolve_all(loop, r, "[::3]", AF_INET6), "::3/8080"); /* a literal */
    evp_resolver_free(r);
    ev_loop_destroy(loop);
}
END_TEST

Suite *dns_hosts_suite(void)
{
    Suite *s = suite_create("dns_hosts");
    TCase *t = tcase_create("hosts");
    tcase_add_test(t, kinds_match_as_v2ray_reads_them);
    tcase_add_test(t, sorted_keys_first_match_wins);
    tcase_add_test(t, names_are_followed_five_deep);
    tcase_add_test(t, family_filter_and_localhost_rule);
    tcase_add_test(t, bad_keys_are_refused_by_name);
    tcase_add_test(t, resolver_answers_from_hosts);
    tcase_add_test(t, resolver_family_from_hosts);
    suite_add_tcase(s, t);
    return s;
}
