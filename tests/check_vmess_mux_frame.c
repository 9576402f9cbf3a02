/* Mux.Cool / XUDP frame codec (plugin/vmess/mux_frame*.c): byte vectors and round trips.
 * Byte vectors are the streams V2Ray's and Xray-core's own Go tests write (each cites its
 * file), encoded by hand from their frame.go WriteTo / xudp.go PacketWriter and checked
 * against what those tests expect to read back, or captured from the installed V2Ray 4.34;
 * never produced by the code under test. */
#include "mux_fixture.h"

START_TEST(vector_v2ray_reader_writer)
{
    uint8_t in[512];
    size_t n = v2ray_stream(in, NULL);
    recs o;
    parse_pieces(in, n, 0, &o);
    assert_v2ray_events(&o, "v2ray.com");
    assert_rewrites(&o, in, n);
    recs_free(&o);
}
END_TEST

/* XTLS/Xray-core common/mux/mux_test.go TestReaderWriter: the same test with example.com for
 * session 1 (and an empty session.Inbound, which adds nothing to the New frames). */
START_TEST(vector_xray_reader_writer)
{
    uint8_t in[512];
    size_t n = unhex("0014 0001 01 01 01 0050 02 0b 6578616d706c652e636f6d 0004 61626364", in);
    for (size_t i = 1; i < N_V2RAY_FRAMES; i++)
        n += unhex(v2ray_frames[i], in + n);
    recs o;
    parse_pieces(in, n, 0, &o);
    assert_v2ray_events(&o, "example.com");
    vmess_mux_frame f1 = o.r[0].frame;
    assert_writes(&f1, "abcd",
                  "0014 0001 01 01 01 0050 02 0b 6578616d706c652e636f6d 0004 61626364");
    recs_free(&o);
}
END_TEST

/* XTLS/Xray-core common/xudp/xudp_test.go TestXudpReadWrite: a PacketWriter for a non-UDP
 * destination writes the packet "a" from 127.0.0.1:1345 as a Keep frame of session 0 with
 * the UDP address in its metadata; the test reads back 'a' and port 1345. */
START_TEST(vector_xudp_keep_with_address)
{
    const char *hex = "000c 0000 02 01 02 0541 01 7f000001 0001 61";
    uint8_t in[64];
    size_t n = unhex(hex, in);
    recs o;
    parse_pieces(in, n, 0, &o);
    vmess_mux_frame k = frame(0, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&k, "7f000001", 1345);
    ck_assert_uint_eq(o.n, 2);
    assert_frame(&o, 0, &k, "a");
    assert_writes(&k, "a", hex);
    recs_free(&o);
}
END_TEST

/* XTLS/Xray-core common/xudp/xudp.go PacketWriter (the packets the test above does not
 * cover): to udp:1.1.1.1:53 the first packet goes in a New frame, network UDP, with the
 * 8-byte Global ID after the address; later packets in Keep frames with their address.
 * common/mux/frame.go UnmarshalFromBuffer reads the Global ID only from a UDP New frame
 * with the Data option and at least 8 bytes left. */
START_TEST(vector_xudp_new_with_global_id)
{
    const char *new_hex = "0014 0000 01 01 02 0035 01 01010101 0102030405060708 0002 6869";
    const char *keep_hex = "000c 0000 02 01 02 0035 01 08080404 0002 796f";
    uint8_t in[128];
    size_t n = unhex(new_hex, in);
    n += unhex(keep_hex, in + n);
    recs o;
    parse_pieces(in, n, 0, &o);
    vmess_mux_frame f = frame(0, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&f, "01010101", 53);
    f.has_global_id = 1;
    unhex("0102030405060708", f.global_id);
    vmess_mux_frame k = frame(0, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&k, "08080404", 53);
    ck_assert_uint_eq(o.n, 4);
    assert_frame(&o, 0, &f, "hi");
    assert_frame(&o, 2, &k, "yo");
    assert_writes(&f, "hi", new_hex);
    assert_writes(&k, "yo", keep_hex);
    recs_free(&o);
}
END_TEST

/* Xray ignores metadata after what it reads: zero padding after a Keep's header, bytes
 * after a New frame's Global ID, and a Global ID in a New frame without data. */
START_TEST(trailing_metadata_ignored)
{
    uint8_t in[128];
    size_t n = unhex("0006 0009 02 00 0000", in);
    n += unhex("0016 0000 01 01 02 0035 01 01010101 0102030405060708 ffff", in + n);
    n += unhex("0001 61", in + n);
    n += unhex("0014 0001 01 00 02 0035 01 01010101 0102030405060708", in + n);
    recs o;
    parse_pieces(in, n, 0, &o);
    vmess_mux_frame k = frame(9, VMESS_MUX_KEEP, 0, 0);
    vmess_mux_frame f = frame(0, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&f, "01010101", 53);
    f.has_global_id = 1;
    unhex("0102030405060708", f.global_id);
    vmess_mux_frame g = frame(1, VMESS_MUX_NEW, 0, VMESS_MUX_NET_UDP);
    set_ip(&g, "01010101", 53);
    ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
    ck_assert_uint_eq(o.n, 4);
    assert_frame(&o, 0, &k, NULL);
    assert_frame(&o, 1, &f, "a");
    assert_frame(&o, 3, &g, NULL);
    recs_free(&o);
}
END_TEST

/* Captured from the installed V2Ray 4.34.0: a client with a socks inbound and a Shadowsocks
 * outbound (method "none", so the payload is plain) with "mux": {"enabled": true}, sending to
 * a TCP listener that records what it gets. The payload starts with the Shadowsocks address
 * 03 0b "v1.mux.cool" 2537 (port 9527), left out here; the Mux.Cool stream follows.
 * TCP: curl through the socks inbound to example.com:80, then to 10.1.2.3:8080; both closed. */
static const char v2ray_434_tcp[] =
    "001400010101010050020b6578616d706c652e636f6d004b474554202f20485454502f312e310d0a"
    "486f73743a206578616d706c652e636f6d0d0a557365722d4167656e743a206375726c2f372e3838"
    "2e310d0a4163636570743a202a2f2a0d0a0d0a000c00020101011f90010a010203004e474554202f"
    "7820485454502f312e310d0a486f73743a2031302e312e322e333a383038300d0a557365722d4167"
    "656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a0d0a0d0a00040002030000"
    "0400010300";
/* UDP: a SOCKS5 UDP ASSOCIATE sending "ping", then "again", to 10.9.8.7:53 (no Global ID:
 * that is Xray's). */
static const char v2ray_434_udp[] =
    "000c00010101020035010a090807000470696e670004000102010005616761696e";

START_TEST(vector_v2ray_434_capture)
{
    static const char get1[] = "GET / HTTP/1.1\r\nHost: example.com\r\n"
                               "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    static const char get2[] = "GET /x HTTP/1.1\r\nHost: 10.1.2.3:8080\r\n"
                               "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    uint8_t in[512];
    size_t n = unhex(v2ray_434_tcp, in);
    recs o;
    parse_pieces(in, n, 0, &o);
    vmess_mux_frame f1 = frame(1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP);
    set_domain(&f1, "example.com", 80);
    vmess_mux_frame f2 = frame(2, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP);
    set_ip(&f2, "0a010203", 8080);
    vmess_mux_frame e2 = frame(2, VMESS_MUX_END, 0, 0);
    vmess_mux_frame e1 = frame(1, VMESS_MUX_END, 0, 0);
    ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
    ck_assert_uint_eq(o.n, 6);
    assert_frame(&o, 0, &f1, get1);
    assert_frame(&o, 2, &f2, get2);
    assert_frame(&o, 4, &e2, NULL);
    assert_frame(&o, 5, &e1, NULL);
    assert_rewrites(&o, in, n);
    recs_free(&o);

    n = unhex(v2ray_434_udp, in);
    parse_pieces(in, n, 1, &o);
    vmess_mux_frame u = frame(1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&u, "0a090807", 53);
    vmess_mux_frame k = frame(1, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    ck_assert_uint_eq(o.n, 4);
    assert_frame(&o, 0, &u, "ping");
    assert_frame(&o, 2, &k, "again");
    assert_rewrites(&o, in, n);
    recs_free(&o);
}
END_TEST

/* Captured from the installed V2Ray 4.34.0 as a server (a Shadowsocks "none" inbound, which
 * serves Mux.Cool for the target v1.mux.cool, and freedom): these frames sent to it, New 1 to
 * a TCP echo at 127.0.0.1:21221 and New 2 / Keep 2 to a UDP echo at 127.0.0.1:29922 (both
 * echo in upper case, the TCP one then closes), brought back the answer below. */
static const char v2ray_434_request[] = "000c000101010152e5017f000001000568656c6c6f"
                                        "000c000201010274e2017f000001000470696e67"
                                        "0004000202010005616761696e";
static const char v2ray_434_answer[] = "000400020201000450494e47000400010201000548454c4c4f"
                                       "0004000103000004000202010005414741494e";

START_TEST(vector_v2ray_434_server_answer)
{
    uint8_t in[128];
    vmess_mux_frame n1 = frame(1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP);
    set_ip(&n1, "7f000001", 21221);
    vmess_mux_frame n2 = frame(2, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&n2, "7f000001", 29922);
    vmess_mux_frame k2 = frame(2, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    vmess_mux_frame k1 = frame(1, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0);
    vmess_mux_frame e1 = frame(1, VMESS_MUX_END, 0, 0);
    /* Our writer makes the request byte for byte. */
    evp_buf out = {0};
    ck_assert_int_eq(vmess_mux_write(H(), &out, &n1, (const uint8_t *)"hello", 5), EVP_OK);
    ck_assert_int_eq(vmess_mux_write(H(), &out, &n2, (const uint8_t *)"ping", 4), EVP_OK);
    ck_assert_int_eq(vmess_mux_write(H(), &out, &k2, (const uint8_t *)"again", 5), EVP_OK);
    size_t n = unhex(v2ray_434_request, in);
    ck_assert_uint_eq(out.len, n);
    ck_assert_mem_eq(out.data, in, n);
    evp_buf_free(&out);
    /* Its answer: Keep frames with data (no address: that is XUDP), End when the TCP target
     * closed. */
    recs o;
    n = unhex(v2ray_434_answer, in);
    parse_pieces(in, n, 5, &o);
    ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
    ck_assert_uint_eq(o.n, 7);
    assert_frame(&o, 0, &k2, "PING");
    assert_frame(&o, 2, &k1, "HELLO");
    assert_frame(&o, 4, &e1, NULL);
    assert_frame(&o, 5, &k2, "AGAIN");
    assert_rewrites(&o, in, n);
    recs_free(&o);
}
END_TEST

/* ---- round trips ---- */

/* Every frame kind: New TCP/UDP to each address type, with and without a Global ID; Keep
 * with and without a UDP address; End with and without Error; KeepAlive; each carrying no
 * data option, empty data, one byte and 65535 bytes where the option is allowed. */
static size_t all_kinds(vmess_mux_frame *fs)
{
    size_t n = 0;
    fs[n] = frame(1, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP);
    set_domain(&fs[n++], "example.com", 443);
    fs[n] = frame(2, VMESS_MUX_NEW, 0, VMESS_MUX_NET_UDP);
    set_ip(&fs[n++], "0a000001", 53);
    fs[n] = frame(3, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP);
    set_ip(&fs[n++], "20010db8000000000000000000000001", 65535);
    fs[n] = frame(4, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_domain(&fs[n], "a", 0);
    fs[n].has_global_id = 1;
    memset(fs[n++].global_id, 0xa5, VMESS_MUX_GLOBAL_ID);
    fs[n++] = frame(5, VMESS_MUX_KEEP, 0, 0);
    fs[n] = frame(6, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP);
    set_ip(&fs[n++], "c0a80001", 5353);
    fs[n] = frame(7, VMESS_MUX_KEEP, 0, VMESS_MUX_NET_UDP);
    set_domain(&fs[n++], "dns.example", 53);
    fs[n++] = frame(8, VMESS_MUX_END, 0, 0);
    fs[n++] = frame(9, VMESS_MUX_END, VMESS_MUX_OPT_ERROR, 0);
    fs[n++] = frame(0, VMESS_MUX_KEEPALIVE, 0, 0);
    fs[n++] = frame(0xffff, VMESS_MUX_END, VMESS_MUX_OPT_ERROR | VMESS_MUX_OPT_DATA, 0);
    return n;
}

START_TEST(roundtrip_every_kind)
{
    static const size_t sizes[] = {0, 1, VMESS_MUX_DATA_MAX};
    static uint8_t payload[VMESS_MUX_DATA_MAX];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    vmess_mux_frame fs[16];
    size_t nf = all_kinds(fs);
    for (size_t i = 0; i < nf; i++) {
        for (size_t s = 0; s < 3; s++) {
            vmess_mux_frame f = fs[i];
            if (s > 0)
                f.option |= VMESS_MUX_OPT_DATA;
            int has_data = (f.option & VMESS_MUX_OPT_DATA) != 0;
            evp_buf out = {0};
            ck_assert_int_eq(vmess_mux_write(H(), &out, &f, payload, has_data ? sizes[s] : 0),
                             EVP_OK);
            /* Whole, in 1000-byte pieces, and byte by byte (the short frames only). */
            for (size_t piece = 0; piece <= 1000; piece += 1000) {
                recs o;
                parse_pieces(out.data, out.len, piece, &o);
                ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
                ck_assert(o.boundary);
                ck_assert_uint_eq(o.n, has_data ? 2 : 1);
                ck_assert_mem_eq(&o.r[0].frame, &f, sizeof f);
                if (has_data) {
                    ck_assert_uint_eq(o.r[1].len, sizes[s]);
                    if (sizes[s])
                        ck_assert_mem_eq(o.data.data, payload, sizes[s]);
                }
                if (out.len < 1000) {
                    recs bytewise;
                    parse_pieces(out.data, out.len, 1, &bytewise);
                    assert_same(&o, &bytewise);
                    recs_free(&bytewise);
                }
                recs_free(&o);
            }
            evp_buf_free(&out);
        }
    }
}
END_TEST

START_TEST(byte_by_byte_matches_whole)
{
    uint8_t in[512];
    size_t n = v2ray_stream(in, NULL);
    recs whole, bytewise, threes;
    parse_pieces(in, n, 0, &whole);
    parse_pieces(in, n, 1, &bytewise);
    parse_pieces(in, n, 3, &threes);
    assert_v2ray_events(&bytewise, "v2ray.com");
    assert_same(&whole, &bytewise);
    assert_same(&whole, &threes);
    recs_free(&whole);
    recs_free(&bytewise);
    recs_free(&threes);
}
END_TEST

/* Every prefix of the stream parses without error into a prefix of the events, and ends
 * "between frames" exactly at frame ends. */
START_TEST(every_truncation)
{
    uint8_t in[512];
    size_t ends[N_V2RAY_FRAMES];
    size_t n = v2ray_stream(in, ends);
    recs whole;
    parse_pieces(in, n, 0, &whole);
    for (size_t k = 0; k < n; k++) {
        recs o;
        parse_pieces(in, k, 0, &o);
        ck_assert_int_eq(o.rc, VMESS_MUX_MORE);
        ck_assert_uint_lt(o.n, whole.n);
        for (size_t i = 0; i < o.n; i++) {
            ck_assert_int_eq(o.r[i].kind, whole.r[i].kind);
            ck_assert_mem_eq(&o.r[i].frame, &whole.r[i].frame, sizeof o.r[i].frame);
            ck_assert_uint_eq(o.r[i].len, whole.r[i].len);
        }
        int at_end = k == 0;
        for (size_t i = 0; i < N_V2RAY_FRAMES; i++)
            at_end |= ends[i] == k;
        ck_assert_int_eq(o.boundary, at_end);
        recs_free(&o);
    }
    recs_free(&whole);
}
END_TEST

Suite *vmess_mux_frame_suite(void)
{
    Suite *s = suite_create("vmess_mux_frame");
    TCase *t = tcase_create("vectors");
    tcase_add_test(t, vector_v2ray_reader_writer);
    tcase_add_test(t, vector_xray_reader_writer);
    tcase_add_test(t, vector_xudp_keep_with_address);
    tcase_add_test(t, vector_xudp_new_with_global_id);
    tcase_add_test(t, trailing_metadata_ignored);
    tcase_add_test(t, vector_v2ray_434_capture);
    tcase_add_test(t, vector_v2ray_434_server_answer);
    suite_add_tcase(s, t);

    t = tcase_create("round trips");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, roundtrip_every_kind);
    tcase_add_test(t, byte_by_byte_matches_whole);
    tcase_add_test(t, every_truncation);
    suite_add_tcase(s, t);
    return s;
}
