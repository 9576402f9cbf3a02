/* The transport stack object (core/session/transport_stack.c) with test layers
 * (tests/test_layers.h) two and three deep, a client stack and a server stack joined in
 * memory: byte order, handshake hold-back, `back` bytes passing the layers below,
 * half-close both ways, EVP_ERR, EVP_TARGET, bytes queued at any layer, large transfers.
 * Also the module checks for transport-only plugins. */
#include "../plugin/mux/conn.h"
#include "module.h"
#include "test_layers.h"
#include "transport_stack.h"
#include "transports.h"

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TL_OPS(xor_ops, tl_xor, tl_xor);
TL_OPS(frame_ops, tl_frame_decode, tl_frame_encode);
TL_OPS(addr_ops, tl_addr_decode, tl_copy);
TL_PLUGIN(xor_desc, "xor", xor_ops);
TL_PLUGIN(frame_desc, "frame", frame_ops);
TL_PLUGIN(addr_desc, "addr", addr_ops);

static evp_module *xor_mod, *frame_mod, *addr_mod;
static evp_transports *client_t, *server_t;
static evp_tstack *cs, *ss;            /* client and server stacks */
static evp_qbuf cr, cw, sr, sw;        /* their rbuf/wbuf (the protocols' view) */

static evp_module *builtin(const evp_plugin *d)
{
    char err[256] = "";
    evp_module *m = evp_module_builtin(d, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* Layers of mods (bottom first) for one side. */
static evp_transports *layers(int server, evp_module *const *mods, size_t n)
{
    evp_layer_conf lc[4];
    char err[256] = "";
    memset(lc, 0, sizeof lc);
    for (size_t i = 0; i < n; i++) {
        lc[i].name = mods[i]->desc->name;
        lc[i].where = "testSettings";
        lc[i].settings_json = (char *)"{}";
        lc[i].mod = mods[i];
    }
    evp_transports *t = evp_transports_new(lc, n, server, "t", "{}", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

static void setup(void)
{
    xor_mod = builtin(&xor_desc);
    frame_mod = builtin(&frame_desc);
    addr_mod = builtin(&addr_desc);
    memset(&cr, 0, sizeof cr);
    memset(&cw, 0, sizeof cw);
    memset(&sr, 0, sizeof sr);
    memset(&sw, 0, sizeof sw);
    cs = ss = NULL;
    client_t = server_t = NULL;
}

static void teardown(void)
{
    evp_tstack_free(cs);
    evp_tstack_free(ss);
    evp_transports_free(client_t);
    evp_transports_free(server_t);
    evp_module_unref(xor_mod);
    evp_module_unref(frame_mod);
    evp_module_unref(addr_mod);
    evp_qbuf_free(&cr);
    evp_qbuf_free(&cw);
    evp_qbuf_free(&sr);
    evp_qbuf_free(&sw);
}

/* Both sides xor (bottom) then frame. */
static void start_pair(void)
{
    evp_module *mods[] = {xor_mod, frame_mod};
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 1};
    client_t = layers(0, mods, 2);
    server_t = layers(1, mods, 2);
    cs = evp_tstack_new(client_t, &peer);
    ss = evp_tstack_new(server_t, &peer);
    ck_assert_ptr_nonnull(cs);
    ck_assert_ptr_nonnull(ss);
}

static void put(evp_qbuf *q, const void *p, size_t n)
{
    uint8_t *dst = evp_qbuf_room(q, n);
    ck_assert_ptr_nonnull(dst);
    memcpy(dst, p, n);
    q->b.len += n;
}

/* Moves at most max bytes of from's raw_out into to's raw_in; how many. */
static size_t shuttle(evp_tstack *from, evp_tstack *to, size_t max)
{
    evp_qbuf *out = evp_tstack_raw_out(from);
    size_t n = evp_qbuf_len(out) < max ? evp_qbuf_len(out) : max;
    put(evp_tstack_raw_in(to), evp_qbuf_head(out), n);
    evp_qbuf_take(out, n);
    return n;
}

static void assert_holds(const evp_qbuf *q, const char *want)
{
    ck_assert_uint_eq(evp_qbuf_len(q), strlen(want));
    ck_assert_int_eq(memcmp(evp_qbuf_head(q), want, strlen(want)), 0);
}

/* Runs the handshake: client HELLO, server OK. */
static void handshake(void)
{
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    shuttle(ss, cs, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 0), EVP_OK);
}

START_TEST(test_handshake_holds_back_and_keeps_order)
{
    start_pair();
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    evp_qbuf *raw = evp_tstack_raw_out(cs);
    /* HELLO went through the xor layer below the frame layer. */
    ck_assert_uint_eq(evp_qbuf_len(raw), strlen(TL_HELLO));
    ck_assert_int_eq(evp_qbuf_head(raw)[0], 'H' ^ 0x5A);
    /* Until OK, what the protocol writes stays where it is. */
    put(&cw, "abc", 3);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 0), EVP_OK);
    ck_assert_uint_eq(evp_qbuf_len(&cw), 3);
    ck_assert_uint_eq(evp_qbuf_len(raw), strlen(TL_HELLO));
    shuttle(cs, ss, SIZE_MAX);
    /* The server's OK (a `back` of its decode) goes out before what its protocol wrote. */
    put(&sw, "srv1", 4);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    evp_qbuf *sraw = evp_tstack_raw_out(ss);
    const uint8_t want[] = {'O' ^ 0x5A, 'K' ^ 0x5A, '\n' ^ 0x5A, 0 ^ 0x5A, 4 ^ 0x5A,
                            's' ^ 0x5A, 'r' ^ 0x5A, 'v' ^ 0x5A, '1' ^ 0x5A};
    ck_assert_uint_eq(evp_qbuf_len(sraw), sizeof want);
    ck_assert_int_eq(memcmp(evp_qbuf_head(sraw), want, sizeof want), 0);
    ck_assert_uint_eq(evp_qbuf_len(&sr), 0);
    shuttle(ss, cs, SIZE_MAX);
    /* The client's decode sees OK and retries its held-back input. */
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 0), EVP_OK);
    assert_holds(&cr, "srv1");
    ck_assert_uint_eq(evp_qbuf_len(&cw), 0);
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    assert_holds(&sr, "abc");
}
END_TEST

START_TEST(test_half_close_both_ways)
{
    start_pair();
    handshake();
    /* The client's protocol ends: each layer writes its end, then the socket may be shut. */
    put(&cw, "last", 4);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 1), EVP_OK);
    ck_assert(evp_tstack_down_ended(cs));
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    assert_holds(&sr, "last");
    ck_assert(evp_tstack_top_eof(ss)); /* the frame layer's own end marker */
    /* The other way still runs. */
    ck_assert(!evp_tstack_down_ended(ss));
    put(&sw, "reply", 5);
    ck_assert_int_eq(evp_tstack_encode(ss, &sw, 0), EVP_OK);
    shuttle(ss, cs, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 1), EVP_OK);
    assert_holds(&cr, "reply");
    ck_assert(!evp_tstack_top_eof(cs));
    /* A bare FIN (no end marker) ends the stream above too. */
    evp_tstack_raw_eof(cs);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 1), EVP_OK);
    ck_assert(evp_tstack_top_eof(cs));
}
END_TEST

/* The protocol above ends (nothing queued) before the frame layer's handshake is done: the
 * layer cannot write its end marker yet and says so (it leaves in_eof unconsumed), so the
 * stack does not count its end as written - the socket is not to be shut, which would cut
 * the handshake - and writes the end marker once the server's OK has come. */
START_TEST(test_end_before_handshake_waits_for_it)
{
    start_pair();
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 1), EVP_OK);
    ck_assert_msg(!evp_tstack_down_ended(cs), "the end counted as written before the handshake");
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    ck_assert(!evp_tstack_top_eof(ss));
    shuttle(ss, cs, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 1), EVP_OK); /* OK: the end goes now */
    ck_assert(evp_tstack_down_ended(cs));
    const uint8_t end_marker[] = {0 ^ 0x5A, 0 ^ 0x5A};
    evp_qbuf *raw = evp_tstack_raw_out(cs);
    ck_assert_uint_eq(evp_qbuf_len(raw), sizeof end_marker);
    ck_assert_int_eq(memcmp(evp_qbuf_head(raw), end_marker, sizeof end_marker), 0);
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    ck_assert_msg(evp_tstack_top_eof(ss), "the server never saw the client's end marker");
    ck_assert_uint_eq(evp_qbuf_len(&sr), 0);
}
END_TEST

/* A held end whose handshake can never finish (the socket's read side ended first) does
 * not keep the stack from ending: nothing could ever write it. */
START_TEST(test_held_end_given_up_when_input_ends)
{
    start_pair();
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 1), EVP_OK);
    ck_assert(!evp_tstack_down_ended(cs));
    evp_tstack_raw_eof(cs);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 1), EVP_OK);
    ck_assert(evp_tstack_top_eof(cs));
    ck_assert_msg(evp_tstack_down_ended(cs), "the stack waits for an end nothing can free");
}
END_TEST

START_TEST(test_layer_error_names_layer)
{
    start_pair();
    const char bad[] = {'H' ^ 0x5A, 'E' ^ 0x5A, 'L' ^ 0x5A, 'L' ^ 0x5A, 'X' ^ 0x5A};
    put(evp_tstack_raw_in(ss), bad, sizeof bad);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_ERR);
    const char *layer;
    uint32_t drain;
    const char *reason = evp_tstack_error(ss, &layer, &drain);
    ck_assert_str_eq(layer, "frame");
    ck_assert_str_eq(reason, "bad greeting");
    ck_assert_uint_eq(drain, 7);
    ck_assert(evp_tstack_down_ended(ss)); /* nothing more goes down: the socket may shut */
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_ERR); /* never called again */
}
END_TEST

START_TEST(test_target_names_client)
{
    evp_module *smods[] = {addr_mod, xor_mod, frame_mod}, *cmods[] = {xor_mod, frame_mod};
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 1}, got;
    server_t = layers(1, smods, 3);
    client_t = layers(0, cmods, 2);
    ss = evp_tstack_new(server_t, &peer);
    cs = evp_tstack_new(client_t, &peer);
    ck_assert_int_eq(evp_tstack_peer(ss, &got), 0);
    const uint8_t header[] = {'P', 192, 0, 2, 7, 0x11, 0xD7};
    put(evp_tstack_raw_in(ss), header, sizeof header);
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    shuttle(cs, ss, SIZE_MAX); /* the header and HELLO arrive in one read */
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    ck_assert_int_eq(evp_tstack_peer(ss, &got), 1);
    ck_assert_uint_eq(got.type, EVP_ADDR_IPV4);
    ck_assert_int_eq(memcmp(got.bytes, header + 1, 4), 0);
    ck_assert_uint_eq(got.port, 4567);
    ck_assert_uint_eq(evp_qbuf_len(evp_tstack_raw_out(ss)), strlen(TL_OK)); /* HELLO was read */
}
END_TEST

START_TEST(test_target_on_client_stack_fails)
{
    evp_module *mods[] = {addr_mod};
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 1};
    client_t = layers(0, mods, 1);
    cs = evp_tstack_new(client_t, &peer);
    const uint8_t header[] = {'P', 192, 0, 2, 7, 0, 1};
    put(evp_tstack_raw_in(cs), header, sizeof header);
    ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 0), EVP_ERR);
    const char *layer;
    uint32_t drain;
    ck_assert_ptr_nonnull(strstr(evp_tstack_error(cs, &layer, &drain), "dialling stack"));
    ck_assert_str_eq(layer, "addr");
}
END_TEST

START_TEST(test_bytes_held_at_any_layer_count)
{
    /* frame at the bottom, xor above: xor passes the protocol's bytes down at once, and they
     * wait in the queue below it until the frame layer's handshake is done. */
    evp_module *mods[] = {frame_mod, xor_mod};
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 1};
    client_t = layers(0, mods, 2);
    cs = evp_tstack_new(client_t, &peer);
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    put(&cw, "abcdef", 6);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 0), EVP_OK);
    ck_assert_uint_eq(evp_qbuf_len(&cw), 0);
    ck_assert_uint_eq(evp_tstack_queued_down(cs), 6 + strlen(TL_HELLO));
    ck_assert_uint_eq(evp_tstack_held(cs), 6 + strlen(TL_HELLO));
    /* Ending now: the end waits behind the held bytes, so the stack has not ended. */
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 1), EVP_OK);
    ck_assert(!evp_tstack_down_ended(cs));
}
END_TEST

#define BIG (3 * 1024 * 1024 + 77)

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

START_TEST(test_large_both_ways_in_pieces)
{
    start_pair();
    handshake();
    uint8_t *up = pattern(BIG, 1), *down = pattern(BIG, 2);
    size_t up_fed = 0, down_fed = 0, up_got = 0, down_got = 0;
    for (int turn = 0; turn < 100000 && (up_got < BIG || down_got < BIG); turn++) {
        /* Feed a little, move odd-sized pieces, take what arrived. */
        size_t n = BIG - up_fed < 40000 ? BIG - up_fed : 40000;
        put(&cw, up + up_fed, n);
        up_fed += n;
        n = BIG - down_fed < 50000 ? BIG - down_fed : 50000;
        put(&sw, down + down_fed, n);
        down_fed += n;
        ck_assert_int_eq(evp_tstack_encode(cs, &cw, up_fed == BIG), EVP_OK);
        ck_assert_int_eq(evp_tstack_encode(ss, &sw, down_fed == BIG), EVP_OK);
        shuttle(cs, ss, 33333);
        shuttle(ss, cs, 27777);
        ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, down_fed == BIG), EVP_OK);
        ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, up_fed == BIG), EVP_OK);
        ck_assert_int_eq(memcmp(evp_qbuf_head(&sr), up + up_got, evp_qbuf_len(&sr)), 0);
        up_got += evp_qbuf_len(&sr);
        evp_qbuf_take(&sr, evp_qbuf_len(&sr));
        ck_assert_int_eq(memcmp(evp_qbuf_head(&cr), down + down_got, evp_qbuf_len(&cr)), 0);
        down_got += evp_qbuf_len(&cr);
        evp_qbuf_take(&cr, evp_qbuf_len(&cr));
    }
    ck_assert_uint_eq(up_got, BIG);
    ck_assert_uint_eq(down_got, BIG);
    ck_assert(evp_tstack_top_eof(ss));
    ck_assert(evp_tstack_top_eof(cs));
    ck_assert_uint_eq(evp_tstack_held(cs) + evp_tstack_held(ss), 0);
    free(up);
    free(down);
}
END_TEST

/* ---- module checks ---- */

static const evp_transport_ops no_decode = {.size = sizeof(evp_transport_ops),
                                            .instance_new = tl_inst_new,
                                            .instance_free = tl_inst_free,
                                            .session_new = tl_sess_new,
                                            .session_free = tl_sess_free,
                                            .encode = tl_xor};
TL_PLUGIN(lacking_desc, "lacking", no_decode);
static const evp_plugin empty_desc = {.abi_major = EVP_ABI_MAJOR, .abi_minor = EVP_ABI_MINOR,
                                      .size = sizeof(evp_plugin), .name = "empty"};

/* An EVP_TR_CONN layer (the real h2.so): its connection outlives the stream. After the
 * client's end the server's stack still decodes (window updates), so an answer larger than
 * the client's 1 MiB window gets through; neither stack ends its socket before the stream
 * has ended both ways. */
START_TEST(test_conn_layer_reads_after_its_end)
{
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/h2.so", getenv("EVP_BUILD") ? getenv("EVP_BUILD")
                                                                        : "build");
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(so != NULL, "%s", dlerror());
    evp_plugin_entry_fn entry = (evp_plugin_entry_fn)dlsym(so, EVP_ENTRY_SYMBOL);
    evp_module *h2 = builtin(entry());
    client_t = layers(0, &h2, 1);
    server_t = layers(1, &h2, 1);
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 1};
    cs = evp_tstack_new(client_t, &peer);
    ss = evp_tstack_new(server_t, &peer);
    ck_assert_int_eq(evp_tstack_start(cs), EVP_OK);
    put(&cw, "hello", 5);
    ck_assert_int_eq(evp_tstack_encode(cs, &cw, 1), EVP_OK);
    shuttle(cs, ss, SIZE_MAX);
    ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 0), EVP_OK);
    assert_holds(&sr, "hello");
    ck_assert(evp_tstack_top_eof(ss));
    ck_assert(evp_tstack_reading(ss));
    ck_assert(!evp_tstack_down_ended(cs)); /* the answer has not come yet */
    size_t answer = 3 * 1024 * 1024;
    uint8_t *big = calloc(1, answer);
    put(&sw, big, answer);
    for (int i = 0; i < 1000 && !(evp_tstack_down_ended(cs) && evp_tstack_down_ended(ss)); i++) {
        ck_assert_int_eq(evp_tstack_encode(ss, &sw, 1), EVP_OK);
        shuttle(ss, cs, SIZE_MAX);
        ck_assert_int_eq(evp_tstack_decode(cs, &cr, &cw, 1), EVP_OK);
        shuttle(cs, ss, SIZE_MAX);
        ck_assert_int_eq(evp_tstack_decode(ss, &sr, &sw, 1), EVP_OK);
    }
    ck_assert_uint_eq(evp_qbuf_len(&cr), answer);
    ck_assert(evp_tstack_top_eof(cs));
    ck_assert(evp_tstack_down_ended(cs) && evp_tstack_down_ended(ss));
    free(big);
    evp_tstack_free(cs);
    evp_tstack_free(ss);
    cs = ss = NULL;
    evp_module_unref(h2);
}
END_TEST

START_TEST(test_module_checks_transport_ops)
{
    char err[256] = "";
    ck_assert_int_eq(evp_module_check(&xor_desc, err, sizeof err), 0);
    ck_assert_ptr_nonnull(evp_module_trops(xor_mod));
    ck_assert_ptr_null(evp_module_inops(xor_mod));
    ck_assert_uint_eq(evp_module_trops(xor_mod)->size, sizeof(evp_transport_ops));
    ck_assert_int_eq(evp_module_check(&lacking_desc, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "transport ops"));
    ck_assert_int_eq(evp_module_check(&empty_desc, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no inbound, outbound, transport or mux"));
    /* ABI 1.7: a multiplexer needs a target to be named by, unless it is a transport layer's. */
    evp_mux_ops mux = {.size = sizeof mux, .target = "v1.mux.cool", .max_data = 1,
                       .conn_new = mux_conn_new, .conn_free = mux_conn_free,
                       .decode = mux_conn_decode, .encode = mux_conn_encode};
    evp_plugin muxd = empty_desc;
    muxd.mux = &mux;
    ck_assert_int_eq(evp_module_check(&muxd, err, sizeof err), 0);
    mux.target = NULL;
    ck_assert_int_eq(evp_module_check(&muxd, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "a target, unless the plugin is a transport layer"));
    muxd.transport = xor_desc.transport;
    ck_assert_int_eq(evp_module_check(&muxd, err, sizeof err), 0);
    /* A 1.5 descriptor ends before `transport`: whatever lies past its size is not read. */
    evp_plugin old = xor_desc;
    old.abi_minor = 5;
    old.size = (uint32_t)offsetof(evp_plugin, transport);
    ck_assert_ptr_null(evp_plugin_transport(&old));
    ck_assert_int_eq(evp_module_check(&old, err, sizeof err), -1);
}
END_TEST

Suite *transport_stack_suite(void)
{
    Suite *s = suite_create("transport_stack");
    TCase *tc = tcase_create("stack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_holds_back_and_keeps_order);
    tcase_add_test(tc, test_half_close_both_ways);
    tcase_add_test(tc, test_end_before_handshake_waits_for_it);
    tcase_add_test(tc, test_held_end_given_up_when_input_ends);
    tcase_add_test(tc, test_layer_error_names_layer);
    tcase_add_test(tc, test_target_names_client);
    tcase_add_test(tc, test_target_on_client_stack_fails);
    tcase_add_test(tc, test_bytes_held_at_any_layer_count);
    tcase_add_test(tc, test_large_both_ways_in_pieces);
    tcase_add_test(tc, test_module_checks_transport_ops);
    tcase_add_test(tc, test_conn_layer_reads_after_its_end);
    suite_add_tcase(s, tc);
    return s;
}
