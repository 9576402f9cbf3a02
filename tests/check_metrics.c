/* The metrics endpoint's pieces: the exposition writer (label escaping, sample lines), HTML
 * escaping, the listen address parser, the HTTP request line parser, and a whole /metrics
 * text from known counters. */
#include "listen_addr.h"
#include "metrics.h"
#include "metrics_http.h"
#include "prom_text.h"
#include "stats.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *value, *want;
} label_escapes[] = {
    {"a@b", "a@b"},
    {"q\"uote", "q\\\"uote"},
    {"back\\slash", "back\\\\slash"},
    {"line\nfeed", "line\\nfeed"},
    {"\\\"\n", "\\\\\\\"\\n"},
    {"caf\xc3\xa9 {x=\"1\"}", "caf\xc3\xa9 {x=\\\"1\\\"}"},
    {"", ""},
};

START_TEST(label_value_escaping)
{
    evp_text t = {0};
    evp_prom_label_value(&t, label_escapes[_i].value);
    char *s = evp_text_take(&t);
    ck_assert_str_eq(s, label_escapes[_i].want);
    free(s);
}
END_TEST

START_TEST(sample_lines)
{
    evp_text t = {0};
    evp_prom_family(&t, "x_total", "counter", "Things");
    const char *labels[] = {"scope", "user", "name", "a\"b", NULL};
    evp_prom_sample(&t, "x_total", labels, 18446744073709551615ULL);
    evp_prom_sample(&t, "y", NULL, 0);
    char *s = evp_text_take(&t);
    ck_assert_str_eq(s, "# HELP x_total Things\n# TYPE x_total counter\n"
                        "x_total{scope=\"user\",name=\"a\\\"b\"} 18446744073709551615\ny 0\n");
    free(s);
}
END_TEST

START_TEST(html_escaping)
{
    evp_text t = {0};
    evp_html_text(&t, "<script>alert('x')</script> & \"q\"");
    char *s = evp_text_take(&t);
    ck_assert_str_eq(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    free(s);
}
END_TEST

/* A text that grows past its first allocation keeps every byte. */
START_TEST(text_grows)
{
    evp_text t = {0};
    for (int i = 0; i < 1000; i++)
        evp_text_printf(&t, "%04d,", i);
    char *s = evp_text_take(&t);
    ck_assert_uint_eq(strlen(s), 5000);
    ck_assert(strncmp(s + 4995, "0999,", 5) == 0);
    free(s);
    ck_assert_ptr_null(t.p);
}
END_TEST

static const struct {
    const char *text;
    int ok, family;
    const char *host;
    unsigned port;
} addrs[] = {
    {"127.0.0.1:9100", 1, AF_INET, "127.0.0.1", 9100},
    {"[::1]:9100", 1, AF_INET6, "::1", 9100},
    {":9100", 1, AF_INET, "0.0.0.0", 9100},
    {"0.0.0.0:1", 1, AF_INET, "0.0.0.0", 1},
    {"127.0.0.1", 0, 0, NULL, 0},
    {"127.0.0.1:", 0, 0, NULL, 0},
    {"127.0.0.1:0", 0, 0, NULL, 0},
    {"127.0.0.1:65536", 0, 0, NULL, 0},
    {"127.0.0.1:+80", 0, 0, NULL, 0},
    {"127.0.0.1:80x", 0, 0, NULL, 0},
    {"localhost:9100", 0, 0, NULL, 0},
    {"::1:9100", 0, 0, NULL, 0},
    {"[127.0.0.1]:9100", 0, 0, NULL, 0},
    {"[]:9100", 0, 0, NULL, 0},
    {"", 0, 0, NULL, 0},
};

START_TEST(listen_addresses)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[160] = "", host[INET6_ADDRSTRLEN];
    int rc = evp_listen_addr_parse(addrs[_i].text, &ss, &len, err, sizeof err);
    ck_assert_msg(rc == (addrs[_i].ok ? 0 : -1), "%s: rc %d (%s)", addrs[_i].text, rc, err);
    if (!addrs[_i].ok) {
        ck_assert_msg(err[0] != '\0', "%s: no reason given", addrs[_i].text);
        return;
    }
    ck_assert_int_eq(ss.ss_family, addrs[_i].family);
    const void *a = ss.ss_family == AF_INET
                        ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                        : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    unsigned port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    inet_ntop(ss.ss_family, a, host, sizeof host);
    ck_assert_str_eq(host, addrs[_i].host);
    ck_assert_uint_eq(port, addrs[_i].port);
    ck_assert_uint_eq(len, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
}
END_TEST

static const struct {
    const char *head;
    int status;
    const char *path;
} requests[] = {
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, "/metrics"},
    {"GET / HTTP/1.0\n\n", 200, "/"},
    {"GET /metrics?x=1 HTTP/1.1\r\n\r\n", 200, "/metrics"},
    {"POST /metrics HTTP/1.1\r\n\r\n", 405, NULL},
    {"HEAD / HTTP/1.1\r\n\r\n", 405, NULL},
    {"GET /metrics\r\n\r\n", 400, NULL},
    {"GET metrics HTTP/1.1\r\n\r\n", 400, NULL},
    {"GET /metrics SSH-2.0\r\n\r\n", 400, NULL},
    {"GET  HTTP/1.1\r\n\r\n", 400, NULL},
    {" / HTTP/1.1\r\n\r\n", 400, NULL},
    {"\x16\x03\x01\x02\x00\x01", 400, NULL},
};

START_TEST(request_lines)
{
    char path[32] = "";
    int st = evp_http_parse_request(requests[_i].head, strlen(requests[_i].head), path,
                                    sizeof path);
    ck_assert_int_eq(st, requests[_i].status);
    if (st == 200)
        ck_assert_str_eq(path, requests[_i].path);
}
END_TEST

START_TEST(request_path_too_long)
{
    char path[8];
    const char *head = "GET /0123456789 HTTP/1.1\r\n\r\n";
    ck_assert_int_eq(evp_http_parse_request(head, strlen(head), path, sizeof path), 414);
}
END_TEST

/* ---- a whole scrape from known counters --------------------------------------------------- */

static void one_live_session(void *ctx, evp_traffic_fn *fn, void *arg)
{
    const evp_live_traffic t = {.inbound = "in", .outbound = "out", .user = "u@x",
                                .up = 5, .down = 7};
    fn(&t, arg);
}

static void reloads(void *ctx, uint64_t *applied, uint64_t *refused)
{
    *applied = 3;
    *refused = 1;
}

static void assert_has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "missing \"%s\" in:\n%s", line, text);
}

START_TEST(scrape_sums_ended_and_live)
{
    evp_stats_clear();
    evp_stats_add("in", "out", "u@x", 100, 200);
    evp_stats_add("in2", "out", "u@x", 1, 2); /* a user counts over every inbound */
    evp_stats_handshake_failed("in", "bad \"header\"");
    const evp_metrics_host host = {.each_traffic = one_live_session, .reloads = reloads};
    char *s = evp_metrics_text(&host);
    ck_assert_ptr_nonnull(s);
    assert_has(s, "\nevproxy_traffic_bytes_total{scope=\"user\",name=\"u@x\","
                  "direction=\"uplink\"} 106\n");
    assert_has(s, "\nevproxy_traffic_bytes_total{scope=\"user\",name=\"u@x\","
                  "direction=\"downlink\"} 209\n");
    assert_has(s, "\nevproxy_traffic_bytes_total{scope=\"inbound\",name=\"in\","
                  "direction=\"uplink\"} 105\n");
    assert_has(s, "\nevproxy_traffic_bytes_total{scope=\"outbound\",name=\"out\","
                  "direction=\"downlink\"} 209\n");
    assert_has(s, "\nevproxy_sessions_active{scope=\"user\",name=\"u@x\"} 1\n");
    assert_has(s, "\nevproxy_sessions_total{scope=\"user\",name=\"u@x\"} 3\n");
    assert_has(s, "\nevproxy_sessions_total{scope=\"inbound\",name=\"in2\"} 1\n");
    assert_has(s, "\nevproxy_handshake_failures_total{inbound=\"in\","
                  "reason=\"bad \\\"header\\\"\"} 1\n");
    assert_has(s, "\nevproxy_reloads_total{result=\"applied\"} 3\n");
    assert_has(s, "\nevproxy_reloads_total{result=\"refused\"} 1\n");
    assert_has(s, "\n# TYPE process_open_fds gauge\nprocess_open_fds ");
    assert_has(s, "\n# TYPE evproxy_xudp_ports_kept gauge\nevproxy_xudp_ports_kept ");
    free(s);
    char *page = evp_metrics_status_page(&host);
    ck_assert_ptr_nonnull(page);
    assert_has(page, "<td>u@x</td><td>106 B</td><td>209 B</td><td>1</td><td>3</td>");
    free(page);
    evp_stats_clear();
}
END_TEST

/* Reasons with details cannot grow the table without bound: later ones count as "other". */
START_TEST(failure_kinds_bounded)
{
    evp_stats_clear();
    char reason[32];
    for (int i = 0; i < 3 * EVP_STATS_MAX_FAILURE_KINDS; i++) {
        snprintf(reason, sizeof reason, "reason %d", i);
        evp_stats_handshake_failed("in", reason);
    }
    const evp_metrics_host host = {.each_traffic = one_live_session, .reloads = reloads};
    char *s = evp_metrics_text(&host);
    size_t kinds = 0;
    for (const char *p = s; (p = strstr(p, "\nevproxy_handshake_failures_total{")); p++)
        kinds++;
    ck_assert_uint_eq(kinds, EVP_STATS_MAX_FAILURE_KINDS);
    char other[96];
    snprintf(other, sizeof other, "{inbound=\"in\",reason=\"other\"} %d\n",
             2 * EVP_STATS_MAX_FAILURE_KINDS + 1);
    assert_has(s, other);
    free(s);
    evp_stats_clear();
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_loop_test(tc, label_value_escaping, 0,
                        (int)(sizeof label_escapes / sizeof label_escapes[0]));
    tcase_add_test(tc, sample_lines);
    tcase_add_test(tc, html_escaping);
    tcase_add_test(tc, text_grows);
    tcase_add_loop_test(tc, listen_addresses, 0, (int)(sizeof addrs / sizeof addrs[0]));
    tcase_add_loop_test(tc, request_lines, 0, (int)(sizeof requests / sizeof requests[0]));
    tcase_add_test(tc, request_path_too_long);
    tcase_add_test(tc, scrape_sums_ended_and_live);
    tcase_add_test(tc, failure_kinds_bounded);
    suite_add_tcase(s, tc);
    return s;
}
