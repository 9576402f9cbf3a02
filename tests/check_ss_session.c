/* The shadowsocks inbound and outbound driven against each other through their ABI hooks:
 * round trips per method (TCP and UDP), the salt filter, probes (each failure closes at
 * the same byte count as random bytes), several users on one inbound and the users ops. */
#include "ss_fixture.h"

#include <sodium.h>
#include <stdlib.h>

/* What the host says of a UDP peer's session (ABI 1.7 session_open). */
static const evp_session_info udp_peer = {.size = sizeof udp_peer, .network = EVP_NET_UDP};

static const char *methods[] = {"aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305"};

/* What an outbound to target writes for payload: the whole client stream. */
static void client_stream(void *out_inst, const evp_addr *target, const uint8_t *payload,
                          size_t n, ss_conn *cli)
{
    evp_addr dial;
    char err[128];
    cli->sess = ss_outbound_session_new(out_inst, target, EVP_NET_TCP, &dial, err, sizeof err);
    ck_assert_msg(cli->sess != NULL, "%s", err);
    ck_assert_uint_eq(dial.port, 8388);
    ck_assert_int_eq(ss_conn_run(cli, ss_outbound_encode, payload, n, 0), EVP_OK);
}

static uint8_t *pattern(size_t n, uint8_t seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed);
    return p;
}

START_TEST(test_tcp_round_trip)
{
    char json[160];
    snprintf(json, sizeof json, "{\"method\":\"%s\",\"password\":\"pw\"}", methods[_i]);
    void *in_inst = ss_test_inbound(json);
    void *out_inst = ss_test_outbound(methods[_i], "pw");
    evp_addr target = ss_test_domain("example.org", 443);
    size_t up_n = 40000, down_n = 50000; /* several chunks of at most 0x3FFF each way */
    uint8_t *up = pattern(up_n, 1), *down = pattern(down_n, 2);
    ss_conn cli = {0}, srv = {0};
    client_stream(out_inst, &target, up, up_n, &cli);
    srv.sess = ss_inbound_session_new(in_inst);
    /* Byte by byte up to the target, as the slowest network would bring them. */
    size_t i = 0;
    for (; i < cli.out.len && srv.rc != EVP_TARGET; i++)
        ss_conn_run(&srv, ss_inbound_decode, cli.out.data + i, 1, 0);
    ck_assert_int_eq(srv.rc, EVP_TARGET);
    ck_assert_int_eq(srv.target.type, EVP_ADDR_DOMAIN);
    ck_assert_mem_eq(srv.target.bytes, "example.org", 11);
    ck_assert_uint_eq(srv.target.port, 443);
    ss_conn_run(&srv, ss_inbound_decode, cli.out.data + i, cli.out.len - i, 0);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, NULL, 0, 1), EVP_EOF);
    ck_assert_uint_eq(srv.out.len, up_n);
    ck_assert_mem_eq(srv.out.data, up, up_n);
    /* The answer, through the server's encode and the client's decode. */
    ss_conn resp = {.sess = srv.sess};
    ck_assert_int_eq(ss_conn_run(&resp, ss_inbound_encode, down, down_n, 0), EVP_OK);
    ss_conn back = {.sess = cli.sess};
    size_t half = resp.out.len / 2;
    ck_assert_int_eq(ss_conn_run(&back, ss_outbound_decode, resp.out.data, half, 0), EVP_OK);
    /* A quiet spell drops the expanded ciphers mid-stream; the next call rebuilds them. */
    ss_outbound_session_idle(cli.sess);
    ss_inbound_session_idle(srv.sess);
    ck_assert_int_eq(ss_conn_run(&back, ss_outbound_decode, resp.out.data + half,
                                 resp.out.len - half, 0), EVP_OK);
    size_t sealed = resp.out.len;
    ck_assert_int_eq(ss_conn_run(&resp, ss_inbound_encode, "tail", 4, 0), EVP_OK);
    ck_assert_int_eq(ss_conn_run(&back, ss_outbound_decode, resp.out.data + sealed,
                                 resp.out.len - sealed, 0), EVP_OK);
    ck_assert_int_eq(ss_conn_run(&back, ss_outbound_decode, NULL, 0, 1), EVP_EOF);
    ck_assert_uint_eq(back.out.len, down_n + 4);
    ck_assert_mem_eq(back.out.data, down, down_n);
    ck_assert_mem_eq(back.out.data + down_n, "tail", 4);
    ss_conn_bufs_free(&resp);
    ss_conn_bufs_free(&back);
    ss_conn_free(&srv, ss_inbound_session_free);
    ss_conn_free(&cli, ss_outbound_session_free);
    free(up);
    free(down);
    ss_outbound_free(out_inst);
    ss_inbound_free(in_inst);
}
END_TEST

/* The handshake failed and the host closes within the instance's drain range, counted from
 * the first byte; nothing is ever answered. */
static void assert_closes_in_range(void *inst, const ss_conn *c, const char *what)
{
    uint32_t lo, hi;
    ss_inbound_drain_range(inst, &lo, &hi);
    ck_assert_msg(c->rc == EVP_ERR, "%s: not rejected (%d)", what, c->rc);
    ck_assert_uint_eq(c->back.len, 0);
    ck_assert_uint_eq(c->out.len, 0);
    size_t close_at = c->seen + c->drain;
    ck_assert_msg(close_at >= lo && close_at <= hi, "%s: closes after %zu bytes, range %u..%u",
                  what, close_at, lo, hi);
}

/* Feeds bytes in pieces of step until the inbound decides. */
static void feed(ss_conn *c, const uint8_t *p, size_t n, size_t step)
{
    for (size_t off = 0; off < n && c->rc != EVP_ERR && c->rc != EVP_TARGET; off += step)
        ss_conn_run(c, ss_inbound_decode, p + off, n - off < step ? n - off : step, 0);
}

START_TEST(test_replayed_salt_refused)
{
    void *in_inst = ss_test_inbound("{\"method\":\"aes-256-gcm\",\"password\":\"pw\"}");
    void *out_inst = ss_test_outbound("aes-256-gcm", "pw");
    evp_addr target = ss_test_domain("example.org", 80);
    ss_conn cli = {0}, first = {0}, again = {0};
    client_stream(out_inst, &target, (const uint8_t *)"GET /", 5, &cli);
    first.sess = ss_inbound_session_new(in_inst);
    feed(&first, cli.out.data, cli.out.len, cli.out.len);
    ck_assert_int_eq(first.rc, EVP_TARGET);
    again.sess = ss_inbound_session_new(in_inst);
    feed(&again, cli.out.data, cli.out.len, 7);
    assert_closes_in_range(in_inst, &again, "replay");
    ck_assert_msg(strstr(again.reason, "replayed salt") != NULL, "%s", again.reason);
    ss_conn_free(&again, ss_inbound_session_free);
    ss_conn_free(&first, ss_inbound_session_free);
    ss_conn_free(&cli, ss_outbound_session_free);
    ss_outbound_free(out_inst);
    ss_inbound_free(in_inst);
}
END_TEST

START_TEST(test_probes_close_like_random_bytes)
{
    void *in_inst = ss_test_inbound("{\"method\":\"chacha20-ietf-poly1305\",\"password\":\"pw\"}");
    void *out_inst = ss_test_outbound("chacha20-ietf-poly1305", "pw");
    evp_addr target = ss_test_domain("example.org", 80);
    /* Random bytes of every length up to past the first chunk's header, then fresh client
     * streams with one bit flipped in the salt, the sealed length or the first chunk. */
    for (size_t len = 1; len <= 120; len += 7) {
        uint8_t junk[120];
        randombytes_buf(junk, len);
        ss_conn c = {.sess = ss_inbound_session_new(in_inst)};
        feed(&c, junk, len, 5);
        if (len >= 32 + 18) /* enough to try the key: rejected */
            assert_closes_in_range(in_inst, &c, "random bytes");
        else
            ck_assert_int_eq(c.rc, EVP_OK); /* waits for more, as for any short input */
        ss_conn_free(&c, ss_inbound_session_free);
    }
    size_t flips[] = {0, 31, 32, 33, 49, 50, 60};
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
        ss_conn cli = {0};
        client_stream(out_inst, &target, (const uint8_t *)"hello", 5, &cli);
        cli.out.data[flips[k]] ^= 0x10;
        ss_conn c = {.sess = ss_inbound_session_new(in_inst)};
        feed(&c, cli.out.data, cli.out.len, 3);
        char what[48];
        snprintf(what, sizeof what, "bit flipped at byte %zu", flips[k]);
        assert_closes_in_range(in_inst, &c, what);
        ss_conn_free(&c, ss_inbound_session_free);
        ss_conn_free(&cli, ss_outbound_session_free);
    }
    ss_outbound_free(out_inst);
    ss_inbound_free(in_inst);
}
END_TEST

/* The host's first encode may bring no bytes at all (in NULL, the client sent nothing within
 * 100 ms): the salt and a first chunk holding the address alone go, and the server names the
 * target from them (UBSan saw memcpy from NULL here before). */
START_TEST(test_first_encode_without_bytes)
{
    void *in_inst = ss_test_inbound("{\"method\":\"aes-256-gcm\",\"password\":\"pw\"}");
    void *out_inst = ss_test_outbound("aes-256-gcm", "pw");
    evp_addr target = ss_test_domain("example.org", 80), dial;
    char err[128];
    ss_conn cli = {0}, srv = {0};
    cli.sess = ss_outbound_session_new(out_inst, &target, EVP_NET_TCP, &dial, err, sizeof err);
    ck_assert_ptr_nonnull(cli.sess);
    evp_buf back = {0};
    evp_io io = {0};
    io.out = &cli.out;
    io.back = &back;
    ck_assert_int_eq(ss_outbound_encode(cli.sess, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 0);
    ck_assert_uint_gt(cli.out.len, 32);
    srv.sess = ss_inbound_session_new(in_inst);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, cli.out.data, cli.out.len, 0),
                     EVP_TARGET);
    ck_assert_mem_eq(srv.target.bytes, "example.org", 11);
    test_buf_free(&back);
    ss_conn_free(&srv, ss_inbound_session_free);
    ss_conn_free(&cli, ss_outbound_session_free);
    ss_outbound_free(out_inst);
    ss_inbound_free(in_inst);
}
END_TEST

START_TEST(test_udp_round_trip)
{
    char json[200];
    snprintf(json, sizeof json, "{\"method\":\"%s\",\"password\":\"pw\",\"network\":\"tcp,udp\"}",
             methods[_i]);
    void *in_inst = ss_test_inbound(json);
    void *out_inst = ss_test_outbound(methods[_i], "pw");
    evp_addr target = ss_test_domain("dns.example", 53), dial;
    char err[128];
    ss_conn cli = {0}, srv = {0};
    cli.sess = ss_outbound_session_new(out_inst, &target, EVP_NET_UDP, &dial, err, sizeof err);
    ck_assert_ptr_nonnull(cli.sess);
    ck_assert_int_eq(ss_conn_run(&cli, ss_outbound_encode, "\x00\x03" "abc", 5, 0), EVP_OK);
    /* One record in, as a UDP peer's first call brings it: the datagram names the target. */
    srv.sess = ss_inbound_session_open(in_inst, &udp_peer);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, cli.out.data, cli.out.len, 0),
                     EVP_TARGET);
    ck_assert_int_eq(srv.network, EVP_NET_UDP);
    ck_assert_mem_eq(srv.target.bytes, "dns.example", 11);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, NULL, 0, 0), EVP_OK);
    ck_assert_uint_eq(srv.out.len, 5);
    ck_assert_mem_eq(srv.out.data, "\x00\x03" "abc", 5);
    /* The same datagram again is a replay: dropped in this session, refused by a new one. */
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, cli.out.data, cli.out.len, 0), EVP_OK);
    ck_assert_uint_eq(srv.out.len, 5);
    ss_conn again = {.sess = ss_inbound_session_open(in_inst, &udp_peer)};
    ck_assert_int_eq(ss_conn_run(&again, ss_inbound_decode, cli.out.data, cli.out.len, 0),
                     EVP_ERR);
    ck_assert_msg(strstr(again.reason, "replayed salt") != NULL, "%s", again.reason);
    ss_conn_free(&again, ss_inbound_session_free);
    /* A UDP peer whose first datagram opens with no key is refused, never read as a stream. */
    ss_conn junk = {.sess = ss_inbound_session_open(in_inst, &udp_peer)};
    ck_assert_int_eq(ss_conn_run(&junk, ss_inbound_decode, "\x00\x03" "abc", 5, 0), EVP_ERR);
    ck_assert_msg(strstr(junk.reason, "no user's key") != NULL, "%s", junk.reason);
    ss_conn_free(&junk, ss_inbound_session_free);
    /* A datagram for another target is dropped: the session has one (the ABI's). */
    evp_addr other = ss_test_domain("other.example", 53);
    ss_conn cli2 = {0};
    cli2.sess = ss_outbound_session_new(out_inst, &other, EVP_NET_UDP, &dial, err, sizeof err);
    ck_assert_int_eq(ss_conn_run(&cli2, ss_outbound_encode, "\x00\x01" "x", 3, 0), EVP_OK);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, cli2.out.data, cli2.out.len, 0),
                     EVP_OK);
    ck_assert_uint_eq(srv.out.len, 5);
    ss_conn_free(&cli2, ss_outbound_session_free);
    /* A forged datagram is dropped; the session goes on. */
    uint8_t forged[2 + 80] = {0, 80};
    randombytes_buf(forged + 2, 80);
    ck_assert_int_eq(ss_conn_run(&srv, ss_inbound_decode, forged, sizeof forged, 0), EVP_OK);
    ck_assert_uint_eq(srv.out.len, 5);
    ss_conn resp = {.sess = srv.sess}, back = {.sess = cli.sess};
    ck_assert_int_eq(ss_conn_run(&resp, ss_inbound_encode, "\x00\x02" "ok", 4, 0), EVP_OK);
    ck_assert_int_eq(ss_conn_run(&back, ss_outbound_decode, resp.out.data, resp.out.len, 0),
                     EVP_OK);
    ck_assert_uint_eq(back.out.len, 4);
    ck_assert_mem_eq(back.out.data, "\x00\x02" "ok", 4);
    ss_conn_bufs_free(&resp);
    ss_conn_bufs_free(&back);
    ss_conn_free(&srv, ss_inbound_session_free);
    ss_conn_free(&cli, ss_outbound_session_free);
    ss_outbound_free(out_inst);
    ss_inbound_free(in_inst);
}
END_TEST

/* Connects with (method, password) to in_inst: the session, or NULL when refused. */
static ss_conn try_user(void *in_inst, const char *method, const char *password)
{
    void *out_inst = ss_test_outbound(method, password);
    evp_addr target = ss_test_domain("example.org", 80);
    ss_conn cli = {0}, srv = {0};
    client_stream(out_inst, &target, (const uint8_t *)"hi", 2, &cli);
    srv.sess = ss_inbound_session_new(in_inst);
    feed(&srv, cli.out.data, cli.out.len, cli.out.len);
    ss_conn_free(&cli, ss_outbound_session_free);
    ss_outbound_free(out_inst);
    return srv;
}

START_TEST(test_users_by_key_and_ops)
{
    void *in_inst = ss_test_inbound(
        "{\"method\":\"aes-256-gcm\",\"clients\":[{\"password\":\"a\",\"email\":\"a@x\"},"
        "{\"password\":\"b\",\"method\":\"aes-128-gcm\",\"email\":\"b@x\"}]}");
    ss_conn c = try_user(in_inst, "aes-128-gcm", "b");
    ck_assert_int_eq(c.rc, EVP_TARGET);
    ck_assert_str_eq(ss_inbound_session_user(c.sess), "b@x");
    ss_conn_free(&c, ss_inbound_session_free);
    c = try_user(in_inst, "chacha20-ietf-poly1305", "c");
    ck_assert_int_eq(c.rc, EVP_ERR);
    ss_conn_free(&c, ss_inbound_session_free);

    char err[128] = "";
    ck_assert_int_eq(ss_inbound_users_add(in_inst, "{\"password\":\"c\",\"method\":"
                     "\"chacha20-ietf-poly1305\",\"email\":\"c@x\"}", err, sizeof err), 0);
    ck_assert_int_eq(ss_inbound_users_add(in_inst, "{\"password\":\"d\",\"email\":\"c@x\"}",
                                          err, sizeof err), -1);
    c = try_user(in_inst, "chacha20-ietf-poly1305", "c");
    ck_assert_int_eq(c.rc, EVP_TARGET);
    ck_assert_str_eq(ss_inbound_session_user(c.sess), "c@x");
    char *list = ss_inbound_users_list(in_inst, 0);
    ck_assert_ptr_nonnull(strstr(list, "\"c@x\""));
    ck_assert_ptr_null(strstr(list, "password")); /* secrets stay out of listings */
    free(list);
    ck_assert_int_eq(ss_inbound_users_remove(in_inst, "c@x", err, sizeof err), 0);
    /* The running session keeps its user; a new one with that key is refused. */
    ck_assert_str_eq(ss_inbound_session_user(c.sess), "c@x");
    ss_conn_free(&c, ss_inbound_session_free);
    c = try_user(in_inst, "chacha20-ietf-poly1305", "c");
    ck_assert_int_eq(c.rc, EVP_ERR);
    ss_conn_free(&c, ss_inbound_session_free);
    ck_assert_int_eq(ss_inbound_users_remove(in_inst, "nobody", err, sizeof err), -1);
    ck_assert_int_eq(ss_inbound_users_replace(in_inst, "[{\"password\":\"e\",\"email\":\"e\"}]",
                                              err, sizeof err), 0);
    c = try_user(in_inst, "aes-256-gcm", "e");
    ck_assert_int_eq(c.rc, EVP_TARGET);
    ss_conn_free(&c, ss_inbound_session_free);
    ss_inbound_free(in_inst);
}
END_TEST

START_TEST(test_old_host_refused)
{
    evp_host old = *test_host_get();
    old.abi_minor = 2; /* no counted memory (1.3) */
    old.size = offsetof(evp_host, mem_alloc);
    char err[128] = "";
    evp_instance_args a = {sizeof a, "x", "{\"method\":\"aes-128-gcm\",\"password\":\"p\"}", 0};
    ck_assert_ptr_null(ss_inbound_new(&old, &a, err, sizeof err));
    ck_assert_msg(strstr(err, "ABI >= 1.3") != NULL, "%s", err);
    err[0] = '\0';
    a.settings_json = "{\"servers\":[{\"address\":\"::1\",\"port\":1,\"method\":"
                      "\"aes-128-gcm\",\"password\":\"p\"}]}";
    ck_assert_ptr_null(ss_outbound_new(&old, &a, err, sizeof err));
    ck_assert_msg(strstr(err, "ABI >= 1.3") != NULL, "%s", err);
}
END_TEST

START_TEST(test_settings_checks)
{
    char err[200] = "";
    const char *bad[] = {
        "{\"clients\":[{\"password\":\"a\"}]}", /* no method anywhere */
        "{\"method\":\"aes-128-gcm\",\"clients\":[{\"password\":\"a\",\"email\":\"x\"},"
        "{\"password\":\"b\",\"email\":\"x\"}]}", /* one email twice */
        "{\"method\":\"aes-128-gcm\",\"password\":\"\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evp_instance_args a = {sizeof a, "x", bad[i], 0};
        err[0] = '\0';
        ck_assert_msg(ss_inbound_new(test_host_get(), &a, err, sizeof err) == NULL, "%s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    /* Sessions take the servers in turn. */
    evp_instance_args o = {sizeof o, "x", "{\"servers\":["
        "{\"address\":\"127.0.0.1\",\"port\":1,\"method\":\"aes-128-gcm\",\"password\":\"p\"},"
        "{\"address\":\"example.org\",\"port\":2,\"method\":\"aes-128-gcm\",\"password\":\"p\"}]}",
        0};
    void *out = ss_outbound_new(test_host_get(), &o, err, sizeof err);
    ck_assert_msg(out != NULL, "%s", err);
    evp_addr target = ss_test_domain("t.example", 80), dial;
    for (int k = 0; k < 4; k++) {
        void *sess = ss_outbound_session_new(out, &target, EVP_NET_TCP, &dial, err, sizeof err);
        ck_assert_ptr_nonnull(sess);
        ck_assert_uint_eq(dial.port, k % 2 ? 2 : 1);
        ck_assert_int_eq(dial.type, k % 2 ? EVP_ADDR_DOMAIN : EVP_ADDR_IPV4);
        ss_outbound_session_free(sess);
    }
    ss_outbound_free(out);
}
END_TEST

Suite *ss_session_suite(void)
{
    Suite *s = suite_create("ss_session");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_tcp_round_trip, 0, 3);
    tcase_add_test(tc, test_replayed_salt_refused);
    tcase_add_test(tc, test_probes_close_like_random_bytes);
    tcase_add_test(tc, test_first_encode_without_bytes);
    tcase_add_loop_test(tc, test_udp_round_trip, 0, 3);
    tcase_add_test(tc, test_users_by_key_and_ops);
    tcase_add_test(tc, test_old_host_refused);
    tcase_add_test(tc, test_settings_checks);
    suite_add_tcase(s, tc);
    return s;
}
