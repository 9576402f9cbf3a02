/* core/plugin_host/buf.c: small handshake buffers, their move into a standard block, the block
 * pool (capped by bytes) giving back what a burst left unused, and the host's queues (a read
 * offset: bytes move only when the tail lacks room). */
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

/* Taking bytes and appending while the tail has room moves nothing: the offset advances. */
START_TEST(queue_take_then_append_moves_nothing)
{
    evp_qbuf q = {{0}, 0};
    unsigned long long moved = evp_buf_moved_bytes();
    uint8_t *p = evp_qbuf_room(&q, 1000);
    ck_assert_ptr_nonnull(p);
    memset(p, 'a', 1000);
    q.b.len += 1000;
    uint8_t *data = q.b.data;
    evp_qbuf_take(&q, 600); /* a codec took 600: 400 wait */
    ck_assert_uint_eq(evp_qbuf_len(&q), 400);
    ck_assert_ptr_eq(evp_qbuf_head(&q), data + 600);
    for (int i = 0; i < 10; i++) { /* appends and takes, all within the block */
        p = evp_qbuf_room(&q, 1000);
        ck_assert_ptr_eq(p, data + q.b.len);
        memset(p, 'b', 1000);
        q.b.len += 1000;
        evp_qbuf_take(&q, 1000);
    }
    ck_assert_ptr_eq(q.b.data, data);
    ck_assert_uint_eq(evp_buf_moved_bytes(), moved);
    ck_assert_uint_eq(evp_qbuf_len(&q), 400);
    ck_assert_int_eq(evp_qbuf_head(&q)[399], 'b');
    evp_qbuf_free(&q);
}
END_TEST

/* When the tail lacks room, only the waiting bytes move (to the front), and they are kept. */
START_TEST(queue_compacts_only_what_waits)
{
    evp_qbuf q = {{0}, 0};
    uint8_t *p = evp_qbuf_room(&q, EVP_BUF_BLOCK);
    for (size_t i = 0; i < EVP_BUF_BLOCK; i++)
        p[i] = (uint8_t)i;
    q.b.len = EVP_BUF_BLOCK;
    evp_qbuf_take(&q, EVP_BUF_BLOCK - 100); /* a partial record of 100 bytes waits */
    unsigned long long moved = evp_buf_moved_bytes();
    p = evp_qbuf_room(&q, 65536);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(evp_buf_moved_bytes() - moved, 100);
    ck_assert_uint_eq(q.off, 0);
    ck_assert_uint_eq(q.b.cap, EVP_BUF_BLOCK); /* no growth: the front had the room */
    for (size_t i = 0; i < 100; i++)
        ck_assert_uint_eq(evp_qbuf_head(&q)[i], (uint8_t)(EVP_BUF_BLOCK - 100 + i));
    evp_qbuf_take(&q, 100); /* emptied: back to the front without a move */
    ck_assert_uint_eq(q.off + q.b.len, 0);
    evp_qbuf_trim(&q);
    ck_assert_ptr_null(q.b.data);
}
END_TEST

/* The pool keeps at most EVP_BUF_POOL_BYTES of spare blocks, however many were freed, and a
 * lower cap frees the surplus at once. */
START_TEST(pool_capped_by_bytes)
{
    enum { N = 100 };
    static evp_buf b[N];
    evp_buf_pool_drain();
    evp_buf_pool_shrink();
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(evp_buf_reserve(&b[i], 1));
    for (int i = 0; i < N; i++)
        evp_buf_free(&b[i]);
    ck_assert_uint_eq(evp_buf_pool_shrink(), 0); /* all were taken this period */
    size_t kept = evp_buf_pool_shrink();         /* now they all sat unused */
    ck_assert_uint_gt(kept, 0);
    ck_assert_msg(kept * EVP_BUF_BLOCK <= EVP_BUF_POOL_BYTES, "the pool kept %zu bytes",
                  kept * EVP_BUF_BLOCK);
    for (int i = 0; i < 10; i++)
        ck_assert_ptr_nonnull(evp_buf_reserve(&b[i], 1));
    for (int i = 0; i < 10; i++)
        evp_buf_free(&b[i]);
    evp_buf_pool_set_cap(3 * EVP_BUF_BLOCK);
    ck_assert_uint_eq(evp_buf_pool_bytes(), 3 * EVP_BUF_BLOCK);
    evp_buf_pool_set_cap(EVP_BUF_POOL_BYTES);
    evp_buf_pool_drain();
    ck_assert_uint_eq(evp_buf_pool_bytes(), 0);
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
    tcase_add_test(tc, queue_take_then_append_moves_nothing);
    tcase_add_test(tc, queue_compacts_only_what_waits);
    tcase_add_test(tc, pool_capped_by_bytes);
    suite_add_tcase(s, tc);
    return s;
}
