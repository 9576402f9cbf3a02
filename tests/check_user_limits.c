/* Per-user limits (core/limits): the token bucket, the ips grace window, the "limits"
 * object, and the table's admission and charging. */
#include "ip_grace.h"
#include "limits_conf.h"
#include "token_bucket.h"
#include "user_limits.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <time.h>

START_TEST(bucket_starts_full_and_goes_into_debt)
{
    evp_token_bucket tb;
    evp_tb_init(&tb, 1000000, 100.0); /* burst: a quarter second, 250000 */
    ck_assert(evp_tb_take(&tb, 250000, 100.0) == 0);
    double wait = evp_tb_take(&tb, 100000, 100.0);
    ck_assert(fabs(wait - 0.1) < 1e-9); /* 100000 bytes of debt at 1 MB/s */
    ck_assert(fabs(evp_tb_wait(&tb, 100.05) - 0.05) < 1e-9);
    ck_assert(evp_tb_wait(&tb, 100.1001) == 0);
}
END_TEST

START_TEST(bucket_rate_over_time)
{
    /* Reads of 64 KiB, each waiting what the bucket says: 10 s move rate * 10 s + burst. */
    evp_token_bucket tb;
    evp_tb_init(&tb, 500000, 0.0);
    double now = 0;
    uint64_t moved = 0;
    while (now < 10.0) {
        moved += 65536;
        now += evp_tb_take(&tb, 65536, now);
    }
    double rate = (double)(moved - 125000) / now;
    ck_assert_msg(fabs(rate / 500000 - 1) < 0.02, "rate %.0f", rate);
}
END_TEST

START_TEST(bucket_caps_and_clock)
{
    evp_token_bucket tb;
    evp_tb_init(&tb, 1000, 50.0);
    ck_assert(tb.burst == 16384); /* the least burst */
    evp_tb_take(&tb, 16384, 50.0);
    ck_assert(evp_tb_wait(&tb, 1000.0) == 0);
    ck_assert(tb.tokens == tb.burst); /* a long idle spell fills it, no more */
    evp_tb_take(&tb, 20000, 1000.0);
    double w = evp_tb_wait(&tb, 999.0); /* another loop's clock, a little behind */
    ck_assert(w > 0 && fabs(w - (20000 - 16384) / 1000.0) < 1e-9);
    evp_tb_set_rate(&tb, 0, 1000.0);
    ck_assert(evp_tb_take(&tb, 1u << 30, 1000.0) == 0); /* 0: no limit */
}
END_TEST

START_TEST(bucket_new_rate_keeps_debt)
{
    evp_token_bucket tb;
    evp_tb_init(&tb, 100000, 0.0);
    evp_tb_take(&tb, 125000, 0.0); /* 100000 of debt */
    evp_tb_set_rate(&tb, 200000, 0.0);
    ck_assert(fabs(evp_tb_wait(&tb, 0.0) - 0.5) < 1e-9);
}
END_TEST

static void addr4(uint8_t a[16], uint8_t last)
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = 127;
    a[15] = last;
}

START_TEST(ips_counts_distinct_addresses)
{
    evp_ip_grace set = {0};
    uint8_t a[16], b[16];
    addr4(a, 1);
    addr4(b, 2);
    ck_assert_int_eq(evp_ip_grace_take(&set, a, 1, 60, 0), 1);
    ck_assert_int_eq(evp_ip_grace_take(&set, a, 1, 60, 1), 1); /* the same address again */
    ck_assert_int_eq(evp_ip_grace_take(&set, b, 1, 60, 2), 0);
    ck_assert_int_eq(evp_ip_grace_take(&set, b, 2, 60, 2), 1); /* room for two */
    ck_assert_uint_eq(evp_ip_grace_held(&set, 60, 2), 2);
    evp_ip_grace_free(&set);
}
END_TEST

START_TEST(ips_grace_after_the_last_session)
{
    evp_ip_grace set = {0};
    uint8_t a[16], b[16];
    addr4(a, 1);
    addr4(b, 2);
    ck_assert_int_eq(evp_ip_grace_take(&set, a, 1, 60, 0), 1);
    ck_assert_int_eq(evp_ip_grace_take(&set, a, 1, 60, 0), 1);
    evp_ip_grace_release(&set, a, 10);
    ck_assert_int_eq(evp_ip_grace_take(&set, b, 1, 60, 20), 0); /* a still runs one session */
    evp_ip_grace_release(&set, a, 30);
    ck_assert_int_eq(evp_ip_grace_take(&set, b, 1, 60, 89), 0); /* a's grace: until 90 */
    ck_assert_uint_eq(evp_ip_grace_held(&set, 60, 89), 1);
    ck_assert_int_eq(evp_ip_grace_take(&set, a, 1, 60, 89), 1); /* a comes back within it */
    evp_ip_grace_release(&set, a, 100);
    ck_assert_int_eq(evp_ip_grace_take(&set, b, 1, 60, 160), 1); /* a's grace is over */
    ck_assert_uint_eq(evp_ip_grace_held(&set, 60, 160), 1);
    evp_ip_grace_release(&set, b, 161);
    evp_ip_grace_release(&set, b, 162); /* one release too many changes nothing */
    ck_assert_uint_eq(evp_ip_grace_held(&set, 60, 200), 1);
    ck_assert_uint_eq(evp_ip_grace_held(&set, 60, 222), 0);
    evp_ip_grace_free(&set);
}
END_TEST

START_TEST(rfc3339_forms)
{
    double t;
    ck_assert_int_eq(evp_rfc3339_parse("2026-12-31T23:59:59Z", &t), 0);
    ck_assert(t == 1798761599.0);
    ck_assert_int_eq(evp_rfc3339_parse("2027-01-01T07:59:59+08:00", &t), 0);
    ck_assert(t == 1798761599.0);
    ck_assert_int_eq(evp_rfc3339_parse("2026-12-31t23:59:59.5z", &t), 0);
    ck_assert(t == 1798761599.5);
    const char *bad[] = {"2026-12-31", "2026-12-31T23:59:59", "2026-13-01T00:00:00Z",
                         "2026-12-31T23:59:59+0800", "2026-12-31T23:59:59Zx", "x",
                         "2026-12-31T23:59:59."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(evp_rfc3339_parse(bad[i], &t) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(limits_object)
{
    evp_limits_conf c;
    char err[128];
    json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:I, s:s}", "uplinkBps", 1000, "downlinkBps",
                          2000, "sessions", 3, "ips", 1, "quotaBytes", (json_int_t)5000000000,
                          "expire", "2026-12-31T23:59:59Z");
    ck_assert_int_eq(evp_limits_parse(o, &c, err, sizeof err), 0);
    ck_assert(c.up_bps == 1000 && c.down_bps == 2000 && c.sessions == 3 && c.ips == 1);
    ck_assert(c.quota_bytes == 5000000000ull && c.expire == 1798761599.0);
    json_t *back = evp_limits_to_json(&c);
    ck_assert(json_equal(back, o));
    json_decref(back);
    json_object_set_new(o, "sessions", json_integer(-1));
    ck_assert_int_eq(evp_limits_parse(o, &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "limits.sessions: a whole number from 0 to 4294967295");
    json_object_set_new(o, "sessions", json_integer(1));
    json_object_set_new(o, "expire", json_string("tomorrow"));
    ck_assert_int_eq(evp_limits_parse(o, &c, err, sizeof err), -1);
    ck_assert(strstr(err, "limits.expire") != NULL);
    json_decref(o);
}
END_TEST

/* One user "a@x" on inbound "in" with limits (a JSON text). */
static evp_user_limit *one_user(const char *limits)
{
    json_t *users = json_pack("[{s:s, s:o}]", "name", "a@x", "limits", json_loads(limits, 0,
                                                                                 NULL));
    evp_limits_sync("in", users, "name");
    json_decref(users);
    return evp_limits_find("in", "a@x");
}

START_TEST(table_admits_and_refuses)
{
    uint8_t a[16], b[16];
    addr4(a, 1);
    addr4(b, 2);
    char why[160];
    evp_user_limit *u = one_user("{\"sessions\": 2, \"ips\": 1}");
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_null(evp_limits_find("in", "b@x"));
    ck_assert_ptr_null(evp_limits_find("other", "a@x"));
    ck_assert_int_eq(evp_limit_admit(u, a, 0, why, sizeof why), 1);
    ck_assert_int_eq(evp_limit_admit(u, b, 0, why, sizeof why), 0);
    ck_assert_str_eq(why, "user a@x holds 1 addresses (limits.ips)");
    ck_assert_int_eq(evp_limit_admit(u, a, 0, why, sizeof why), 1);
    ck_assert_int_eq(evp_limit_admit(u, a, 0, why, sizeof why), 0);
    ck_assert_str_eq(why, "user a@x has 2 sessions (limits.sessions)");
    evp_limit_forget_session(u);
    evp_limit_leave(u, a, 1);
    ck_assert_int_eq(evp_limit_admit(u, a, 1, why, sizeof why), 1);
    /* Its limits removed: no longer found; its entry (and usage) stay. */
    json_t *none = json_pack("[{s:s}]", "name", "a@x");
    evp_limits_sync("in", none, "name");
    json_decref(none);
    ck_assert_ptr_null(evp_limits_find("in", "a@x"));
    evp_limits_clear();
}
END_TEST

START_TEST(table_quota_and_expiry)
{
    uint8_t a[16];
    addr4(a, 1);
    char why[160];
    double wait[2];
    evp_user_limit *u =
        one_user("{\"quotaBytes\": 1000, \"expire\": \"2026-12-31T23:59:59Z\"}");
    ck_assert_int_eq(evp_limit_admit(u, a, 1798761000.0, why, sizeof why), 1);
    ck_assert_int_eq(evp_limit_charge(u, 600, 300, 1798761000.0, wait, why, sizeof why), 0);
    ck_assert(wait[0] == 0 && wait[1] == 0); /* no rates set */
    ck_assert_int_eq(evp_limit_charge(u, 0, 100, 1798761000.0, wait, why, sizeof why), -1);
    ck_assert_str_eq(why, "user a@x used its quota of 1000 bytes (limits.quotaBytes)");
    ck_assert_int_eq(evp_limit_admit(u, a, 1798761000.0, why, sizeof why), 0);
    evp_limits_reset_usage(); /* ctl stats --reset: a new quota period */
    ck_assert_int_eq(evp_limit_admit(u, a, 1798761000.0, why, sizeof why), 1);
    ck_assert(fabs(evp_limit_expires_in(u, 1798761000.0) - 599) < 1e-6);
    ck_assert(evp_limit_expires_in(u, 1798761600.0) == 0); /* a second past: now, not never */
    ck_assert(evp_limit_expires_in(u, 1798762000.0) == 0);
    ck_assert_int_eq(evp_limit_charge(u, 1, 0, 1798761599.0, wait, why, sizeof why), -1);
    ck_assert_str_eq(why, "user a@x expired (limits.expire)");
    ck_assert_int_eq(evp_limit_admit(u, a, 1798761600.0, why, sizeof why), 0);
    ck_assert_str_eq(why, "user a@x expired (limits.expire)");
    evp_limits_clear();
}
END_TEST

START_TEST(table_shares_a_bucket_and_keeps_usage)
{
    char why[160];
    double wait[2];
    evp_user_limit *u = one_user("{\"downlinkBps\": 100000}");
    /* The sync's clock is the real one: now stays ahead of it for the whole test, or the
     * reload's sync would refill the bucket (with +1 the margin was as small as a
     * millisecond: CI failed 'fabs(wait[1] - 0.1) < 1e-9' on a busy machine). */
    double now = (double)time(NULL) + 60;
    /* Two sessions of one user draw on one bucket: the second waits for the first's bytes. */
    ck_assert_int_eq(evp_limit_charge(u, 0, 25000, now, wait, why, sizeof why), 0);
    ck_assert(wait[1] == 0);
    ck_assert_int_eq(evp_limit_charge(u, 0, 10000, now, wait, why, sizeof why), 0);
    ck_assert(fabs(wait[1] - 0.1) < 1e-9);
    /* A reload with the same limits keeps the debt and the usage. */
    ck_assert_ptr_eq(one_user("{\"downlinkBps\": 100000}"), u);
    ck_assert_int_eq(evp_limit_charge(u, 0, 0, now, wait, why, sizeof why), 0);
    ck_assert(fabs(wait[1] - 0.1) < 1e-9);
    ck_assert_int_eq(evp_limits_set_used("in", "a@x", 77), 0); /* the state file's value */
    ck_assert_int_eq(evp_limits_set_used("in", "gone@x", 5), 0); /* no limits (yet) */
    ck_assert_ptr_null(evp_limits_find("in", "gone@x"));
    evp_limits_clear();
}
END_TEST

Suite *user_limits_suite(void)
{
    Suite *s = suite_create("user_limits");
    TCase *tc = tcase_create("user_limits");
    tcase_add_test(tc, bucket_starts_full_and_goes_into_debt);
    tcase_add_test(tc, bucket_rate_over_time);
    tcase_add_test(tc, bucket_caps_and_clock);
    tcase_add_test(tc, bucket_new_rate_keeps_debt);
    tcase_add_test(tc, ips_counts_distinct_addresses);
    tcase_add_test(tc, ips_grace_after_the_last_session);
    tcase_add_test(tc, rfc3339_forms);
    tcase_add_test(tc, limits_object);
    tcase_add_test(tc, table_admits_and_refuses);
    tcase_add_test(tc, table_quota_and_expiry);
    tcase_add_test(tc, table_shares_a_bucket_and_keeps_usage);
    suite_add_tcase(s, tc);
    return s;
}
