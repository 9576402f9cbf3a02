/* The access log's lines, field for field as V2Ray 4.34 and Xray write them (the e2e test
 * 64-metrics compares one with a real V2Ray's). */
#include "access_log.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* 2026-12-01 14:20:42.000123 UTC; the tests run with TZ=UTC so the stamp is fixed. */
static const struct timespec when = {.tv_sec = 1796134842, .tv_nsec = 123456};

static const char *line(const evp_access_entry *e, evp_access_format f)
{
    static char out[512];
    return evp_access_format_line(e, f, &when, out, sizeof out);
}

static void utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

START_TEST(v2ray_accepted)
{
    utc();
    evp_access_entry e = {.from = "127.0.0.1:41514", .target = "tcp:127.0.0.1:7002",
                          .in_tag = "vmess-in", .out_tag = "direct", .user = "a@b"};
    ck_assert_str_eq(line(&e, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 127.0.0.1:41514 accepted tcp:127.0.0.1:7002 [direct] "
                     "email: a@b");
    e.user = NULL;
    ck_assert_str_eq(line(&e, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 127.0.0.1:41514 accepted tcp:127.0.0.1:7002 [direct]");
    e.out_tag = ""; /* an untagged outbound: no brackets at all */
    ck_assert_str_eq(line(&e, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 127.0.0.1:41514 accepted tcp:127.0.0.1:7002");
}
END_TEST

START_TEST(v2ray_rejected)
{
    utc();
    const evp_access_entry e = {.from = "[::1]:5000", .reason = "vmess: invalid user",
                                .in_tag = "vmess-in"};
    ck_assert_str_eq(line(&e, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 [::1]:5000 rejected  vmess: invalid user");
}
END_TEST

START_TEST(xray_forms)
{
    utc();
    evp_access_entry e = {.from = "127.0.0.1:41514", .target = "tcp:example.com:443",
                          .in_tag = "in", .out_tag = "out", .user = "x@y"};
    ck_assert_str_eq(line(&e, EVP_ACCESS_XRAY),
                     "2026/12/01 14:20:42.000123 from 127.0.0.1:41514 accepted "
                     "tcp:example.com:443 [in >> out] email: x@y");
    e.in_tag = ""; /* Xray names the outbound alone when the inbound has no tag */
    ck_assert_str_eq(line(&e, EVP_ACCESS_XRAY),
                     "2026/12/01 14:20:42.000123 from 127.0.0.1:41514 accepted "
                     "tcp:example.com:443 [out] email: x@y");
    const evp_access_entry r = {.from = "127.0.0.1:1", .reason = "socks: bad version"};
    ck_assert_str_eq(line(&r, EVP_ACCESS_XRAY),
                     "2026/12/01 14:20:42.000123 from 127.0.0.1:1 rejected  socks: bad version");
}
END_TEST

/* An email or a reason from the network cannot end the line or forge another. */
START_TEST(escapes_user_and_reason)
{
    utc();
    const evp_access_entry e = {.from = "127.0.0.1:1", .target = "tcp:h:1", .out_tag = "o",
                                .user = "u\n2026/12/01 00:00:00 1.2.3.4:1 accepted tcp:x:1"};
    ck_assert_str_eq(line(&e, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 127.0.0.1:1 accepted tcp:h:1 [o] email: "
                     "u\\x0a2026/12/01 00:00:00 1.2.3.4:1 accepted tcp:x:1");
    const evp_access_entry r = {.from = "127.0.0.1:1", .reason = "bad \"\r\" byte"};
    ck_assert_str_eq(line(&r, EVP_ACCESS_V2RAY),
                     "2026/12/01 14:20:42 127.0.0.1:1 rejected  bad \\x22\\x0d\\x22 byte");
}
END_TEST

/* A short buffer gets a NUL-terminated prefix, never an overrun. */
START_TEST(cut_short)
{
    utc();
    const evp_access_entry e = {.from = "127.0.0.1:41514", .target = "tcp:127.0.0.1:7002",
                                .out_tag = "direct", .user = "a@b"};
    char out[24];
    memset(out, 'X', sizeof out);
    evp_access_format_line(&e, EVP_ACCESS_V2RAY, &when, out, sizeof out);
    ck_assert_str_eq(out, "2026/12/01 14:20:42 127");
}
END_TEST

START_TEST(format_names)
{
    ck_assert_int_eq(evp_access_format_parse("v2ray"), EVP_ACCESS_V2RAY);
    ck_assert_int_eq(evp_access_format_parse("xray"), EVP_ACCESS_XRAY);
    ck_assert_int_eq(evp_access_format_parse("Xray"), -1);
}
END_TEST

Suite *access_log_suite(void)
{
    Suite *s = suite_create("access_log");
    TCase *tc = tcase_create("access_log");
    tcase_add_test(tc, v2ray_accepted);
    tcase_add_test(tc, v2ray_rejected);
    tcase_add_test(tc, xray_forms);
    tcase_add_test(tc, escapes_user_and_reason);
    tcase_add_test(tc, cut_short);
    tcase_add_test(tc, format_names);
    suite_add_tcase(s, tc);
    return s;
}
