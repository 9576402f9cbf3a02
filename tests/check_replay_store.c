/* The host's "seen recently" store (core/plugin_host/replay_store.c, ABI 1.1
 * replay_seen/replay_peek): memory windows of the rotating generations, the bound, namespaces,
 * arguments, threads. Time is always passed in, never read. */
#include "replay_store.h"

#include <check.h>
#include <pthread.h>
#include <string.h>

#define T0 1700000000

static void key_of(uint8_t k[16], uint32_t i)
{
    memset(k, 0x11, 16);
    memcpy(k, &i, sizeof i);
}

/* Records k in the 240 s set "t" of st at now. */
static int seen(evp_seen_store *st, const uint8_t k[16], int64_t now)
{
    return evp_seen_check(st, "t", k, 16, 240, now, 1);
}

START_TEST(memory_window)
{
    evp_seen_store *st = evp_seen_store_new(0);
    uint8_t a[16], b[16];
    ck_assert_ptr_nonnull(st);
    key_of(a, 1);
    key_of(b, 2);
    ck_assert_int_eq(seen(st, a, T0), EVP_SEEN_NEW);
    ck_assert_int_eq(seen(st, a, T0), EVP_SEEN_SEEN);
    ck_assert_int_eq(seen(st, b, T0 + 1), EVP_SEEN_NEW);
    ck_assert_int_eq(seen(st, a, T0 + 100), EVP_SEEN_SEEN);
    ck_assert_int_eq(seen(st, a, T0 + 240), EVP_SEEN_SEEN);
    ck_assert_int_eq(seen(st, b, T0 + 241), EVP_SEEN_SEEN);
    /* After at most 1.5 x 240 s it is forgotten (then recorded again). */
    ck_assert_int_eq(seen(st, a, T0 + 361), EVP_SEEN_NEW);
    ck_assert_int_eq(seen(st, a, T0 + 362), EVP_SEEN_SEEN);
    evp_seen_store_free(st);
    evp_seen_store_free(NULL);
}
END_TEST

START_TEST(memory_every_phase)
{
    /* Whatever the phase of the insert within a rotation, memory is >= the window, for
     * even and odd windows. */
    static const uint32_t windows[] = {240, 180, 7};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        uint32_t win = windows[w];
        for (int64_t t = T0; t < T0 + 130; t += 7) {
            evp_seen_store *st = evp_seen_store_new(0);
            uint8_t a[16];
            key_of(a, (uint32_t)t);
            ck_assert_int_eq(evp_seen_check(st, "w", a, 16, win, t, 1), EVP_SEEN_NEW);
            for (int64_t dt = 1; dt <= win; dt += 3)
                ck_assert_int_eq(evp_seen_check(st, "w", a, 16, win, t + dt, 1), EVP_SEEN_SEEN);
            ck_assert_int_eq(evp_seen_check(st, "w", a, 16, win, t + win * 2, 1), EVP_SEEN_NEW);
            evp_seen_store_free(st);
        }
    }
}
END_TEST

START_TEST(bounded)
{
    evp_seen_store *st = evp_seen_store_new(4);
    uint8_t k[16];
    for (uint32_t i = 0; i < 4; i++) {
        key_of(k, i);
        ck_assert_int_eq(seen(st, k, T0), EVP_SEEN_NEW);
    }
    key_of(k, 99);
    ck_assert_int_eq(seen(st, k, T0), EVP_SEEN_FULL);
    key_of(k, 2);
    ck_assert_int_eq(seen(st, k, T0), EVP_SEEN_SEEN);
    /* The next generation has room again. */
    key_of(k, 99);
    ck_assert_int_eq(seen(st, k, T0 + 120), EVP_SEEN_NEW);
    /* The all-zero key is a key like any other. */
    memset(k, 0, 16);
    ck_assert_int_eq(seen(st, k, T0 + 120), EVP_SEEN_NEW);
    ck_assert_int_eq(seen(st, k, T0 + 121), EVP_SEEN_SEEN);
    /* A clock stepping back keeps everything. */
    key_of(k, 2);
    ck_assert_int_eq(seen(st, k, T0 - 1000), EVP_SEEN_SEEN);
    evp_seen_store_free(st);
}
END_TEST

START_TEST(many)
{
    /* Growth keeps every key: 20000 distinct keys, each seen again later. */
    evp_seen_store *st = evp_seen_store_new(0);
    uint8_t k[16];
    for (uint32_t i = 0; i < 20000; i++) {
        key_of(k, i);
        ck_assert_int_eq(seen(st, k, T0 + i / 200), EVP_SEEN_NEW);
    }
    for (uint32_t i = 0; i < 20000; i += 37) {
        key_of(k, i);
        ck_assert_int_eq(seen(st, k, T0 + 101), EVP_SEEN_SEEN);
    }
    evp_seen_store_free(st);
}
END_TEST

START_TEST(namespaces_and_keys)
{
    evp_seen_store *st = evp_seen_store_new(0);
    uint8_t k[48];
    memset(k, 7, sizeof k);
    /* Sets are per (namespace, window); keys of any length, compared whole. */
    ck_assert_int_eq(evp_seen_check(st, "a", k, 48, 180, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "b", k, 48, 180, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "a", k, 48, 240, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "a", k, 48, 180, T0 + 180, 1), EVP_SEEN_SEEN);
    ck_assert_int_eq(evp_seen_check(st, "a", k, 47, 180, T0, 1), EVP_SEEN_NEW);
    k[47] ^= 1;
    ck_assert_int_eq(evp_seen_check(st, "a", k, 48, 180, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "a", NULL, 0, 180, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "a", NULL, 0, 180, T0, 1), EVP_SEEN_SEEN);
    /* Forgotten after at most 270 s. */
    k[47] ^= 1;
    ck_assert_int_eq(evp_seen_check(st, "a", k, 48, 180, T0 + 271, 1), EVP_SEEN_NEW);
    /* A peek never records. */
    ck_assert_int_eq(evp_seen_check(st, "p", k, 16, 240, T0, 0), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "p", k, 16, 240, T0, 0), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "p", k, 16, 240, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "p", k, 16, 240, T0, 0), EVP_SEEN_SEEN);
    evp_seen_store_free(st);
}
END_TEST

START_TEST(bad_arguments)
{
    evp_seen_store *st = evp_seen_store_new(0);
    uint8_t k[16] = {1};
    char longname[EVP_SEEN_NS_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(evp_seen_check(NULL, "a", k, 16, 240, T0, 1), EVP_SEEN_FULL);
    ck_assert_int_eq(evp_seen_check(st, NULL, k, 16, 240, T0, 1), EVP_SEEN_FULL);
    ck_assert_int_eq(evp_seen_check(st, "a", NULL, 16, 240, T0, 1), EVP_SEEN_FULL);
    ck_assert_int_eq(evp_seen_check(st, "a", k, 16, 1, T0, 1), EVP_SEEN_FULL);
    ck_assert_int_eq(evp_seen_check(st, longname, k, 16, 240, T0, 1), EVP_SEEN_FULL);
    longname[EVP_SEEN_NS_MAX] = '\0';
    ck_assert_int_eq(evp_seen_check(st, longname, k, 16, 240, T0, 1), EVP_SEEN_NEW);
    /* The number of sets is bounded too. */
    for (uint32_t w = 2; w < 2 + EVP_SEEN_MAX_SETS - 1; w++)
        ck_assert_int_eq(evp_seen_check(st, "many", k, 16, w, T0, 1), EVP_SEEN_NEW);
    ck_assert_int_eq(evp_seen_check(st, "one-too-many", k, 16, 240, T0, 1), EVP_SEEN_FULL);
    ck_assert_int_eq(evp_seen_check(st, "many", k, 16, 2, T0, 1), EVP_SEEN_SEEN);
    evp_seen_store_free(st);
}
END_TEST

enum { RACE_KEYS = 2000 };

static void *race(void *arg)
{
    int *news = arg;
    uint8_t k[16];
    for (uint32_t i = 0; i < RACE_KEYS; i++) {
        key_of(k, i);
        if (evp_seen_check(evp_seen_global(), "race", k, 16, 240, T0, 1) == EVP_SEEN_NEW)
            (*news)++;
    }
    return NULL;
}

START_TEST(threads_share_the_global_store)
{
    /* Two threads record the same keys: each key is new exactly once. */
    int news[2] = {0, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &news[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(news[0] + news[1], RACE_KEYS);
    ck_assert_ptr_eq(evp_seen_global(), evp_seen_global());
}
END_TEST

Suite *replay_store_suite(void)
{
    Suite *s = suite_create("replay_store");
    TCase *tc = tcase_create("replay_store");
    tcase_add_test(tc, memory_window);
    tcase_add_test(tc, memory_every_phase);
    tcase_add_test(tc, bounded);
    tcase_add_test(tc, many);
    tcase_add_test(tc, namespaces_and_keys);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, threads_share_the_global_store);
    suite_add_tcase(s, tc);
    return s;
}
