/* The host's keyed state store (core/plugin_host/state_store.c, ABI 1.4 state_*): values
 * copied in and out, create-only puts, expiry, deletion, visiting, the change count, bounds
 * and bad arguments, threads. Time is always passed in, never read. */
#include "state_store.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define T0 1000.0

START_TEST(put_get_copies)
{
    evp_state_store *st = evp_state_store_new(0);
    char val[8] = "abc", out[8] = "";
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, val, 3, 0, 0, T0), 0);
    val[0] = 'X'; /* the store kept a copy */
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0), 3);
    ck_assert_mem_eq(out, "abc", 3);
    /* A short buffer gets the start; the length says how long the value is. */
    memset(out, 0, sizeof out);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, 2, T0), 3);
    ck_assert_str_eq(out, "ab");
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, NULL, 0, T0), 3);
    /* Another namespace, another key: absent. */
    ck_assert_int_eq(evp_state_get(st, "m", "k", 1, out, sizeof out, T0), -1);
    ck_assert_int_eq(evp_state_get(st, "n", "kk", 2, out, sizeof out, T0), -1);
    /* Replacing; an empty value is a value. */
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "zz", 2, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0), 2);
    ck_assert_int_eq(evp_state_put(st, "n", "e", 1, NULL, 0, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_get(st, "n", "e", 1, out, sizeof out, T0), 0);
    evp_state_store_free(st);
    evp_state_store_free(NULL);
}
END_TEST

START_TEST(create_keeps_the_first)
{
    evp_state_store *st = evp_state_store_new(0);
    char out[4];
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "one", 3, 0, EVP_STATE_CREATE, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "two", 3, 0, EVP_STATE_CREATE, T0), 1);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0), 3);
    ck_assert_mem_eq(out, "one", 3);
    evp_state_store_free(st);
}
END_TEST

START_TEST(expiry_and_renewal)
{
    evp_state_store *st = evp_state_store_new(0);
    char out[4];
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "v", 1, 60, 0, T0), 0);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0 + 59), 1);
    /* Putting it again renews it for another 60 s. */
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "v", 1, 60, 0, T0 + 59), 0);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0 + 118), 1);
    ck_assert_int_eq(evp_state_get(st, "n", "k", 1, out, sizeof out, T0 + 119), -1);
    /* Expired, it can be created again. */
    ck_assert_int_eq(evp_state_put(st, "n", "k", 1, "w", 1, 60, EVP_STATE_CREATE, T0 + 119),
                     0);
    /* ttl 0: until deleted. */
    ck_assert_int_eq(evp_state_put(st, "n", "p", 1, "v", 1, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_get(st, "n", "p", 1, out, sizeof out, T0 + 1e9), 1);
    ck_assert_int_eq(evp_state_del(st, "n", "p", 1, T0), 0);
    ck_assert_int_eq(evp_state_del(st, "n", "p", 1, T0), -1);
    ck_assert_int_eq(evp_state_get(st, "n", "p", 1, out, sizeof out, T0), -1);
    evp_state_store_free(st);
}
END_TEST

typedef struct seen {
    int n;
    size_t bytes;
} seen;

static int count_entry(void *ctx, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
    seen *s = ctx;
    s->n++;
    s->bytes += key_len + val_len;
    return 0;
}

static int stop_at_once(void *ctx, const void *key, size_t key_len, const void *val,
                        size_t val_len)
{
    ((seen *)ctx)->n++;
    return 1;
}

START_TEST(each_and_change_count)
{
    evp_state_store *st = evp_state_store_new(0);
    ck_assert_uint_eq(evp_state_each(st, "n", NULL, NULL, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "a", 1, "1", 1, 10, 0, T0), 0);
    uint64_t c1 = evp_state_each(st, "n", NULL, NULL, T0);
    ck_assert_uint_gt(c1, 0);
    /* The same value again only renews: no change. */
    ck_assert_int_eq(evp_state_put(st, "n", "a", 1, "1", 1, 10, 0, T0), 0);
    ck_assert_uint_eq(evp_state_each(st, "n", NULL, NULL, T0), c1);
    /* Another namespace's changes do not count here. */
    ck_assert_int_eq(evp_state_put(st, "o", "a", 1, "1", 1, 0, 0, T0), 0);
    ck_assert_uint_eq(evp_state_each(st, "n", NULL, NULL, T0), c1);
    ck_assert_int_eq(evp_state_put(st, "n", "a", 1, "2", 1, 10, 0, T0), 0);
    uint64_t c2 = evp_state_each(st, "n", NULL, NULL, T0);
    ck_assert_uint_gt(c2, c1);
    ck_assert_int_eq(evp_state_put(st, "n", "bb", 2, "22", 2, 0, 0, T0), 0);
    seen s = {0, 0};
    uint64_t c3 = evp_state_each(st, "n", count_entry, &s, T0);
    ck_assert_uint_gt(c3, c2);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(s.bytes, 2 + 4);
    seen one = {0, 0};
    evp_state_each(st, "n", stop_at_once, &one, T0);
    ck_assert_int_eq(one.n, 1);
    /* "a" expires: one entry left, and that is a change. */
    s = (seen){0, 0};
    ck_assert_uint_gt(evp_state_each(st, "n", count_entry, &s, T0 + 10), c3);
    ck_assert_int_eq(s.n, 1);
    evp_state_store_free(st);
}
END_TEST

START_TEST(bounded_and_bad_arguments)
{
    evp_state_store *st = evp_state_store_new(3);
    char key[EVP_STATE_KEY_MAX + 1], val[EVP_STATE_VALUE_MAX + 1];
    memset(key, 'k', sizeof key);
    memset(val, 'v', sizeof val);
    ck_assert_int_eq(evp_state_put(st, "n", "1", 1, "v", 1, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "m", "2", 1, "v", 1, 5, 0, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "3", 1, "v", 1, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "4", 1, "v", 1, 0, 0, T0), -1); /* full */
    ck_assert_int_eq(evp_state_put(st, "n", "3", 1, "w", 1, 0, 0, T0), 0);  /* replace: ok */
    ck_assert_int_eq(evp_state_del(st, "n", "3", 1, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "4", 1, "v", 1, 0, 0, T0), 0);
    /* An expired entry (seen when its namespace is next touched) makes room. */
    evp_state_each(st, "m", NULL, NULL, T0 + 5);
    ck_assert_int_eq(evp_state_put(st, "n", "5", 1, "v", 1, 0, 0, T0 + 5), 0);
    /* Sizes and names. */
    ck_assert_int_eq(evp_state_put(st, "n", key, EVP_STATE_KEY_MAX + 1, "v", 1, 0, 0, T0), -1);
    ck_assert_int_eq(evp_state_put(st, "n", "1", 1, val, EVP_STATE_VALUE_MAX + 1, 0, 0, T0),
                     -1);
    ck_assert_int_eq(evp_state_put(st, "n", "1", 1, val, EVP_STATE_VALUE_MAX, 0, 0, T0), 0);
    ck_assert_int_eq(evp_state_put(st, "n", "", 0, "v", 1, 0, 0, T0), -1);
    ck_assert_int_eq(evp_state_put(st, NULL, "1", 1, "v", 1, 0, 0, T0), -1);
    ck_assert_int_eq(evp_state_put(st, "n", "1", 1, NULL, 1, 0, 0, T0), -1);
    char ns[EVP_STATE_NS_MAX + 2];
    memset(ns, 'n', sizeof ns);
    ns[sizeof ns - 1] = '\0';
    ck_assert_int_eq(evp_state_put(st, ns, "1", 1, "v", 1, 0, 0, T0), -1);
    ck_assert_int_eq(evp_state_get(st, ns, "1", 1, NULL, 0, T0), -1);
    ck_assert_int_eq(evp_state_del(st, "n", NULL, 1, T0), -1);
    ck_assert_int_eq(evp_state_put(NULL, "n", "1", 1, "v", 1, 0, 0, T0), -1);
    ck_assert_uint_eq(evp_state_each(NULL, "n", NULL, NULL, T0), 0);
    evp_state_store_free(st);
    /* Too many namespaces. */
    st = evp_state_store_new(0);
    char name[16];
    for (int i = 0; i < EVP_STATE_MAX_NS; i++) {
        snprintf(name, sizeof name, "ns%d", i);
        ck_assert_int_eq(evp_state_put(st, name, "k", 1, "v", 1, 0, 0, T0), 0);
    }
    ck_assert_int_eq(evp_state_put(st, "one-more", "k", 1, "v", 1, 0, 0, T0), -1);
    evp_state_store_free(st);
}
END_TEST

/* Many keys in one namespace (the table grows), each found again, then half deleted. */
START_TEST(many_keys)
{
    evp_state_store *st = evp_state_store_new(0);
    enum { N = 20000 };
    char key[16];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        ck_assert_int_eq(evp_state_put(st, "n", key, (size_t)n, &i, sizeof i, 0, 0, T0), 0);
    }
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "k%d", i), v = -1;
        ck_assert_int_eq(evp_state_get(st, "n", key, (size_t)n, &v, sizeof v, T0), sizeof v);
        ck_assert_int_eq(v, i);
    }
    for (int i = 0; i < N; i += 2) {
        int n = snprintf(key, sizeof key, "k%d", i);
        ck_assert_int_eq(evp_state_del(st, "n", key, (size_t)n, T0), 0);
    }
    seen s = {0, 0};
    evp_state_each(st, "n", count_entry, &s, T0);
    ck_assert_int_eq(s.n, N / 2);
    ck_assert_int_eq(evp_state_get(st, "n", "k0", 2, NULL, 0, T0), -1);
    ck_assert_int_eq(evp_state_get(st, "n", "k1", 2, NULL, 0, T0), sizeof(int));
    evp_state_store_free(st);
}
END_TEST

/* Two threads create the same 500 keys on the global store: each key is created once. */
static void *race(void *arg)
{
    int *created = arg;
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof key, "race%d", i);
        int rc = evp_host_state_put("test.race", key, strlen(key), &i, sizeof i, 0,
                                    EVP_STATE_CREATE);
        if (rc == 0)
            (*created)++;
        ck_assert_int_ge(rc, 0);
    }
    return NULL;
}

START_TEST(threads_share_the_global_store)
{
    pthread_t th[2];
    int created[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &created[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(created[0] + created[1], 500);
    seen s = {0, 0};
    evp_host_state_each("test.race", count_entry, &s);
    ck_assert_int_eq(s.n, 500);
}
END_TEST

Suite *state_store_suite(void)
{
    Suite *s = suite_create("state_store");
    TCase *tc = tcase_create("state_store");
    tcase_add_test(tc, put_get_copies);
    tcase_add_test(tc, create_keeps_the_first);
    tcase_add_test(tc, expiry_and_renewal);
    tcase_add_test(tc, each_and_change_count);
    tcase_add_test(tc, bounded_and_bad_arguments);
    tcase_add_test(tc, many_keys);
    tcase_add_test(tc, threads_share_the_global_store);
    suite_add_tcase(s, tc);
    return s;
}
