/* core/plugin_host/buf.c: small handshake buffers, their move into a standard block, and the
 * block pool giving back what a burst left unused. */
#include "buf.h"

#include <check.h>
#include <string.h>

/* A few handshake bytes cost a few hundred bytes, not a standard block. */
START_TEST(small_append_stays_small)
{
    evp_buf b = {0};
    ck_assert_int_eq(evp_buf_append_small(&b, "\x05\x01", 2), 0);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_uint_lt(b.cap, 1024);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(evp_buf_append_small(&b, "0123456789", 10), 0);
    ck_assert_uint_eq(b.len, 1002);
    ck_assert_uint_lt(b.cap, 2048);
    ck_assert_int_eq(memcmp(b.data, "\x05\x01", 2), 0);
    ck_assert_int_eq(memcmp(b.data + 2, "0123456789", 10), 0);
    evp_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

/* Once the relay reads a full chunk, what the small buffer held moves into a block. */
START_TEST(reserve_carries_small_bytes)
{
    evp_buf b = {0};
    ck_assert_int_eq(evp_buf_append_small(&b, "left over", 9), 0);
    uint8_t *p = evp_buf_reserve(&b, 65536);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(b.cap, EVP_BUF_BLOCK);
    ck_assert_ptr_eq(p, b.data + 9);
    ck_assert_int_eq(memcmp(b.data, "left over", 9), 0);
    evp_buf_free(&b);
}
END_TEST

/* More than a block from a small buffer: grows past the block, keeps the bytes. */
START_TEST(reserve_beyond_a_block)
{
    evp_buf b = {0};
    ck_assert_int_eq(evp_buf_append_small(&b, "abc", 3), 0);
    ck_assert_ptr_nonnull(evp_buf_reserve(&b, EVP_BUF_BLOCK));
    ck_assert_uint_ge(b.cap, EVP_BUF_BLOCK + 3);
    ck_assert_int_eq(memcmp(b.data, "abc", 3), 0);
    evp_buf_free(&b);
}
END_TEST

/* The pool gives back only blocks that no buffer took during a whole shrink period: a
 * block taken and returned keeps its place until a period passes without it. */
START_TEST(pool_shrink_frees_only_the_unused)
{
    evp_buf b[4] = {{0}};
    evp_buf_pool_drain();
    evp_buf_pool_shrink(); /* a fresh period with an empty pool */
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(evp_buf_reserve(&b[i], 1));
    for (int i = 0; i < 4; i++)
        evp_buf_free(&b[i]);
    /* The pool was empty during this period: all four blocks were needed. */
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
    /* One block taken and returned; three sat unused for the whole period. */
    ck_assert_ptr_nonnull(evp_buf_reserve(&b[0], 1));
    evp_buf_free(&b[0]);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 3);
    /* The kept block serves the next buffer; then a quiet period frees it. */
    ck_assert_ptr_nonnull(evp_buf_reserve(&b[0], 1));
    evp_buf_free(&b[0]);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 1);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, small_append_stays_small);
    tcase_add_test(tc, reserve_carries_small_bytes);
    tcase_add_test(tc, reserve_beyond_a_block);
    tcase_add_test(tc, pool_shrink_frees_only_the_unused);
    suite_add_tcase(s, tc);
    return s;
}
