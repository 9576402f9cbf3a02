/* The tls layer's certificate choices and checks: SNI picks the server's certificate, the
 * client verifies the name (a domain, or the dialled IP address), the issuer and the dates,
 * allowInsecure and usage "verify" as V2Ray reads them, pinned chains, TLS 1.2 minimum. */
#include "tls_fixture.h"

#include <gnutls/crypto.h>
#include <sodium.h>

static tls_certs certs;

static void setup(void)
{
    tls_certs_make(&certs);
}

static void teardown(void)
{
    tls_certs_clean(&certs);
}

/* A server instance with the given certificates inline, each {cert, key}. */
static void *server_inline(const tls_pem *const *pems, size_t n)
{
    static char json[32768];
    size_t len = (size_t)snprintf(json, sizeof json, "{\"certificates\":[");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(json + len, sizeof json - len, "%s{\"certificate\":", i ? "," : "");
        tls_json_lines(json, sizeof json, pems[i]->cert);
        len = strlen(json);
        len += (size_t)snprintf(json + len, sizeof json - len, ",\"key\":");
        tls_json_lines(json, sizeof json, pems[i]->key);
        len = strlen(json);
        len += (size_t)snprintf(json + len, sizeof json - len, "}");
    }
    snprintf(json + len, sizeof json - len, "]}");
    return tls_inst(1, json, NULL);
}

/* Connects cli to srv (the client dialled peer, NULL: example.test); 1 when both ends are
 * up, else 0 with the client's reason in reason. peer_pem: the certificate the client must
 * have been shown (NULL: not checked). */
static int try_link(void *cli, void *srv, const evp_addr *peer, const char *peer_pem, char *reason)
{
    tls_link l;
    tls_link_open(&l, cli, srv, peer);
    tls_link_run(&l);
    int up = tls_link_up(&l) && !l.cli.failed && !l.srv.failed;
    snprintf(reason, 128, "%s", l.cli.reason);
    if (up && peer_pem)
        ck_assert_msg(tls_peer_is(l.cli.sess, peer_pem), "another certificate was shown");
    if (!up) /* the server learns why from the client's alert */
        ck_assert_msg(l.srv.failed, "the server did not see the refusal");
    tls_link_close(&l);
    return up;
}

/* A server with pem alone, a client trusting the test CA with serverName name: refused with
 * the client's reason want. */
static void expect_refused(const tls_pem *pem, const char *name, const char *want)
{
    const tls_pem *pems[] = {pem};
    void *srv = server_inline(pems, 1);
    void *cli = tls_client_ca(&certs, name, NULL, NULL);
    char reason[128];
    ck_assert(!try_link(cli, srv, NULL, NULL, reason));
    ck_assert_str_eq(reason, want);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}

START_TEST(sni_picks_the_certificate)
{
    const tls_pem *pems[] = {&certs.server, &certs.other};
    void *srv = server_inline(pems, 2);
    char reason[128];
    void *cli = tls_client_ca(&certs, "other.test", NULL, NULL);
    ck_assert_msg(try_link(cli, srv, NULL, certs.other.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    cli = tls_client_ca(&certs, "example.test", NULL, NULL);
    ck_assert_msg(try_link(cli, srv, NULL, certs.server.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    /* No serverName: the dialled domain is the SNI. */
    cli = tls_client_ca(&certs, NULL, NULL, NULL);
    evp_addr other = {EVP_ADDR_DOMAIN, 10, 443, "other.test"};
    ck_assert_msg(try_link(cli, srv, &other, certs.other.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    /* A name no certificate has: the first one, as V2Ray (Go) answers. */
    cli = tls_inst(0, "{\"serverName\":\"nomatch.test\",\"allowInsecure\":true}", NULL);
    ck_assert_msg(try_link(cli, srv, NULL, certs.server.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(wrong_name_refused)
{
    expect_refused(&certs.server, "wrong.test",
                   "tls: handshake: certificate of wrong.test refused: name mismatch");
}
END_TEST

START_TEST(dialled_ip_verified_without_sni)
{
    const tls_pem *pems[] = {&certs.server};
    void *srv = server_inline(pems, 1);
    void *cli = tls_client_ca(&certs, NULL, NULL, NULL);
    char reason[128];
    evp_addr ip = {EVP_ADDR_IPV4, 4, 443, {127, 0, 0, 1}};
    tls_link l;
    tls_link_open(&l, cli, srv, &ip);
    tls_link_run(&l);
    ck_assert_msg(tls_link_up(&l), "%s", l.cli.reason);
    char name[256];
    size_t n = sizeof name;
    unsigned type;
    ck_assert_int_eq(gnutls_server_name_get(((tls_session *)l.srv.sess)->gs, name, &n, &type, 0),
                     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE); /* no SNI for an address */
    tls_link_close(&l);
    evp_addr other_ip = {EVP_ADDR_IPV4, 4, 443, {127, 0, 0, 2}};
    ck_assert(!try_link(cli, srv, &other_ip, NULL, reason));
    ck_assert_str_eq(reason, "tls: handshake: certificate of 127.0.0.2 refused: name mismatch");
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(untrusted_issuer_refused_unless_allowed)
{
    const tls_pem *pems[] = {&certs.server};
    void *srv = server_inline(pems, 1);
    char reason[128];
    /* The system's CAs only: the test CA is unknown. */
    void *cli = tls_inst(0, "{\"serverName\":\"example.test\"}", NULL);
    ck_assert(!try_link(cli, srv, NULL, NULL, reason));
    ck_assert_str_eq(reason,
                     "tls: handshake: certificate of example.test refused: issuer not trusted");
    tls_ops()->instance_free(cli);
    /* allowInsecure: accepted, and said once when the instance is made. */
    cli = tls_inst(0, "{\"serverName\":\"wrong.test\",\"allowInsecure\":true}", NULL);
    ck_assert_ptr_nonnull(strstr(test_host_last_log(), "allowInsecure"));
    ck_assert_msg(try_link(cli, srv, NULL, certs.server.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(self_signed_refused_unless_listed)
{
    expect_refused(&certs.self, "example.test",
                   "tls: handshake: certificate of example.test refused: issuer not trusted");
    const tls_pem *pems[] = {&certs.self};
    void *srv = server_inline(pems, 1);
    char reason[128];
    /* The certificate itself listed with usage "verify": trusted. */
    char json[8192] = "{\"serverName\":\"example.test\",\"disableSystemRoot\":true,"
                      "\"certificates\":[{\"usage\":\"verify\",\"certificate\":";
    tls_json_lines(json, sizeof json, certs.self.cert);
    strcat(json, "}]}");
    void *cli = tls_inst(0, json, NULL);
    ck_assert_msg(try_link(cli, srv, NULL, certs.self.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

START_TEST(expired_refused)
{
    expect_refused(&certs.expired, "example.test",
                   "tls: handshake: certificate of example.test refused: expired");
}
END_TEST

/* pinnedPeerCertificateChainSha256 for a one-certificate chain: base64(sha256(DER)). */
static void pin_of(const char *pem, char *out, size_t n)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {NULL, 0};
    uint8_t hash[32];
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), 0);
    ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
    ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, hash), 0);
    sodium_bin2base64(out, n, hash, sizeof hash, sodium_base64_VARIANT_ORIGINAL);
    gnutls_free(der.data);
    gnutls_x509_crt_deinit(crt);
}

START_TEST(pinned_chain)
{
    const tls_pem *pems[] = {&certs.self};
    void *srv = server_inline(pems, 1);
    char reason[128], pin[64], other[64], json[256];
    pin_of(certs.self.cert, pin, sizeof pin);
    pin_of(certs.server.cert, other, sizeof other);
    /* With allowInsecure the pin is the only check: the right one passes... */
    snprintf(json, sizeof json,
             "{\"allowInsecure\":true,\"pinnedPeerCertificateChainSha256\":[\"%s\",\"%s\"]}", other,
             pin);
    void *cli = tls_inst(0, json, NULL);
    ck_assert_msg(try_link(cli, srv, NULL, certs.self.cert, reason), "%s", reason);
    tls_ops()->instance_free(cli);
    /* ...another is refused. */
    snprintf(json, sizeof json,
             "{\"allowInsecure\":true,\"pinnedPeerCertificateChainSha256\":[\"%s\"]}", other);
    cli = tls_inst(0, json, NULL);
    ck_assert(!try_link(cli, srv, NULL, NULL, reason));
    ck_assert_str_eq(reason,
                     "tls: handshake: certificate of example.test refused: not a pinned chain");
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

/* A client limited to TLS 1.1 is refused: TLS 1.2 is the oldest version spoken. */
START_TEST(tls11_refused)
{
    const tls_pem *pems[] = {&certs.server};
    void *srv = server_inline(pems, 1);
    evp_buf hello = {0}, out = {0}, back = {0};
    tls_raw raw;
    tls_raw_open(&raw, "NORMAL:-VERS-ALL:+VERS-TLS1.1", &hello, &back);
    ck_assert_int_eq(gnutls_handshake(raw.gs), GNUTLS_E_AGAIN);
    ck_assert_uint_gt(hello.len, 0);
    evp_addr peer = {EVP_ADDR_IPV4, 4, 1234, {127, 0, 0, 1}};
    void *s = tls_ops()->session_new(srv, &peer);
    evp_io io = {0};
    io.in = hello.data;
    io.in_len = hello.len;
    io.out = &out;
    io.back = &back;
    ck_assert_int_eq(tls_ops()->decode(s, &io), EVP_ERR);
    ck_assert_msg(strstr(io.reason, "tls: handshake: ") == io.reason, "%s", io.reason);
    ck_assert_int_eq(gnutls_handshake(raw.gs), GNUTLS_E_FATAL_ALERT_RECEIVED); /* told why */
    tls_ops()->session_free(s);
    tls_raw_close(&raw);
    test_buf_free(&hello);
    test_buf_free(&out);
    test_buf_free(&back);
    tls_ops()->instance_free(srv);
}
END_TEST

Suite *tls_verify_suite(void)
{
    Suite *s = suite_create("tls_verify");
    TCase *tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sni_picks_the_certificate);
    tcase_add_test(tc, wrong_name_refused);
    tcase_add_test(tc, dialled_ip_verified_without_sni);
    tcase_add_test(tc, untrusted_issuer_refused_unless_allowed);
    tcase_add_test(tc, self_signed_refused_unless_listed);
    tcase_add_test(tc, expired_refused);
    tcase_add_test(tc, pinned_chain);
    tcase_add_test(tc, tls11_refused);
    suite_add_tcase(s, tc);
    return s;
}
