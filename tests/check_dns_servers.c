/* dns.servers with domains and expectIPs (core/dns/dns_servers.c) as V2Ray 4.34 orders and
 * filters them: the servers whose domains meet a name first (a full name, then the deepest
 * suffix, then keyword or regexp), the rest in config order; bad rules named by path; and the
 * resolver asking two in-test DNS servers on loopback in that order, passing over an answer
 * outside a server's expectIPs, and stopping at "no such name" as V2Ray does. */
#include <check.h>
#include <ev.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns_servers.h"
#include "errlist.h"
#include "resolver.h"

static evp_dns_servers *parse(const char *json_text, evp_errlist *errs)
{
    json_error_t jerr;
    json_t *o = json_loads(json_text, 0, &jerr);
    ck_assert_msg(o != NULL, "%s", jerr.text);
    evp_dns_servers *s = NULL;
    int rc = evp_dns_servers_parse(o, &s, errs);
    json_decref(o);
    ck_assert_int_eq(rc == 0, errs->count == 0);
    return s;
}

/* The order for name as digits, "4320" for servers 4, 3, 2, 0. */
static const char *order_of(const evp_dns_servers *s, const char *name)
{
    static char out[EVP_DNS_SERVERS_MAX + 1];
    uint8_t order[EVP_DNS_SERVERS_MAX];
    size_t n = evp_dns_servers_order(s, name, order);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('0' + order[i]);
    out[n] = '\0';
    return out;
}

START_TEST(order_as_v2ray_sorts_servers)
{
    evp_errlist errs = {0};
    evp_dns_servers *s = parse(
        "[\"10.0.0.1\","
        " {\"address\": \"10.0.0.2\", \"domains\": [\"keyword:tube\", \"regexp:^ads\\\\.\"]},"
        " {\"address\": \"10.0.0.3\", \"domains\": [\"domain:example.com\", \"corp\"]},"
        " {\"address\": \"10.0.0.4\", \"domains\": [\"domain:www.example.com\","
        "                                          \"full:exact.test\"]},"
        " {\"address\": \"10.0.0.5\", \"port\": 5353, \"domains\": [\"full:www.example.com\"]}]",
        &errs);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(evp_dns_servers_split(s), 1);
    ck_assert_uint_eq(evp_dns_servers_count(s), 5);
    ck_assert_str_eq(evp_dns_servers_csv(s, 4), "10.0.0.5:5353");
    ck_assert_str_eq(order_of(s, "www.example.com"), "43201");   /* full, deeper, shallower */
    ck_assert_str_eq(order_of(s, "a.www.example.com"), "32014"); /* deepest suffix first */
    ck_assert_str_eq(order_of(s, "youtube.example.com"), "21034"); /* suffix before keyword */
    ck_assert_str_eq(order_of(s, "ads.tube.org"), "10234");     /* two rules: asked once */
    ck_assert_str_eq(order_of(s, "EXACT.Test"), "30124");       /* any case */
    ck_assert_str_eq(order_of(s, "mycorp.org"), "20134");       /* a bare rule: substring */
    ck_assert_str_eq(order_of(s, "other.test"), "01234");       /* none: config order */
    evp_dns_servers_unref(s);
    free(evp_errlist_take(&errs));
}
END_TEST

/* Without domains or expectIPs every server goes in one c-ares channel, as before. */
START_TEST(plain_servers_share_one_channel)
{
    evp_errlist errs = {0};
    evp_dns_servers *s =
        parse("[\"10.0.0.1\", \"localhost\", {\"address\": \"::1\", \"port\": 5353},"
              " {\"address\": \"10.0.0.2\", \"domains\": []}]", &errs);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(evp_dns_servers_split(s), 0);
    ck_assert_uint_eq(evp_dns_servers_count(s), 1);
    ck_assert_str_eq(evp_dns_servers_csv(s, 0), "10.0.0.1:53,[::1]:5353,10.0.0.2:53");
    ck_assert_str_eq(order_of(s, "a.test"), "0");
    evp_dns_servers_unref(s);
    ck_assert_int_eq(errs.count, 0);
    /* none by IP: the system's resolvers (NULL), not an error */
    s = parse("[\"localhost\", \"https://dns.example/dns-query\"]", &errs);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(errs.count, 0);
}
END_TEST

static struct sockaddr_storage sa_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    return ss;
}

static int takes(const evp_dns_servers *s, size_t i, const char *ip)
{
    struct sockaddr_storage ss = sa_of(ip);
    return evp_dns_servers_expects(s, i, (struct sockaddr *)&ss);
}

START_TEST(expect_ips_filter_answers)
{
    evp_errlist errs = {0};
    evp_dns_servers *s = parse("[{\"address\": \"10.0.0.1\", \"expectIPs\": [\"127.0.0.2\","
                               "                                          \"10.1.0.0/16\"]},"
                               " {\"address\": \"10.0.0.2\", \"expectIps\": [\"fd00::/8\"]},"
                               " \"10.0.0.3\"]",
                               &errs);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(evp_dns_servers_split(s), 1); /* expectIPs alone split the servers */
    ck_assert_int_eq(takes(s, 0, "127.0.0.2"), 1);
    ck_assert_int_eq(takes(s, 0, "127.0.0.3"), 0);
    ck_assert_int_eq(takes(s, 0, "10.1.200.7"), 1);
    ck_assert_int_eq(takes(s, 0, "::ffff:10.1.0.1"), 1); /* IPv4-mapped: read as IPv4 */
    ck_assert_int_eq(takes(s, 0, "fd00::1"), 0);
    ck_assert_int_eq(takes(s, 1, "fd00::1"), 1); /* Go reads the key in any case */
    ck_assert_int_eq(takes(s, 1, "127.0.0.2"), 0);
    ck_assert_int_eq(takes(s, 2, "203.0.113.9"), 1); /* no expectIPs: any answer */
    evp_dns_servers_unref(s);
    free(evp_errlist_take(&errs));
}
END_TEST

static const struct {
    const char *servers;
    const char *want; /* substring the errors must hold */
} bad[] = {
    {"[\"10.0.0.9\", {\"address\": \"10.0.0.1\", \"domains\": [\"regexp:(\"]}]",
     "dns.servers[1].domains"},
    {"[{\"address\": \"10.0.0.1\", \"domains\": [\"domain:\"]}]", "dns.servers[0].domains"},
    {"[{\"address\": \"10.0.0.1\", \"expectIPs\": [\"not-an-ip\"]}]",
     "dns.servers[0].expectIPs"},
    {"[{\"address\": \"10.0.0.1\", \"expectIPs\": [\"10.0.0.0/33\"]}]",
     "dns.servers[0].expectIPs"},
    {"[{\"address\": \"10.0.0.1\", \"expectIPs\": [\"geoip:xx\"]}]", "geoip"},
};

START_TEST(bad_rules_are_refused_by_path)
{
    evp_errlist errs = {0};
    evp_dns_servers *s = parse(bad[_i].servers, &errs);
    ck_assert_ptr_null(s);
    char *text = evp_errlist_take(&errs);
    ck_assert_msg(text && strstr(text, bad[_i].want), "%s: %s", bad[_i].servers,
                  text ? text : "(no error)");
    free(text);
}
END_TEST

START_TEST(too_many_servers_are_refused)
{
    char json[2048] = "[";
    for (int i = 0; i <= EVP_DNS_SERVERS_MAX; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"10.0.0.%d\"",
                 i ? "," : "", i + 1);
    strcat(json, "]");
    evp_errlist errs = {0};
    ck_assert_ptr_null(parse(json, &errs));
    char *text = evp_errlist_take(&errs);
    ck_assert_ptr_nonnull(strstr(text, "dns.servers[32]"));
    free(text);
}
END_TEST

/* ---- the resolver against two DNS servers in this loop --------------------------------- */

/* A DNS server on 127.0.0.1: A queries get `answer` (names starting "nx": NXDOMAIN), other
 * types an empty answer. */
typedef struct responder {
    ev_io io;
    int fd;
    unsigned port;
    const char *answer;
    int asked; /* A queries seen */
} responder;

static void on_query(EV_P_ ev_io *w, int revents)
{
    responder *d = (responder *)w;
    uint8_t pkt[512];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(d->fd, pkt, sizeof pkt - 16, 0, (struct sockaddr *)&from, &flen);
    if (n < 17)
        return;
    size_t q = 12;
    while (q < (size_t)n && pkt[q] != 0)
        q += pkt[q] + 1u;
    if (q + 5 > (size_t)n)
        return;
    int type_a = pkt[q + 1] == 0 && pkt[q + 2] == 1, nx = pkt[13] == 'n' && pkt[14] == 'x';
    d->asked += type_a;
    size_t len = q + 5; /* header and question */
    pkt[2] = 0x81 | (pkt[2] & 0x01);
    pkt[3] = nx ? 0x83 : 0x80;
    pkt[6] = pkt[8] = pkt[9] = pkt[10] = pkt[11] = 0;
    pkt[7] = type_a && !nx;
    if (pkt[7]) {
        static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
        memcpy(pkt + len, rr, sizeof rr);
        inet_pton(AF_INET, d->answer, pkt + len + sizeof rr);
        len += sizeof rr + 4;
    }
    sendto(d->fd, pkt, len, 0, (struct sockaddr *)&from, flen);
}

static void responder_start(struct ev_loop *on, responder *d, const char *answer)
{
    memset(d, 0, sizeof *d);
    d->answer = answer;
    d->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t len = sizeof sin;
    ck_assert_int_eq(bind(d->fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(getsockname(d->fd, (struct sockaddr *)&sin, &len), 0);
    d->port = ntohs(sin.sin_port);
    ev_io_init(&d->io, on_query, d->fd, EV_READ);
    ev_io_start(on, &d->io);
}

static char answer[128];
static int answered;

static void on_answer(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    answered = 1;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, answer, sizeof answer);
    else
        snprintf(answer, sizeof answer, "error %s", err ? err : "?");
}

static struct ev_loop *loop;

/* What r answers for name, running loop until it does (bounded by count). */
static const char *resolve(evp_resolver *r, const char *name)
{
    answered = 0;
    ck_assert_ptr_nonnull(evp_resolve(r, name, 80, on_answer, NULL));
    for (int i = 0; i < 2000 && !answered; i++)
        ev_run(loop, EVRUN_ONCE);
    ck_assert_msg(answered, "no answer for %s", name);
    return answer;
}

/* A resolver on loop asking the servers in json (dns.servers). */
static evp_resolver *resolver_with(const char *json)
{
    evp_errlist errs = {0};
    evp_dns_servers *s = parse(json, &errs);
    ck_assert_ptr_nonnull(s);
    evp_resolver *r = evp_resolver_new(loop);
    evp_limits l = evp_limits_default();
    evp_resolver_configure(r, &l, s, NULL);
    evp_dns_servers_unref(s); /* the resolver holds its own reference */
    return r;
}

static responder two, three; /* answering 127.0.0.2 and 127.0.0.3 */

static void responders_up(void)
{
    loop = ev_loop_new(EVFLAG_AUTO);
    responder_start(loop, &two, "127.0.0.2");
    responder_start(loop, &three, "127.0.0.3");
}

static void responders_down(void)
{
    close(two.fd);
    close(three.fd);
    ev_loop_destroy(loop);
}

/* dns.servers in json, naming the ports of the server answering 127.0.0.2 (first %u) and of
 * the one answering 127.0.0.3 (second %u). */
#define SERVERS(json, fmt, two, three) snprintf(json, sizeof json, fmt, (two).port, (three).port)

START_TEST(resolver_asks_the_domains_server_first)
{
    char json[512];
    SERVERS(json,
            "[{\"address\": \"127.0.0.1\", \"port\": %u, \"domains\": [\"domain:two.test\"]},"
            " {\"address\": \"127.0.0.1\", \"port\": %u}]",
            two, three);
    evp_resolver *r = resolver_with(json);
    ck_assert_str_eq(resolve(r, "www.two.test"), "127.0.0.2");
    ck_assert_str_eq(resolve(r, "www.other.test"), "127.0.0.2"); /* config order */
    evp_resolver_free(r);
    /* the domains server listed second is still asked first for its names */
    SERVERS(json,
            "[{\"address\": \"127.0.0.1\", \"port\": %u},"
            " {\"address\": \"127.0.0.1\", \"port\": %u, \"domains\": [\"domain:three.test\"]}]",
            two, three);
    r = resolver_with(json);
    ck_assert_str_eq(resolve(r, "www.three.test"), "127.0.0.3");
    ck_assert_str_eq(resolve(r, "www.other.test"), "127.0.0.2");
    ck_assert_int_eq(three.asked, 1); /* only for its own name */
    evp_resolver_free(r);
}
END_TEST

START_TEST(resolver_passes_over_unexpected_answers)
{
    char json[512];
    SERVERS(json,
            "[{\"address\": \"127.0.0.1\", \"port\": %u, \"expectIPs\": [\"127.0.0.3/32\"]},"
            " {\"address\": \"127.0.0.1\", \"port\": %u}]",
            two, three);
    evp_resolver *r = resolver_with(json);
    ck_assert_str_eq(resolve(r, "www.any.test"), "127.0.0.3");
    ck_assert_int_eq(two.asked, 1); /* asked first, its answer dropped */
    ck_assert_int_eq(three.asked, 1);
    /* "no such name" is an answer: the next server is not asked (V2Ray stops too) */
    const char *nx = resolve(r, "nxname.test");
    ck_assert_msg(strncmp(nx, "error", 5) == 0, "%s", nx);
    ck_assert_int_ge(two.asked, 2); /* more if the system adds search domains */
    ck_assert_int_eq(three.asked, 1);
    evp_resolver_free(r);
    /* no server's expectIPs hold the answer: a failure naming why */
    SERVERS(json,
            "[{\"address\": \"127.0.0.1\", \"port\": %u, \"expectIPs\": [\"10.0.0.0/8\"]},"
            " {\"address\": \"127.0.0.1\", \"port\": %u, \"expectIPs\": [\"10.0.0.0/8\"]}]",
            two, three);
    r = resolver_with(json);
    const char *none = resolve(r, "www.none.test");
    ck_assert_msg(strstr(none, "expectIPs") != NULL, "%s", none);
    evp_resolver_free(r);
}
END_TEST

Suite *dns_servers_suite(void)
{
    Suite *s = suite_create("dns_servers");
    TCase *t = tcase_create("servers");
    tcase_add_test(t, order_as_v2ray_sorts_servers);
    tcase_add_test(t, plain_servers_share_one_channel);
    tcase_add_test(t, expect_ips_filter_answers);
    tcase_add_loop_test(t, bad_rules_are_refused_by_path, 0, sizeof bad / sizeof bad[0]);
    tcase_add_test(t, too_many_servers_are_refused);
    suite_add_tcase(s, t);
    t = tcase_create("resolver");
    tcase_add_checked_fixture(t, responders_up, responders_down);
    tcase_add_test(t, resolver_asks_the_domains_server_first);
    tcase_add_test(t, resolver_passes_over_unexpected_answers);
    suite_add_tcase(s, t);
    return s;
}
