/* The tls layer's sessions, a client and a server driven against each other in memory
 * through the plugin's transport ops: handshake, ALPN, 1 MiB each way in odd-sized pieces,
 * close_notify both ways, resumption, and bytes that are not TLS. */
#include "tls_fixture.h"

#include <sodium.h>

#define MIB (1024 * 1024)

static tls_certs certs;

static void setup(void)
{
    tls_certs_make(&certs);
}

static void teardown(void)
{
    tls_certs_clean(&certs);
}

/* Fills b with n random bytes. */
static void fill(evp_buf *b, size_t n)
{
    uint8_t *d = test_host_buf_reserve(b, n);
    ck_assert_ptr_nonnull(d);
    randombytes_buf(d, n);
    b->len += n;
}

START_TEST(mib_each_way_in_odd_pieces)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    l.step = 1371;    /* wire bytes per decode: records cut anywhere */
    l.app_step = 777; /* plaintext per encode */
    tls_link_run(&l);
    ck_assert_msg(tls_link_up(&l), "handshake: client \"%s\", server \"%s\"", l.cli.reason,
                  l.srv.reason);
    ck_assert_str_eq(tls_alpn_of(l.cli.sess), "h2"); /* V2Ray's tcp defaults */
    fill(&l.cli.send, MIB);
    fill(&l.srv.send, MIB + 13);
    tls_link_run(&l);
    ck_assert_uint_eq(l.srv.recv.len, MIB);
    ck_assert_uint_eq(l.cli.recv.len, MIB + 13);
    ck_assert(memcmp(l.srv.recv.data, l.cli.send.data, MIB) == 0);
    ck_assert(memcmp(l.cli.recv.data, l.srv.send.data, MIB + 13) == 0);
    ck_assert(!l.srv.got_eof && !l.cli.got_eof);

    /* close_notify one way, then data still flows the other way (half-close), then back. */
    l.cli.send_eof = 1;
    tls_link_run(&l);
    ck_assert_msg(l.srv.got_eof, "the server saw no close_notify");
    ck_assert(!l.cli.got_eof);
    fill(&l.srv.send, 4321);
    l.srv.send_eof = 1;
    tls_link_run(&l);
    ck_assert(l.cli.got_eof);
    ck_assert_uint_eq(l.cli.recv.len, MIB + 13 + 4321);
    ck_assert(memcmp(l.cli.recv.data, l.srv.send.data, l.cli.recv.len) == 0);
    ck_assert(!l.cli.failed && !l.srv.failed);
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

/* Bytes from above before the handshake wait, then go; an end before it is kept. */
START_TEST(data_and_end_before_handshake_wait)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    fill(&l.cli.send, 5000);
    l.cli.send_eof = 1;
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert_uint_eq(l.srv.recv.len, 5000);
    ck_assert(memcmp(l.srv.recv.data, l.cli.send.data, 5000) == 0);
    ck_assert(l.srv.got_eof);
    tls_link_close(&l);

    /* An end with nothing to send, before the handshake: the layer says it is not written
     * (in_eof left unconsumed), so the host keeps the socket open; close_notify once the
     * handshake is done. */
    tls_link_open(&l, cli, srv, NULL);
    evp_io io = {.in_eof = 1, .out = &l.c2s};
    ck_assert_int_eq(tls_ops()->encode(l.cli.sess, &io), EVP_OK);
    ck_assert_msg(!io.in_eof, "the end counted as written before the handshake");
    ck_assert_uint_gt(l.c2s.len, 0); /* the ClientHello */
    l.cli.send_eof = 1;
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert(l.srv.got_eof);
    ck_assert_uint_eq(l.srv.recv.len, 0);
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

/* network "http" (the h2 layer): the client offers h2 alone, so a server that speaks only
 * http/1.1 gives it nothing rather than a protocol the layer above cannot speak. */
START_TEST(http_network_offers_h2_only)
{
    char json[1024], crt[256], key[256];
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    snprintf(json, sizeof json,
             "{\"alpn\":[\"http/1.1\",\"h2\"],\"certificates\":[{\"certificateFile\":\"%s\","
             "\"keyFile\":\"%s\"}]}",
             crt, key);
    void *srv = tls_inst(1, json, "{}");
    void *cli = tls_client_ca(&certs, "example.test", NULL, "{\"network\":\"http\"}");
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert_str_eq(tls_alpn_of(l.cli.sess), "h2");
    tls_link_close(&l);
    tls_ops()->instance_free(srv);
    snprintf(json, sizeof json,
             "{\"alpn\":[\"http/1.1\"],\"certificates\":[{\"certificateFile\":\"%s\","
             "\"keyFile\":\"%s\"}]}",
             crt, key);
    srv = tls_inst(1, json, "{}");
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert_str_eq(tls_alpn_of(l.cli.sess), "");
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(ws_offers_http11_only)
{
    const char *ws = "{\"network\":\"ws\"}";
    void *srv = tls_server_files(&certs, &certs.server, "server", ws);
    /* A client offering V2Ray's general default: the ws inbound still picks http/1.1. */
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert_str_eq(tls_alpn_of(l.srv.sess), "http/1.1");
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);

    /* h2 configured on a ws inbound is dropped; a ws client offers http/1.1 only. */
    char json[1024], crt[256], key[256];
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    snprintf(json, sizeof json,
             "{\"alpn\":[\"h2\",\"http/1.1\"],\"certificates\":[{\"certificateFile\":\"%s\","
             "\"keyFile\":\"%s\"}]}",
             crt, key);
    srv = tls_inst(1, json, ws);
    ck_assert_ptr_nonnull(strstr(test_host_last_log(), "alpn \"h2\" not offered"));
    cli = tls_client_ca(&certs, "example.test", ",\"alpn\":\"h2\"", NULL);
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert_str_eq(tls_alpn_of(l.cli.sess), ""); /* nothing in common: none chosen */
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    cli = tls_client_ca(&certs, "example.test", NULL, ws);
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert_str_eq(tls_alpn_of(l.cli.sess), "http/1.1");
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

/* The key exchange is X25519 first, as Go's (V2Ray's) TLS prefers: GnuTLS's NORMAL puts
 * the NIST curves first, and P-256 was a quarter of a client's CPU per connect. */
START_TEST(key_exchange_prefers_x25519)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert(tls_link_up(&l));
    ck_assert_str_eq(gnutls_group_get_name(gnutls_group_get(((tls_session *)l.cli.sess)->gs)),
                     "X25519");
    ck_assert_str_eq(gnutls_group_get_name(gnutls_group_get(((tls_session *)l.srv.sess)->gs)),
                     "X25519");
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

/* One handshake between cli and srv; returns 1 when both ends say it was resumed. */
static int connect_once(void *cli, void *srv, int *resumed_cli)
{
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    fill(&l.srv.send, 10); /* data after the handshake carries the TLS 1.3 ticket along */
    tls_link_run(&l);
    ck_assert_msg(tls_link_up(&l), "handshake: %s / %s", l.cli.reason, l.srv.reason);
    ck_assert_uint_eq(l.cli.recv.len, 10);
    *resumed_cli = tls_session_resumed(l.cli.sess);
    int resumed_srv = tls_session_resumed(l.srv.sess);
    tls_link_close(&l);
    return resumed_srv;
}

START_TEST(second_handshake_resumes)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    int cli_resumed;
    ck_assert_int_eq(connect_once(cli, srv, &cli_resumed), 0);
    ck_assert_int_eq(cli_resumed, 0);
    ck_assert_int_eq(connect_once(cli, srv, &cli_resumed), 1);
    ck_assert_int_eq(cli_resumed, 1);

    /* A reload (a new server instance for the same tag) keeps the ticket key. */
    tls_ops()->instance_free(srv);
    srv = tls_server_files(&certs, &certs.server, "server", NULL);
    ck_assert_int_eq(connect_once(cli, srv, &cli_resumed), 1);

    /* enableSessionResumption false on the client: full handshakes. */
    void *plain = tls_client_ca(&certs, "example.test", ",\"enableSessionResumption\":false", NULL);
    ck_assert_int_eq(connect_once(plain, srv, &cli_resumed), 0);
    ck_assert_int_eq(connect_once(plain, srv, &cli_resumed), 0);
    tls_ops()->instance_free(plain);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(non_tls_bytes_refused)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    static const char *probes[] = {
        "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n", "\x05\x01\x00", /* SOCKS5 greeting */
        "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", /* a handshake record, not a hello */
    };
    static const size_t lens[] = {38, 3, 10};
    for (size_t i = 0; i < 3; i++) {
        evp_addr peer = {EVP_ADDR_IPV4, 4, 1234, {127, 0, 0, 1}};
        void *s = tls_ops()->session_new(srv, &peer);
        evp_buf out = {0}, back = {0};
        evp_io io = {0};
        io.in = (const uint8_t *)probes[i];
        io.in_len = lens[i];
        io.out = &out;
        io.back = &back;
        int rc = tls_ops()->decode(s, &io);
        if (rc == EVP_OK) { /* short input: the end of the connection settles it */
            memset(&io, 0, sizeof io);
            io.in_eof = 1;
            io.out = &out;
            io.back = &back;
            rc = tls_ops()->decode(s, &io);
        }
        ck_assert_msg(rc == EVP_ERR, "probe %zu accepted", i);
        ck_assert_msg(strncmp(io.reason, "tls: handshake: ", 16) == 0, "reason %s", io.reason);
        ck_assert_uint_eq(out.len, 0);
        tls_ops()->session_free(s);
        test_buf_free(&out);
        test_buf_free(&back);
    }
    tls_ops()->instance_free(srv);
}
END_TEST

/* Server decode over everything unread in wire; the status. */
static int decode_all(void *sess, const evp_buf *wire, size_t *pos, evp_buf *up, evp_buf *back)
{
    evp_io io = {0};
    io.in = wire->data + *pos;
    io.in_len = wire->len - *pos;
    io.out = up;
    io.back = back;
    int rc = tls_ops()->decode(sess, &io);
    ck_assert_uint_eq(io.consumed, io.in_len); /* GnuTLS keeps a partial record itself */
    *pos += io.consumed;
    return rc;
}

/* A TLS 1.2 client (a bare GnuTLS one): handshake, data, then close_notify each way in turn
 * with data still sent after the peer's. */
START_TEST(tls12_client_half_close)
{
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    evp_buf c2s = {0}, s2c = {0}, up = {0};
    size_t pos = 0;
    tls_raw raw;
    tls_raw_open(&raw, "NORMAL:-VERS-ALL:+VERS-TLS1.2", &c2s, &s2c);
    evp_addr peer = {EVP_ADDR_IPV4, 4, 1234, {127, 0, 0, 1}};
    void *s = tls_ops()->session_new(srv, &peer);
    int r = GNUTLS_E_AGAIN;
    for (int i = 0; i < 10 && r == GNUTLS_E_AGAIN; i++) {
        r = gnutls_handshake(raw.gs);
        ck_assert_int_eq(decode_all(s, &c2s, &pos, &up, &s2c), EVP_OK);
    }
    ck_assert_msg(r == 0, "handshake: %s", gnutls_strerror(r));
    ck_assert_int_eq(gnutls_protocol_get_version(((tls_session *)s)->gs), GNUTLS_TLS1_2);
    ck_assert_int_eq(gnutls_record_send(raw.gs, "hello", 5), 5);
    ck_assert_int_eq(gnutls_bye(raw.gs, GNUTLS_SHUT_WR), 0);
    ck_assert_int_eq(decode_all(s, &c2s, &pos, &up, &s2c), EVP_EOF);
    ck_assert_uint_eq(up.len, 5);
    ck_assert(memcmp(up.data, "hello", 5) == 0);
    evp_io io = {0};
    io.in = (const uint8_t *)"world";
    io.in_len = 5;
    io.in_eof = 1;
    io.out = &s2c;
    ck_assert_int_eq(tls_ops()->encode(s, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 5);
    char got[16];
    ck_assert_int_eq(gnutls_record_recv(raw.gs, got, sizeof got), 5);
    ck_assert(memcmp(got, "world", 5) == 0);
    ck_assert_int_eq(gnutls_record_recv(raw.gs, got, sizeof got), 0); /* close_notify */
    tls_ops()->session_free(s);
    tls_raw_close(&raw);
    test_buf_free(&c2s);
    test_buf_free(&s2c);
    test_buf_free(&up);
    tls_ops()->instance_free(srv);
}
END_TEST

/* One handshake of a client layer session against a bare TLS 1.2 server (tickets on);
 * returns 1 when the client says it resumed. */
static int tls12_server_once(void *cli, const gnutls_datum_t *ticket)
{
    evp_buf c2s = {0}, s2c = {0}, up = {0};
    size_t pos = 0;
    tls_raw raw;
    tls_raw_open2(&raw, "NORMAL:-VERS-ALL:+VERS-TLS1.2", &certs.server, ticket, &s2c, &c2s);
    evp_addr peer = {EVP_ADDR_DOMAIN, 12, 443, "example.test"};
    void *s = tls_ops()->session_new(cli, &peer);
    evp_io io = {0};
    io.out = &c2s;
    ck_assert_int_eq(tls_ops()->encode(s, &io), EVP_OK); /* the ClientHello */
    int r = GNUTLS_E_AGAIN;
    for (int i = 0; i < 10 && !((tls_session *)s)->done; i++) {
        r = gnutls_handshake(raw.gs);
        ck_assert_int_eq(decode_all(s, &s2c, &pos, &up, &c2s), EVP_OK);
    }
    if (r == GNUTLS_E_AGAIN)
        r = gnutls_handshake(raw.gs); /* the client's Finished */
    ck_assert_msg(r == 0, "handshake: %s", gnutls_strerror(r));
    ck_assert_int_eq(gnutls_protocol_get_version(((tls_session *)s)->gs), GNUTLS_TLS1_2);
    int resumed = tls_session_resumed(s);
    ck_assert_int_eq(resumed, gnutls_session_is_resumed(raw.gs));
    tls_ops()->session_free(s);
    tls_raw_close(&raw);
    test_buf_free(&c2s);
    test_buf_free(&s2c);
    test_buf_free(&up);
    return resumed;
}

/* TLS 1.2 hands the ticket over in the handshake: the client keeps it at once. */
START_TEST(tls12_server_resumed)
{
    uint8_t key[64];
    randombytes_buf(key, sizeof key);
    gnutls_datum_t ticket = {key, sizeof key};
    void *cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    ck_assert_int_eq(tls12_server_once(cli, &ticket), 0);
    ck_assert_int_eq(tls12_server_once(cli, &ticket), 1);
    tls_ops()->instance_free(cli);
}
END_TEST

/* The descriptor tls.so exports: a transport only. */
START_TEST(descriptor_is_transport_only)
{
    const evp_plugin *d = &tls_plugin;
    ck_assert_str_eq(d->name, "tls");
    ck_assert_ptr_null(d->inbound);
    ck_assert_ptr_null(d->outbound);
    ck_assert_ptr_nonnull(d->transport);
    ck_assert_str_eq(d->transport_schema, "tls-settings");
    ck_assert_uint_eq(d->abi_minor, EVP_ABI_MINOR);
}
END_TEST

Suite *tls_session_suite(void)
{
    Suite *s = suite_create("tls_session");
    TCase *tc = tcase_create("session");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mib_each_way_in_odd_pieces);
    tcase_add_test(tc, data_and_end_before_handshake_wait);
    tcase_add_test(tc, ws_offers_http11_only);
    tcase_add_test(tc, key_exchange_prefers_x25519);
    tcase_add_test(tc, http_network_offers_h2_only);
    tcase_add_test(tc, second_handshake_resumes);
    tcase_add_test(tc, non_tls_bytes_refused);
    tcase_add_test(tc, tls12_client_half_close);
    tcase_add_test(tc, tls12_server_resumed);
    tcase_add_test(tc, descriptor_is_transport_only);
    suite_add_tcase(s, tc);
    return s;
}
