/* Memory back after load: the buffer pool gives back the blocks a whole period left unused
 * (a burst's surplus) and keeps what steady traffic cycles; the allocator is trimmed once the
 * session count has halved since the last trim, not on every tick. */
#include "buf.h"
#include "memtrim.h"

#include <check.h>

#define N 8

/* Takes n standard blocks (from the pool first) and puts them back. */
static void cycle(size_t n)
{
    evp_buf b[N] = {{0}};
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_nonnull(evp_buf_reserve(&b[i], 1));
    for (size_t i = 0; i < n; i++)
        evp_buf_free(&b[i]);
}

/* Empties the pool and lets the trimmer see an idle process (tests may share a process). */
static void settle(void)
{
    evp_buf_pool_drain();
    evp_memtrim_tick(0);
    evp_memtrim_tick(0);
}

START_TEST(pool_gives_back_a_burst)
{
    evp_buf_pool_drain();
    cycle(N);
    /* The burst has just ended: kept for one period, in case it goes on. */
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
    /* Nobody took a block during the next period: all of them go. */
    ck_assert_uint_eq(evp_buf_pool_shrink(), N);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
}
END_TEST

START_TEST(pool_keeps_what_traffic_cycles)
{
    evp_buf_pool_drain();
    cycle(N);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
    /* Three blocks in use at a time: the other five are surplus, the three stay. */
    cycle(3);
    ck_assert_uint_eq(evp_buf_pool_shrink(), N - 3);
    for (int period = 0; period < 3; period++) {
        cycle(3);
        ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
    }
    evp_buf_pool_drain();
}
END_TEST

START_TEST(trim_when_sessions_halve)
{
    settle();
    ck_assert_int_eq(evp_memtrim_tick(0), 0); /* idle from the start: nothing to give back */
    ck_assert_int_eq(evp_memtrim_tick(1000), 0);
    ck_assert_int_eq(evp_memtrim_tick(900), 0);
    ck_assert_int_eq(evp_memtrim_tick(600), 0);
    ck_assert_int_eq(evp_memtrim_tick(500), 1); /* half of the 1000 peak */
    ck_assert_int_eq(evp_memtrim_tick(500), 0);
    ck_assert_int_eq(evp_memtrim_tick(800), 0); /* load again: a new peak */
    ck_assert_int_eq(evp_memtrim_tick(0), 1);
    ck_assert_int_eq(evp_memtrim_tick(0), 0); /* idle: no walk over the heap every second */
}
END_TEST

START_TEST(trim_when_the_pool_gave_back)
{
    settle();
    ck_assert_int_eq(evp_memtrim_tick(0), 0);
    cycle(N);
    ck_assert_int_eq(evp_memtrim_tick(0), 0); /* kept for one period */
    ck_assert_int_eq(evp_memtrim_tick(0), 1); /* then freed, and the heap trimmed */
    ck_assert_int_eq(evp_memtrim_tick(0), 0);
}
END_TEST

Suite *memtrim_suite(void)
{
    Suite *s = suite_create("memtrim");
    TCase *tc = tcase_create("memtrim");
    tcase_add_test(tc, pool_gives_back_a_burst);
    tcase_add_test(tc, pool_keeps_what_traffic_cycles);
    tcase_add_test(tc, trim_when_sessions_halve);
    tcase_add_test(tc, trim_when_the_pool_gave_back);
    suite_add_tcase(s, tc);
    return s;
}
