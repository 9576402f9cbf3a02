/* The mux plugin's ABI 1.7 events (plugin/mux/conn.c) over Mux.Cool frames: one event per
 * frame whatever the pieces the stream comes in, frames with no meaning for the host as
 * EVP_MUX_NONE, an end inside a frame refused, and encode -> decode giving the events back.
 * ABI 1.8: XUDP's Global ID and packet addresses, against Xray's bytes, and nothing of them
 * for a host built before 1.8. */
#include "mux_fixture.h"

#include "../plugin/mux/conn.h"
#include "../plugin/vmess/mem.h"

/* Events as decoded, data concatenated. */
typedef struct evs {
    evp_mux_event e[16];
    size_t n;
    evp_buf data;
    size_t off[16];
    int rc; /* EVP_OK, or EVP_ERR with why */
    char why[128];
} evs;

/* Decodes in[0..len) given in pieces of `piece` bytes, with in_eof after the last; keeps
 * every event but EVP_MUX_NONE (counted in *nones when given). */
static void decode_pieces(const uint8_t *in, size_t len, size_t piece, evs *o, size_t *nones)
{
    vmess_mem_adopt(H());
    void *c = mux_conn_new(NULL, 1);
    ck_assert_ptr_nonnull(c);
    memset(o, 0, sizeof *o);
    evp_buf held = {0}; /* input given and not consumed yet */
    size_t at = 0;
    for (int done = 0; !done && o->rc == EVP_OK;) {
        size_t n = len - at < piece ? len - at : piece;
        ck_assert_int_eq(evp_buf_append(&held, in + at, n), 0);
        at += n;
        int eof = at == len;
        for (;;) {
            evp_io io;
            evp_mux_event ev;
            memset(&io, 0, sizeof io);
            io.in = held.data;
            io.in_len = held.len;
            io.in_eof = eof;
            o->rc = mux_conn_decode(c, &io, &ev);
            if (o->rc != EVP_OK) {
                snprintf(o->why, sizeof o->why, "%s", io.reason);
                break;
            }
            if (ev.kind != EVP_MUX_NONE) {
                ck_assert_uint_lt(o->n, 16);
                o->off[o->n] = o->data.len;
                o->e[o->n++] = ev;
                if (ev.len)
                    ck_assert_int_eq(evp_buf_append(&o->data, ev.data, ev.len), 0);
            } else if (nones && io.consumed) {
                (*nones)++;
            }
            evp_buf_consume(&held, io.consumed);
            if (io.consumed == 0 && ev.kind == EVP_MUX_NONE)
                break;
        }
        done = eof;
    }
    evp_buf_free(&held);
    mux_conn_free(c);
}

/* New (TCP, with data), New (UDP, no data), Keep with data, Keep without, KeepAlive, End
 * with Error, End: as V2Ray writes them. */
static const char stream_hex[] =
    "000c 0001 01 01 01 0050 01 7f000001  0003 616263" /* New tcp 127.0.0.1:80 "abc" */
    "0010 0002 01 00 02 0035 02 07 6578616d706c65"     /* New udp example:53, no data */
    "0004 0001 02 01  0002 6465"                        /* Keep 1 "de" */
    "0004 0001 02 00"                                   /* Keep 1, no data */
    "0004 0000 04 00"                                   /* KeepAlive */
    "0004 0002 03 02"                                   /* End 2, Error */
    "0004 0001 03 00";                                  /* End 1 */

static void assert_stream_events(const evs *o)
{
    ck_assert_int_eq(o->rc, EVP_OK);
    ck_assert_uint_eq(o->n, 5);
    ck_assert_int_eq(o->e[0].kind, EVP_MUX_NEW);
    ck_assert_uint_eq(o->e[0].id, 1);
    ck_assert_int_eq(o->e[0].network, EVP_NET_TCP);
    ck_assert_int_eq(o->e[0].target.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(o->e[0].target.port, 80);
    ck_assert_uint_eq(o->e[0].len, 3);
    ck_assert_mem_eq(o->data.data + o->off[0], "abc", 3);
    ck_assert_int_eq(o->e[1].kind, EVP_MUX_NEW);
    ck_assert_uint_eq(o->e[1].id, 2);
    ck_assert_int_eq(o->e[1].network, EVP_NET_UDP);
    ck_assert_int_eq(o->e[1].target.type, EVP_ADDR_DOMAIN);
    ck_assert_mem_eq(o->e[1].target.bytes, "example", 7);
    ck_assert_uint_eq(o->e[1].target.port, 53);
    ck_assert_uint_eq(o->e[1].len, 0);
    ck_assert_int_eq(o->e[2].kind, EVP_MUX_DATA);
    ck_assert_uint_eq(o->e[2].id, 1);
    ck_assert_uint_eq(o->e[2].len, 2);
    ck_assert_mem_eq(o->data.data + o->off[2], "de", 2);
    ck_assert_int_eq(o->e[3].kind, EVP_MUX_END);
    ck_assert_uint_eq(o->e[3].id, 2);
    ck_assert_int_eq(o->e[3].error, 1);
    ck_assert_int_eq(o->e[4].kind, EVP_MUX_END);
    ck_assert_uint_eq(o->e[4].id, 1);
    ck_assert_int_eq(o->e[4].error, 0);
}

START_TEST(one_event_per_frame_in_any_pieces)
{
    uint8_t in[256];
    size_t n = unhex(stream_hex, in);
    size_t pieces[] = {n, 1, 2, 3, 7, 13};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        evs o;
        size_t nones = 0;
        decode_pieces(in, n, pieces[i], &o, &nones);
        assert_stream_events(&o);
        ck_assert_uint_ge(nones, 2); /* the Keep without data and the KeepAlive */
        evp_buf_free(&o.data);
    }
}
END_TEST

START_TEST(end_inside_a_frame_is_refused)
{
    uint8_t in[64];
    size_t n = unhex("000c 0001 01 01 01 0050 01 7f000001 0003 61", in);
    evs o;
    decode_pieces(in, n, n, &o, NULL);
    ck_assert_int_eq(o.rc, EVP_ERR);
    ck_assert_ptr_nonnull(strstr(o.why, "ended inside a frame"));
    evp_buf_free(&o.data);
}
END_TEST

START_TEST(malformed_frame_is_refused_with_reason)
{
    uint8_t in[16];
    size_t n = unhex("0004 0001 05 00", in);
    evs o;
    decode_pieces(in, n, n, &o, NULL);
    ck_assert_int_eq(o.rc, EVP_ERR);
    ck_assert_str_eq(o.why, "mux: unknown session status 0x05 (session 1)");
    evp_buf_free(&o.data);
}
END_TEST

START_TEST(encoded_events_decode_back)
{
    vmess_mem_adopt(H());
    void *c = mux_conn_new(NULL, 1);
    evp_buf out = {0};
    evp_mux_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_NEW;
    ev.id = 1;
    ev.network = EVP_NET_TCP;
    ev.target.type = EVP_ADDR_IPV4;
    ev.target.len = 4;
    memcpy(ev.target.bytes, "\x7f\x00\x00\x01", 4);
    ev.target.port = 80;
    ev.data = (const uint8_t *)"abc";
    ev.len = 3;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_NEW;
    ev.id = 2;
    ev.network = EVP_NET_UDP;
    ev.target.type = EVP_ADDR_DOMAIN;
    ev.target.len = 7;
    memcpy(ev.target.bytes, "example", 8);
    ev.target.port = 53;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_DATA;
    ev.id = 1;
    ev.data = (const uint8_t *)"de";
    ev.len = 2;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_END;
    ev.id = 2;
    ev.error = 1;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    ev.id = 1;
    ev.error = 0;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    /* What V2Ray writes for the same frames (Keep-alive and empty Keep left out). */
    uint8_t want[256];
    size_t n = unhex("000c 0001 01 01 01 0050 01 7f000001  0003 616263"
                     "0010 0002 01 00 02 0035 02 07 6578616d706c65"
                     "0004 0001 02 01  0002 6465"
                     "0004 0002 03 02"
                     "0004 0001 03 00", want);
    ck_assert_uint_eq(out.len, n);
    ck_assert_mem_eq(out.data, want, n);
    evs o;
    decode_pieces(out.data, out.len, 5, &o, NULL);
    ck_assert_int_eq(o.rc, EVP_OK);
    ck_assert_uint_eq(o.n, 5);
    evp_buf_free(&o.data);
    /* What the host cannot ask for: data on an End, an id over 16 bits, data too long. */
    size_t before = out.len;
    ev.len = 1;
    ev.data = (const uint8_t *)"x";
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_ERR);
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_DATA;
    ev.id = 0x10000;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_ERR);
    ev.id = 1;
    ev.len = 65536;
    ev.data = want;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_ERR);
    ck_assert_uint_eq(out.len, before);
    evp_buf_free(&out);
    mux_conn_free(c);
}
END_TEST


/* XTLS/Xray-core common/xudp/xudp.go PacketWriter's frames (the vectors of
 * check_vmess_mux_frame.c's vector_xudp_new_with_global_id): to udp:1.1.1.1:53 with Global ID
 * 0102030405060708 "hi" opens session 0; "yo" goes in a Keep addressed to 8.8.4.4:53. */
static const char xudp_new_hex[] = "0014 0000 01 01 02 0035 01 01010101 0102030405060708 0002 6869";
static const char xudp_keep_hex[] = "000c 0000 02 01 02 0035 01 08080404 0002 796f";

static void set_v4(evp_addr *a, const char *hex, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->type = EVP_ADDR_IPV4;
    a->len = (uint8_t)unhex(hex, a->bytes);
    a->port = port;
}

START_TEST(xudp_frames_give_global_id_and_addresses)
{
    uint8_t in[128];
    size_t n = unhex(xudp_new_hex, in);
    n += unhex(xudp_keep_hex, in + n);
    evs o;
    decode_pieces(in, n, (size_t)_i + 1, &o, NULL);
    ck_assert_int_eq(o.rc, EVP_OK);
    ck_assert_uint_eq(o.n, 2);
    evp_addr want;
    set_v4(&want, "01010101", 53);
    ck_assert_int_eq(o.e[0].kind, EVP_MUX_NEW);
    ck_assert_int_eq(o.e[0].network, EVP_NET_UDP);
    ck_assert_mem_eq(&o.e[0].target, &want, sizeof want);
    ck_assert_int_eq(o.e[0].has_global_id, 1);
    ck_assert_mem_eq(o.e[0].global_id, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ck_assert_int_eq(o.e[0].peer.type, EVP_ADDR_NONE);
    set_v4(&want, "08080404", 53);
    ck_assert_int_eq(o.e[1].kind, EVP_MUX_DATA);
    ck_assert_uint_eq(o.e[1].id, 0);
    ck_assert_mem_eq(&o.e[1].peer, &want, sizeof want);
    ck_assert_int_eq(o.e[1].has_global_id, 0);
    ck_assert_uint_eq(o.data.len, 4);
    ck_assert_mem_eq(o.data.data, "hiyo", 4);
    evp_buf_free(&o.data);
}
END_TEST

START_TEST(xudp_events_encode_as_xray_writes)
{
    vmess_mem_adopt(H());
    void *c = mux_conn_new(NULL, 0);
    evp_buf out = {0};
    evp_mux_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_NEW;
    ev.network = EVP_NET_UDP;
    set_v4(&ev.target, "01010101", 53);
    ev.has_global_id = 1;
    memcpy(ev.global_id, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ev.data = (const uint8_t *)"hi";
    ev.len = 2;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_DATA;
    set_v4(&ev.peer, "08080404", 53);
    ev.data = (const uint8_t *)"yo";
    ev.len = 2;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    uint8_t want[128];
    size_t n = unhex(xudp_new_hex, want);
    n += unhex(xudp_keep_hex, want + n);
    ck_assert_uint_eq(out.len, n);
    ck_assert_mem_eq(out.data, want, n);
    evp_buf_free(&out);
    mux_conn_free(c);
}
END_TEST

/* A host built before 1.8 has a shorter event: the plugin neither writes past it on decode
 * nor reads XUDP fields on encode (a V2Ray-shaped Keep, no address). */
START_TEST(host_before_xudp_sees_no_xudp_fields)
{
    vmess_mem_adopt(H());
    mux_conn_host_abi(7);
    void *c = mux_conn_new(NULL, 1);
    uint8_t in[128];
    size_t n = unhex(xudp_new_hex, in);
    n += unhex(xudp_keep_hex, in + n);
    size_t used = 0;
    int events = 0;
    while (used < n) {
        evp_io io;
        evp_mux_event ev;
        memset(&io, 0, sizeof io);
        memset(&ev, 0xa5, sizeof ev);
        io.in = in + used;
        io.in_len = n - used;
        ck_assert_int_eq(mux_conn_decode(c, &io, &ev), EVP_OK);
        const uint8_t *tail = (const uint8_t *)&ev + offsetof(evp_mux_event, has_global_id);
        for (size_t k = 0; k < sizeof ev - offsetof(evp_mux_event, has_global_id); k++)
            ck_assert_uint_eq(tail[k], 0xa5);
        events += ev.kind != EVP_MUX_NONE;
        used += io.consumed;
    }
    ck_assert_int_eq(events, 2);
    evp_buf out = {0};
    evp_mux_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = EVP_MUX_DATA;
    set_v4(&ev.peer, "08080404", 53);
    ev.data = (const uint8_t *)"yo";
    ev.len = 2;
    ck_assert_int_eq(mux_conn_encode(c, &ev, &out), EVP_OK);
    uint8_t want[16];
    size_t wn = unhex("0004 0000 02 01 0002 796f", want);
    ck_assert_uint_eq(out.len, wn);
    ck_assert_mem_eq(out.data, want, wn);
    evp_buf_free(&out);
    mux_conn_free(c);
    mux_conn_host_abi(EVP_ABI_MINOR);
}
END_TEST

Suite *mux_events_suite(void)
{
    Suite *s = suite_create("mux_events");
    TCase *t = tcase_create("events");
    tcase_add_test(t, one_event_per_frame_in_any_pieces);
    tcase_add_test(t, end_inside_a_frame_is_refused);
    tcase_add_test(t, malformed_frame_is_refused_with_reason);
    tcase_add_test(t, encoded_events_decode_back);
    tcase_add_loop_test(t, xudp_frames_give_global_id_and_addresses, 0, 3);
    tcase_add_test(t, xudp_events_encode_as_xray_writes);
    tcase_add_test(t, host_before_xudp_sees_no_xudp_fields);
    suite_add_tcase(s, t);
    return s;
}
