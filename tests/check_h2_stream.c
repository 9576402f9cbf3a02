/* The "h2" transport's stream: client and server sessions against each other in memory
 * (1 MiB both ways in odd pieces, END_STREAM both ways) and its flow control (a client sends
 * no more than the server's window while the server's side is not read). */
#include "h2_fixture.h"

#define MIB (1024 * 1024)

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* Pieces from above and on the wire of these sizes (1 is byte at a time). */
static const size_t pieces[] = {1, 7, 1371, 65537};

START_TEST(one_mib_both_ways)
{
    size_t piece = pieces[_i];
    h2_side c, s;
    h2_side_open(&c, 0, "{\"host\":[\"a.example\"],\"path\":\"/tunnel\"}");
    h2_side_open(&s, 1, "{\"host\":\"a.example\",\"path\":\"/tunnel\"}");
    uint8_t *up = malloc(MIB), *down = malloc(MIB);
    fill(up, MIB, 1);
    fill(down, MIB, 2);
    h2_start(&c);
    /* Byte-at-a-time wire pieces would take long for 2 MiB: they carry the first 64 KiB. */
    size_t wire = piece == 1 ? 1 : piece * 3;
    size_t off_up = 0, off_down = 0, step = piece < 4096 ? 4093 : piece;
    for (int round = 0; round < 100000 && (off_up < MIB || off_down < MIB); round++) {
        size_t n = MIB - off_up < step ? MIB - off_up : step;
        tdrive_buf_put(&c.above, up + off_up, n);
        off_up += n;
        c.above_eof = off_up == MIB;
        if (s.up.len > 0 || off_down > 0) { /* the server answers once its session is up */
            n = MIB - off_down < step ? MIB - off_down : step;
            tdrive_buf_put(&s.above, down + off_down, n);
            off_down += n;
            s.above_eof = off_down == MIB;
        }
        h2_pump(&c, &s, c.taken < 65536 ? wire : 65536 + 5, 10000);
        ck_assert_msg(c.up_status != EVP_ERR && s.up_status != EVP_ERR, "%s / %s", c.reason,
                      s.reason);
    }
    h2_pump(&c, &s, 65536 + 5, 10000);
    ck_assert_uint_eq(s.up.len, MIB);
    ck_assert_mem_eq(s.up.data, up, MIB);
    ck_assert_uint_eq(c.up.len, MIB);
    ck_assert_mem_eq(c.up.data, down, MIB);
    /* END_STREAM both ways: each side's decode ended the stream upward. */
    ck_assert_int_eq(s.up_status, EVP_EOF);
    ck_assert_int_eq(c.up_status, EVP_EOF);
    ck_assert(c.down_done && s.down_done);
    free(up);
    free(down);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

/* A client with nothing to send ends at once: the server sees the end with no bytes. */
START_TEST(empty_stream_ends)
{
    h2_side c, s;
    h2_side_open(&c, 0, "{}");
    h2_side_open(&s, 1, "{}");
    h2_start(&c);
    c.above_eof = 1;
    h2_pump(&c, &s, 0, 100);
    ck_assert_int_eq(s.up_status, EVP_EOF);
    ck_assert_uint_eq(s.up.len, 0);
    s.above_eof = 1;
    h2_pump(&c, &s, 0, 100);
    ck_assert_int_eq(c.up_status, EVP_EOF);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

static void count_data(void *ctx, uint8_t type, uint8_t flags, uint32_t stream,
                       const uint8_t *payload, size_t len)
{
    if (type == 0) /* DATA */
        *(size_t *)ctx += len;
}

/* While the server's side is not read (the host stopped reading it: its target is slow), the
 * client takes from above no more than the window the server announced and leaves the rest
 * to the host, where its backpressure holds it; the window reopens once the server passes
 * bytes up. */
START_TEST(window_bounds_what_is_sent)
{
    h2_side c, s;
    h2_side_open(&c, 0, "{}");
    h2_side_open(&s, 1, "{}");
    size_t total = 4 * MIB;
    uint8_t *up = malloc(total);
    fill(up, total, 3);
    tdrive_buf_put(&c.above, up, total);
    h2_start(&c);
    h2_encode(&c);
    /* Before the server's SETTINGS: HTTP/2's initial window, 65535 bytes. */
    size_t data = 0;
    h2_frames(&c.wire, count_data, &data);
    ck_assert_uint_eq(data, 65535);
    ck_assert_uint_eq(c.taken, 65535);
    /* The server reads once (its SETTINGS and window go back), then is not read again. */
    h2_deliver(&c, &s, 0);
    ck_assert_uint_eq(s.up.len, 65535);
    h2_deliver(&s, &c, 0); /* SETTINGS, 200, and the window for the 65535 bytes */
    for (int i = 0; i < 10; i++)
        h2_encode(&c);
    data = 0;
    h2_frames(&c.wire, count_data, &data);
    ck_assert_uint_le(data, H2_TEST_WINDOW);
    ck_assert_uint_ge(data, H2_TEST_WINDOW - 65535);
    ck_assert_uint_le(c.taken, 65535 + H2_TEST_WINDOW);
    ck_assert_uint_eq(c.above.len, total - c.taken); /* the rest waits with the host */
    size_t held = c.taken;
    /* The server's side read again: it passes the bytes up, the window reopens. */
    h2_pump(&c, &s, 0, 10000);
    ck_assert_uint_gt(c.taken, held);
    ck_assert_uint_eq(s.up.len, total);
    ck_assert_mem_eq(s.up.data, up, total);
    free(up);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

Suite *h2_stream_suite(void)
{
    Suite *s = suite_create("h2_stream");
    TCase *tc = tcase_create("h2_stream");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, one_mib_both_ways, 0, sizeof pieces / sizeof pieces[0]);
    tcase_add_test(tc, empty_stream_ends);
    tcase_add_test(tc, window_bounds_what_is_sent);
    suite_add_tcase(s, tc);
    return s;
}
