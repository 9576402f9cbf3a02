/* Mux.Cool / XUDP frame parser and writer (plugin/vmess/mux_frame*.c): every malformed
 * frame refused with its reason, the limits, borrowed vs. assembled data, the writer's
 * refusals. */
#include "mux_fixture.h"

/* ---- refusals ---- */

static const struct {
    const char *hex;
    const char *why;
} bad_frames[] = {
    {"0201", "metadata length 513 is over 512"},
    {"ffff", "metadata length 65535 is over 512"},
    {"0000", "metadata length 0 is under 4"},
    {"0003 000102", "metadata length 3 is under 4"},
    {"0004 0001 00 00", "unknown session status 0x00 (session 1)"},
    {"0004 0001 05 00", "unknown session status 0x05 (session 1)"},
    {"0004 0102 ff 00", "unknown session status 0xff (session 258)"},
    {"0004 0001 02 04", "unknown option bits 0x04 (session 1)"},
    {"0004 0001 03 80", "unknown option bits 0x80 (session 1)"},
    {"0007 0001 01 00 01 0050", "New frame metadata of 7 bytes is too short (session 1)"},
    {"0004 0001 01 00", "New frame metadata of 4 bytes is too short (session 1)"},
    {"000c 0001 01 00 00 0050 01 7f000001", "unknown network 0x00 (session 1)"},
    {"000c 0001 01 00 03 0050 01 7f000001", "unknown network 0x03 (session 1)"},
    {"000c 0001 01 00 01 0050 00 7f000001", "New frame: unknown address type (session 1)"},
    {"000c 0001 01 00 01 0050 04 7f000001", "New frame: unknown address type (session 1)"},
    {"000b 0001 01 00 01 0050 01 7f0000", "New frame: address runs past the metadata (session 1)"},
    {"0009 0001 01 00 01 0050 02 00", "New frame: invalid domain name (session 1)"},
    {"000b 0001 01 00 01 0050 02 02 612f", "New frame: invalid domain name (session 1)"},
    {"000b 0001 01 00 01 0050 02 05 6162", "New frame: address runs past the metadata (session 1)"},
    {"0007 0001 02 01 02 0035", "Keep frame metadata of 7 bytes is too short (session 1)"},
    {"000c 0001 02 01 02 0035 07 01010101", "Keep frame: unknown address type (session 1)"},
};

START_TEST(refuses_bad_frame)
{
    uint8_t in[64];
    size_t n = unhex(bad_frames[_i].hex, in);
    for (size_t piece = 0; piece <= 1; piece++) {
        recs o;
        parse_pieces(in, n, piece, &o);
        ck_assert_int_eq(o.rc, VMESS_MUX_ERR);
        ck_assert_str_eq(o.why, bad_frames[_i].why);
        ck_assert_uint_eq(o.n, 0);
        recs_free(&o);
    }
}
END_TEST

/* After an error the parser stays failed, whatever comes next. */
START_TEST(error_is_sticky)
{
    vmess_mux_parser p;
    vmess_mux_parser_init(&p, H());
    uint8_t bad[6], good[6];
    unhex("0004000109 00", bad);
    unhex("000400010300", good);
    vmess_mux_event ev;
    size_t used;
    ck_assert_int_eq(vmess_mux_parse(&p, bad, sizeof bad, &used, &ev), VMESS_MUX_ERR);
    ck_assert_int_eq(vmess_mux_parse(&p, good, sizeof good, &used, &ev), VMESS_MUX_ERR);
    ck_assert_str_eq(p.why, "unknown session status 0x09 (session 1)");
    ck_assert(!vmess_mux_parser_at_boundary(&p));
    vmess_mux_parser_free(&p);
}
END_TEST

/* ---- limits, borrowing, memory ---- */

/* The largest metadata (512 bytes: a New frame padded out) is read; 513 is refused above. */
START_TEST(metadata_of_512_bytes)
{
    uint8_t in[600] = {0};
    unhex("0200 0007 01 00 01 0050 01 7f000001", in);
    recs o;
    parse_pieces(in, 2 + 512, 7, &o);
    vmess_mux_frame f = frame(7, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP);
    set_ip(&f, "7f000001", 80);
    ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
    ck_assert_uint_eq(o.n, 1);
    assert_frame(&o, 0, &f, NULL);
    recs_free(&o);
}
END_TEST

/* Data in one piece is handed out in place; split data is assembled; idle frees the
 * assembly buffer only between frames. */
START_TEST(borrows_whole_data_assembles_split)
{
    uint8_t in[32];
    size_t n = unhex("0004 0005 02 01 0006 616263646566", in);
    vmess_mux_parser p;
    vmess_mux_parser_init(&p, H());
    vmess_mux_event ev;
    size_t used;
    ck_assert_int_eq(vmess_mux_parse(&p, in, n, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(ev.kind, VMESS_MUX_EV_FRAME);
    ck_assert_uint_eq(used, 6);
    ck_assert_int_eq(vmess_mux_parse(&p, in + 6, n - 6, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(ev.kind, VMESS_MUX_EV_DATA);
    ck_assert_ptr_eq(ev.data, in + 8);
    ck_assert_uint_eq(ev.len, 6);
    ck_assert_ptr_null(p.data);

    /* The same frame with its data split after 2 bytes, a quiet spell in the middle. */
    ck_assert_int_eq(vmess_mux_parse(&p, in, 10, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(vmess_mux_parse(&p, in + 6, 4, &used, &ev), VMESS_MUX_MORE);
    ck_assert_ptr_nonnull(p.data);
    vmess_mux_parser_idle(&p);
    ck_assert_ptr_nonnull(p.data); /* mid-frame: kept */
    ck_assert_int_eq(vmess_mux_parse(&p, in + 10, n - 10, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(ev.kind, VMESS_MUX_EV_DATA);
    ck_assert_ptr_eq(ev.data, p.data);
    ck_assert_mem_eq(ev.data, "abcdef", 6);
    ck_assert(vmess_mux_parser_at_boundary(&p));
    vmess_mux_parser_idle(&p);
    ck_assert_ptr_null(p.data);
    vmess_mux_parser_free(&p);
}
END_TEST

/* Empty data is an event even when its length is the last byte of the input. */
START_TEST(empty_data_at_end_of_input)
{
    uint8_t in[16];
    size_t n = unhex("0004 0001 02 01 0000", in);
    vmess_mux_parser p;
    vmess_mux_parser_init(&p, H());
    vmess_mux_event ev;
    size_t used;
    ck_assert_int_eq(vmess_mux_parse(&p, in, n, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(vmess_mux_parse(&p, in + used, n - used, &used, &ev), VMESS_MUX_EVENT);
    ck_assert_int_eq(ev.kind, VMESS_MUX_EV_DATA);
    ck_assert_uint_eq(ev.len, 0);
    ck_assert(vmess_mux_parser_at_boundary(&p));
    ck_assert_int_eq(vmess_mux_parse(&p, in, 0, &used, &ev), VMESS_MUX_MORE);
    ck_assert_uint_eq(used, 0);
    vmess_mux_parser_free(&p);
}
END_TEST

/* The writer refuses what the parser would not give back, and leaves out untouched. */
START_TEST(writer_refuses)
{
    static uint8_t big[VMESS_MUX_DATA_MAX + 1];
    vmess_mux_frame bad[12];
    size_t n = 0;
    bad[n++] = frame(1, 0, 0, 0);                /* status 0 */
    bad[n++] = frame(1, 5, 0, 0);                /* status 5 */
    bad[n++] = frame(1, VMESS_MUX_END, 0x04, 0); /* option bit */
    bad[n++] = frame(1, VMESS_MUX_NEW, 0, 0);    /* New without net */
    bad[n] = frame(1, VMESS_MUX_NEW, 0, 3);      /* network 3 */
    set_ip(&bad[n++], "7f000001", 1);
    bad[n] = frame(1, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP); /* empty domain */
    set_domain(&bad[n++], "", 1);
    bad[n] = frame(1, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP); /* no address type */
    bad[n++].addr.port = 1;
    bad[n] = frame(1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP); /* ID on TCP */
    set_ip(&bad[n], "7f000001", 1);
    bad[n++].has_global_id = 1;
    bad[n] = frame(1, VMESS_MUX_NEW, 0, VMESS_MUX_NET_UDP); /* ID without data */
    set_ip(&bad[n], "7f000001", 1);
    bad[n++].has_global_id = 1;
    bad[n] = frame(1, VMESS_MUX_KEEP, 0, VMESS_MUX_NET_TCP); /* Keep with TCP */
    set_ip(&bad[n++], "7f000001", 1);
    bad[n++] = frame(1, VMESS_MUX_END, 0, VMESS_MUX_NET_UDP); /* End with a net */
    evp_buf out = {0};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(vmess_mux_write(H(), &out, &bad[i], NULL, 0) == EVP_ERR, "frame %zu", i);
    vmess_mux_frame keep = frame(1, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    ck_assert_int_eq(vmess_mux_write(H(), &out, &keep, big, sizeof big), EVP_ERR);
    vmess_mux_frame end = frame(1, VMESS_MUX_END, 0, 0);
    ck_assert_int_eq(vmess_mux_write(H(), &out, &end, big, 1), EVP_ERR); /* data, no option */
    ck_assert_uint_eq(out.len, 0);
    evp_buf_free(&out);
}
END_TEST

Suite *vmess_mux_parser_suite(void)
{
    Suite *s = suite_create("vmess_mux_parser");
    TCase *t = tcase_create("refusals");
    tcase_add_loop_test(t, refuses_bad_frame, 0, (int)(sizeof bad_frames / sizeof bad_frames[0]));
    tcase_add_test(t, error_is_sticky);
    tcase_add_test(t, writer_refuses);
    suite_add_tcase(s, t);

    t = tcase_create("limits");
    tcase_add_test(t, metadata_of_512_bytes);
    tcase_add_test(t, borrows_whole_data_assembles_split);
    tcase_add_test(t, empty_data_at_end_of_input);
    suite_add_tcase(s, t);
    return s;
}
