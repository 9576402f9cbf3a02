/* The ws layer's frames: RFC 6455's example frames (section 5.7), 1 MiB both ways in odd
 * pieces, fragmentation with a ping between fragments, Close both ways, and the frames a
 * peer must not send. */
#include "ws_fixture.h"

#include <stdlib.h>

#define MIB (1024 * 1024)

static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* An upgraded pair (no bytes carried yet). */
static void open_pair(ws_link *l)
{
    ws_pair_open(l, "{\"path\":\"/ws\"}", "{\"path\":\"/ws\"}");
    ws_pump(l);
    ck_assert_msg(!l->cli.err && !l->srv.err, "%s%s", l->cli.reason, l->srv.reason);
    ck_assert_uint_eq(l->c2s.len + l->s2c.len, 0);
}

/* RFC 6455 5.7's frames to a client: unmasked "Hello", fragmented, a ping, 256 B, 64 KiB. */
START_TEST(test_rfc_frames_to_client)
{
    ws_link l;
    open_pair(&l);
    static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ws_put_bytes(&l.s2c, hello, sizeof(hello));
    ws_put_bytes(&l.s2c, frag, sizeof(frag));
    ws_step_decode(&l, &l.cli, &l.s2c, 0, &l.c2s);
    ck_assert_uint_eq(l.cli.got.len, 10);
    ck_assert_mem_eq(l.cli.got.data, "HelloHello", 10);
    ck_assert_uint_eq(l.c2s.len, 0);
    /* The ping: a masked pong with the same payload goes back. */
    ws_put_bytes(&l.s2c, ping, sizeof(ping));
    ws_step_decode(&l, &l.cli, &l.s2c, 0, &l.c2s);
    ck_assert_uint_eq(l.cli.got.len, 10);
    ck_assert_uint_eq(l.c2s.len, 2 + 4 + 5);
    ck_assert_int_eq(l.c2s.data[0], 0x8a);
    ck_assert_int_eq(l.c2s.data[1], 0x85);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(l.c2s.data[6 + i] ^ l.c2s.data[2 + i % 4], "Hello"[i]);
    l.c2s.len = 0;
    /* 256 bytes and 64 KiB in single unmasked binary frames (16- and 64-bit lengths). */
    uint8_t *big = malloc(65536);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < 65536; i++)
        big[i] = (uint8_t)(i * 13);
    static const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00};
    static const uint8_t h64k[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    ws_put_bytes(&l.s2c, h256, sizeof(h256));
    ws_put_bytes(&l.s2c, big, 256);
    ws_put_bytes(&l.s2c, h64k, sizeof(h64k));
    ws_put_bytes(&l.s2c, big, 65536);
    l.max_piece = 999;
    ws_pump(&l);
    ck_assert(!l.cli.err);
    ck_assert_uint_eq(l.cli.got.len, 10 + 256 + 65536);
    ck_assert_mem_eq(l.cli.got.data + 10, big, 256);
    ck_assert_mem_eq(l.cli.got.data + 266, big, 65536);
    free(big);
    ws_pair_close(&l);
}
END_TEST

/* RFC 6455 5.7's ping from a client gets an unmasked pong, byte for byte. */
START_TEST(test_server_pong)
{
    ws_link l;
    open_pair(&l);
    ws_frame(&l.c2s, 0x89, "Hello", 5, mask);
    ws_step_decode(&l, &l.srv, &l.c2s, 0, &l.s2c);
    static const uint8_t pong[] = {0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ck_assert_uint_eq(l.s2c.len, sizeof(pong));
    ck_assert_mem_eq(l.s2c.data, pong, sizeof(pong));
    ck_assert_uint_eq(l.srv.got.len, 0);
    ws_pair_close(&l);
}
END_TEST

/* 1 MiB each way at once, every call given an odd piece: intact, in frames <= 16 KiB. */
START_TEST(test_mib_both_ways_odd_pieces)
{
    ws_link l;
    open_pair(&l);
    uint8_t *up = malloc(MIB), *down = malloc(MIB);
    ck_assert(up && down);
    for (size_t i = 0; i < MIB; i++) {
        up[i] = (uint8_t)(i * 31 + (i >> 11));
        down[i] = (uint8_t)(i * 17 + (i >> 9));
    }
    ws_put_bytes(&l.cli.send, up, MIB);
    ws_put_bytes(&l.srv.send, down, MIB);
    /* One whole encode: the frames it writes are at most 16 KiB each. */
    size_t wire_before = l.s2c.len;
    evp_io io = {.in = l.srv.send.data, .in_len = l.srv.send.len, .out = &l.s2c, .back = NULL};
    ck_assert_int_eq(ws_transport_ops.encode(l.srv.sess, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, MIB);
    test_buf_consume(&l.srv.send, MIB);
    size_t frames = 0;
    for (size_t at = wire_before; at < l.s2c.len; frames++) {
        ck_assert_int_eq(l.s2c.data[at], 0x82);
        ck_assert_int_eq(l.s2c.data[at + 1], 126); /* 16-bit length, unmasked */
        size_t n = (size_t)l.s2c.data[at + 2] << 8 | l.s2c.data[at + 3];
        ck_assert_uint_le(n, WS_FRAME_MAX);
        at += 4 + n;
    }
    ck_assert_uint_eq(frames, MIB / WS_FRAME_MAX);
    l.max_piece = 7919;
    ws_pump(&l);
    ck_assert_msg(!l.cli.err && !l.srv.err, "%s%s", l.cli.reason, l.srv.reason);
    ck_assert_uint_eq(l.srv.got.len, MIB);
    ck_assert_uint_eq(l.cli.got.len, MIB);
    ck_assert(memcmp(l.srv.got.data, up, MIB) == 0);
    ck_assert(memcmp(l.cli.got.data, down, MIB) == 0);
    free(up);
    free(down);
    ws_pair_close(&l);
}
END_TEST

/* A message in three fragments with a ping (and a pong) between them, fed a byte a call. */
START_TEST(test_fragments_with_ping)
{
    ws_link l;
    open_pair(&l);
    ws_frame(&l.c2s, 0x02, "frag", 4, mask);    /* binary, not fin */
    ws_frame(&l.c2s, 0x89, "are you", 7, mask); /* ping between fragments */
    ws_frame(&l.c2s, 0x00, "ment", 4, mask);    /* continuation */
    ws_frame(&l.c2s, 0x8a, "", 0, mask);        /* an unasked pong: ignored */
    ws_frame(&l.c2s, 0x80, "ed", 2, mask);      /* continuation, fin */
    ws_frame(&l.c2s, 0x81, "!", 1, mask);       /* a text message after it */
    l.max_piece = 1;
    ws_pump(&l);
    ck_assert_msg(!l.srv.err, "%s", l.srv.reason);
    ck_assert_uint_eq(l.srv.got.len, 11);
    ck_assert_mem_eq(l.srv.got.data, "fragmented!", 11);
    static const uint8_t pong[] = {0x8a, 0x07, 'a', 'r', 'e', ' ', 'y', 'o', 'u'};
    ck_assert_uint_eq(l.cli.got.len, 0); /* the client got the pong, which carries nothing */
    ck_assert(!l.cli.err);
    /* The pong went through the client's decode; check it on a bare wire. */
    evp_buf wire = {0}, back = {0}, up = {0};
    ws_frame(&wire, 0x02, "a", 1, mask);
    ws_frame(&wire, 0x89, "are you", 7, mask);
    evp_io io = {.in = wire.data, .in_len = wire.len, .out = &up, .back = &back};
    ck_assert_int_eq(ws_transport_ops.decode(l.srv.sess, &io), EVP_OK);
    ck_assert_uint_eq(back.len, sizeof(pong));
    ck_assert_mem_eq(back.data, pong, sizeof(pong));
    test_buf_free(&wire);
    test_buf_free(&back);
    test_buf_free(&up);
    ws_pair_close(&l);
}
END_TEST

/* Frames a client must not send: each ends the session with a reason. */
START_TEST(test_bad_frames_refused)
{
    static const struct {
        uint8_t first;
        size_t len;
        int masked;
        uint8_t first2; /* a second frame's first byte, or 0 */
        const char *reason;
    } cases[] = {
        {0x82, 5, 0, 0, "unmasked"},         /* RFC 5.7's unmasked frame, from a client */
        {0x00, 3, 1, 0, "fragmentation"},    /* continuation with nothing to continue */
        {0x02, 3, 1, 0x82, "fragmentation"}, /* a new message inside a fragmented one */
        {0x09, 3, 1, 0, "control frame"},    /* a ping without fin */
        {0x89, 126, 1, 0, "control frame"},  /* a ping over 125 bytes */
        {0xc2, 3, 1, 0, "reserved bits"},    /* RSV1 without an extension */
        {0x83, 3, 1, 0, "opcode"},           /* opcode 3 is reserved */
        {0x82, 126, 0, 0, "unmasked"},       /* a 16-bit length, unmasked */
        {0x88, 1, 1, 0, "1-byte payload"},   /* a Close with half a status code */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ws_link l;
        open_pair(&l);
        uint8_t payload[200];
        memset(payload, 0xff, sizeof(payload));
        ws_frame(&l.c2s, cases[i].first, payload, cases[i].len, cases[i].masked ? mask : NULL);
        if (cases[i].first2)
            ws_frame(&l.c2s, cases[i].first2, payload, 1, mask);
        ws_pump(&l);
        ck_assert_msg(l.srv.err, "case %zu accepted", i);
        ck_assert_msg(strstr(l.srv.reason, "websocket: bad frame") != NULL &&
                          strstr(l.srv.reason, cases[i].reason) != NULL,
                      "case %zu: %s", i, l.srv.reason);
        ws_pair_close(&l);
    }
    /* A server's masked frame is refused by a client. */
    ws_link l;
    open_pair(&l);
    ws_frame(&l.s2c, 0x82, "x", 1, mask);
    ws_pump(&l);
    ck_assert(l.cli.err);
    ck_assert_ptr_nonnull(strstr(l.cli.reason, "masked frame from a server"));
    ws_pair_close(&l);
    /* Lengths not in their shortest form: 126 saying 5, 127 saying 65535. */
    static const uint8_t long16[] = {0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t long64[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    const uint8_t *bad[2] = {long16, long64};
    size_t bad_len[2] = {sizeof(long16), sizeof(long64)};
    for (int i = 0; i < 2; i++) {
        open_pair(&l);
        ws_put_bytes(&l.c2s, bad[i], bad_len[i]);
        ws_pump(&l);
        ck_assert(l.srv.err);
        ck_assert_msg(strstr(l.srv.reason, "shortest form") != NULL, "%s", l.srv.reason);
        ck_assert_uint_eq(l.srv.got.len, 0);
        ws_pair_close(&l);
    }
}
END_TEST

/* The client ends: its Close, the server's EVP_EOF and one reply, the client's EVP_EOF. */
START_TEST(test_close_from_client)
{
    ws_link l;
    open_pair(&l);
    ws_put_bytes(&l.cli.send, "last words", 10);
    l.cli.send_eof = 1;
    ws_step_encode(&l, &l.cli, &l.c2s, 0);
    ck_assert(l.cli.eof_given);
    /* the data frame, then a masked Close 1000 */
    size_t at = 2 + 4 + 10;
    ck_assert_uint_eq(l.c2s.len, at + 2 + 4 + 2);
    ck_assert_int_eq(l.c2s.data[at], 0x88);
    ck_assert_int_eq(l.c2s.data[at + 1], 0x82);
    ws_step_decode(&l, &l.srv, &l.c2s, 0, &l.s2c);
    ck_assert(l.srv.got_eof);
    ck_assert_uint_eq(l.srv.got.len, 10);
    static const uint8_t reply[] = {0x88, 0x02, 0x03, 0xe8};
    ck_assert_uint_eq(l.s2c.len, sizeof(reply));
    ck_assert_mem_eq(l.s2c.data, reply, sizeof(reply));
    /* The server's layer above still writes, then ends: nothing more goes after a Close. */
    ws_put_bytes(&l.srv.send, "too late", 8);
    l.srv.send_eof = 1;
    ws_step_encode(&l, &l.srv, &l.s2c, 0);
    ck_assert(!l.srv.err);
    ck_assert_uint_eq(l.srv.send.len, 0);
    ck_assert_uint_eq(l.s2c.len, sizeof(reply));
    ws_pump(&l);
    ck_assert(l.cli.got_eof);
    ck_assert_uint_eq(l.cli.got.len, 0);
    ck_assert_uint_eq(l.c2s.len, 0); /* the client's Close went already: no second one */
    ws_pair_close(&l);
}
END_TEST

/* The server ends: its Close, the client's EVP_EOF and masked reply, the server's EOF. */
START_TEST(test_close_from_server)
{
    ws_link l;
    open_pair(&l);
    l.srv.send_eof = 1;
    ws_step_encode(&l, &l.srv, &l.s2c, 0);
    static const uint8_t close_frame[] = {0x88, 0x02, 0x03, 0xe8};
    ck_assert_uint_eq(l.s2c.len, sizeof(close_frame));
    ck_assert_mem_eq(l.s2c.data, close_frame, sizeof(close_frame));
    /* Data the client sends before it reads the Close still comes up at the server. */
    ws_put_bytes(&l.cli.send, "still here", 10);
    ws_step_encode(&l, &l.cli, &l.c2s, 0);
    ws_step_decode(&l, &l.cli, &l.s2c, 0, &l.c2s);
    ck_assert(l.cli.got_eof);
    ws_pump(&l);
    ck_assert(l.srv.got_eof);
    ck_assert_uint_eq(l.srv.got.len, 10);
    ck_assert_mem_eq(l.srv.got.data, "still here", 10);
    ck_assert(!l.cli.err && !l.srv.err);
    ws_pair_close(&l);
}
END_TEST

/* The socket ends without a Close: EVP_EOF between frames, EVP_ERR inside one. */
START_TEST(test_stream_end_without_close)
{
    ws_link l;
    open_pair(&l);
    ws_frame(&l.c2s, 0x82, "whole", 5, mask);
    l.c2s_eof = 1;
    ws_pump(&l);
    ck_assert(l.srv.got_eof);
    ck_assert(!l.srv.err);
    ck_assert_uint_eq(l.srv.got.len, 5);
    ws_pair_close(&l);

    open_pair(&l);
    ws_frame(&l.c2s, 0x82, "whole", 5, mask);
    l.c2s.len -= 2; /* cut inside the payload */
    l.c2s_eof = 1;
    ws_pump(&l);
    ck_assert(l.srv.err);
    ck_assert_ptr_nonnull(strstr(l.srv.reason, "inside a frame"));
    ws_pair_close(&l);

    open_pair(&l);
    ws_frame(&l.c2s, 0x02, "part", 4, mask); /* a message's first fragment only */
    l.c2s_eof = 1;
    ws_pump(&l);
    ck_assert(l.srv.err);
    ws_pair_close(&l);
}
END_TEST

Suite *ws_frames_suite(void)
{
    Suite *s = suite_create("ws_frames");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rfc_frames_to_client);
    tcase_add_test(tc, test_server_pong);
    tcase_add_test(tc, test_mib_both_ways_odd_pieces);
    tcase_add_test(tc, test_fragments_with_ping);
    tcase_add_test(tc, test_bad_frames_refused);
    tcase_add_test(tc, test_close_from_client);
    tcase_add_test(tc, test_close_from_server);
    tcase_add_test(tc, test_stream_end_without_close);
    suite_add_tcase(s, tc);
    return s;
}
