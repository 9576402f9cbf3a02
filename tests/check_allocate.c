/* Dynamic port: "allocate" read as V2Ray 4.34 reads it (strategy always|random, refresh in
 * minutes default 5, concurrency default 3, "not enough ports" refused), and the random
 * picks: distinct, inside the range, clear of the ports still open. */
#include "allocate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Parses text (NULL: no allocate) for first..last; returns the errors (caller frees). */
static char *parse(const char *text, uint16_t first, uint16_t last, evp_allocate *out)
{
    evp_errlist errs = {0};
    json_t *alloc = text ? json_loads(text, 0, NULL) : NULL;
    ck_assert(text == NULL || alloc != NULL);
    evp_allocate_parse(alloc, first, last, "inbounds[0].allocate", out, &errs);
    json_decref(alloc);
    return evp_errlist_take(&errs);
}

static void assert_refused(const char *text, uint16_t first, uint16_t last, const char *want)
{
    evp_allocate a;
    char *errors = parse(text, first, last, &a);
    ck_assert_msg(errors && strstr(errors, want), "want \"%s\", got \"%s\"", want,
                  errors ? errors : "(accepted)");
    free(errors);
}

START_TEST(strategies_and_defaults)
{
    evp_allocate a;
    ck_assert_ptr_null(parse(NULL, 1000, 1010, &a));
    ck_assert_int_eq(a.random, 0);
    ck_assert_ptr_null(parse("{\"strategy\":\"always\",\"refresh\":0}", 1000, 1010, &a));
    ck_assert_int_eq(a.random, 0);
    ck_assert_ptr_null(parse("{\"strategy\":\"random\"}", 1000, 1010, &a));
    ck_assert_int_eq(a.random, 1);
    ck_assert_uint_eq(a.refresh_min, 5);
    ck_assert_uint_eq(a.concurrency, 3);
    ck_assert_ptr_null(parse("{\"strategy\":\"Random\",\"refresh\":1,\"concurrency\":2}", 1000,
                             1002, &a));
    ck_assert_int_eq(a.random, 1);
    ck_assert_uint_eq(a.refresh_min, 1);
    ck_assert_uint_eq(a.concurrency, 2);
    /* No concurrency over a range of 3: one port must stay free for the next pick. */
    ck_assert_ptr_null(parse("{\"strategy\":\"random\"}", 1000, 1002, &a));
    ck_assert_uint_eq(a.concurrency, 2);
}
END_TEST

START_TEST(bad_allocate_refused)
{
    assert_refused("{\"strategy\":\"external\"}", 1000, 1010,
                   "inbounds[0].allocate.strategy: unknown allocation strategy \"external\"");
    assert_refused("{\"refresh\":5}", 1000, 1010,
                   "inbounds[0].allocate: must be an object with a \"strategy\"");
    assert_refused("[1]", 1000, 1010, "must be an object with a \"strategy\"");
    assert_refused("{\"strategy\":\"random\",\"concurrency\":3}", 1000, 1002,
                   "inbounds[0].allocate.concurrency: not enough ports: 3 of the range "
                   "1000-1002 for 3 at once");
    assert_refused("{\"strategy\":\"random\",\"refresh\":0}", 1000, 1010,
                   "inbounds[0].allocate.refresh: must be a whole number of minutes");
    assert_refused("{\"strategy\":\"random\",\"refresh\":\"5\"}", 1000, 1010,
                   "allocate.refresh: must be a whole number");
    assert_refused("{\"strategy\":\"random\",\"concurrency\":0}", 1000, 1010,
                   "allocate.concurrency: must be a number of ports, at least 1");
    assert_refused("{\"strategy\":\"random\"}", 1000, 1000,
                   "strategy \"random\" needs a port range \"from-to\" of at least 2 ports");
}
END_TEST

static uint32_t lowest(uint32_t upper)
{
    (void)upper;
    return 0;
}

static uint32_t highest(uint32_t upper)
{
    return upper - 1;
}

START_TEST(pick_walks_the_free_ports)
{
    uint16_t out[8], avoid[] = {1000, 1002};
    ck_assert_uint_eq(evp_allocate_pick(1000, 1004, 2, avoid, 2, lowest, out), 2);
    ck_assert_uint_eq(out[0], 1001);
    ck_assert_uint_eq(out[1], 1003);
    ck_assert_uint_eq(evp_allocate_pick(1000, 1004, 2, avoid, 2, highest, out), 2);
    ck_assert_uint_eq(out[0], 1004);
    ck_assert_uint_eq(out[1], 1003);
    /* Fewer free ports than asked: all of them, no more. */
    ck_assert_uint_eq(evp_allocate_pick(1000, 1004, 8, avoid, 2, lowest, out), 3);
    ck_assert_uint_eq(out[2], 1004);
    ck_assert_uint_eq(evp_allocate_pick(65534, 65535, 2, NULL, 0, highest, out), 2);
    ck_assert_uint_eq(out[0], 65535);
    ck_assert_uint_eq(out[1], 65534);
}
END_TEST

/* Random picks as a refresh makes them: each clear of the pick before, all distinct, in the
 * range; over many refreshes every port of the range comes up. */
START_TEST(random_picks_rotate)
{
    uint16_t prev[3], cur[3];
    size_t n_prev = evp_allocate_pick(2000, 2007, 3, NULL, 0, NULL, prev);
    int seen[8] = {0};
    ck_assert_uint_eq(n_prev, 3);
    for (int round = 0; round < 200; round++) {
        ck_assert_uint_eq(evp_allocate_pick(2000, 2007, 3, prev, n_prev, NULL, cur), 3);
        for (int i = 0; i < 3; i++) {
            ck_assert(cur[i] >= 2000 && cur[i] <= 2007);
            seen[cur[i] - 2000] = 1;
            for (int j = 0; j < 3; j++) {
                ck_assert_uint_ne(cur[i], prev[j]);
                ck_assert(i == j || cur[i] != cur[j]);
            }
        }
        memcpy(prev, cur, sizeof cur);
    }
    for (int p = 0; p < 8; p++)
        ck_assert_msg(seen[p], "port %d never picked in 200 rounds", 2000 + p);
}
END_TEST

Suite *allocate_suite(void)
{
    Suite *s = suite_create("allocate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, strategies_and_defaults);
    tcase_add_test(tc, bad_allocate_refused);
    tcase_add_test(tc, pick_walks_the_free_ports);
    tcase_add_test(tc, random_picks_rotate);
    suite_add_tcase(s, tc);
    return s;
}
