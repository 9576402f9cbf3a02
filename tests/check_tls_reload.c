/* The tls layer's instances: settings and files refused with the setting or file named, and
 * instance_update (a reload after certbot renewed the files): new sessions get the new
 * certificate while running ones go on; a broken file refuses the update and the old
 * certificate stays. */
#include "tls_fixture.h"

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

/* Server settings naming cert and key files. */
static const char *files_json(const char *crt, const char *key)
{
    static char json[1024];
    snprintf(json, sizeof json,
             "{\"certificates\":[{\"certificateFile\":\"%s\",\"keyFile\":\"%s\"}]}", crt, key);
    return json;
}

START_TEST(bad_settings_name_what_is_wrong)
{
    char crt[256], key[256], other_key[256], junk[256];
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    tls_write_file(&certs, "o.key", certs.other.key, other_key, sizeof other_key);
    tls_write_file(&certs, "junk.crt", "not a certificate\n", junk, sizeof junk);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.crt", certs.dir);
    const char *err = tls_inst_refused(1, files_json(missing, key));
    ck_assert_msg(strstr(err, "certificates[0].certificateFile: ") == err && strstr(err, missing) &&
                      strstr(err, "No such file"),
                  "%s", err);
    err = tls_inst_refused(1, files_json(crt, other_key));
    ck_assert_msg(strstr(err, crt) && strstr(err, other_key) && strstr(err, "do not match"), "%s",
                  err);
    err = tls_inst_refused(1, files_json(junk, key));
    ck_assert_msg(strstr(err, "certificates[0]: ") == err && strstr(err, junk), "%s", err);
    char json[1024];
    snprintf(json, sizeof json, "{\"certificates\":[{\"certificateFile\":\"%s\"}]}", crt);
    err = tls_inst_refused(1, json);
    char want[512];
    snprintf(want, sizeof want, "certificates[0]: no keyFile or key for the certificateFile \"%s\"",
             crt);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(refused_settings)
{
    char crt[256], key[256], json[1024];
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    snprintf(json, sizeof json,
             "{\"certificates\":[{\"usage\":\"issue\",\"certificateFile\":\"%s\",\"keyFile\":"
             "\"%s\"}]}",
             crt, key);
    ck_assert_str_eq(tls_inst_refused(1, json),
                     "certificates[0].usage: \"issue\" (certificates made on the fly "
                     "from a CA) is not supported; give the certificate and its key");
    ck_assert_str_eq(tls_inst_refused(1, "{}"),
                     "certificates: a server needs a certificate and its key (usage "
                     "\"encipherment\")");
    ck_assert_str_eq(tls_inst_refused(0, "{\"disableSystemRoot\":true}"),
                     "disableSystemRoot: with no certificates listed nothing is "
                     "trusted");
    ck_assert_str_eq(tls_inst_refused(0, "{\"pinnedPeerCertificateChainSha256\":[\"abc\"]}"),
                     "pinnedPeerCertificateChainSha256[0]: not a base64 SHA-256");
    ck_assert_str_eq(tls_inst_refused(0, "{\"certificates\":[{\"usage\":\"sign\"}]}"),
                     "certificates[0].usage: unknown usage \"sign\"");
    ck_assert_str_eq(tls_inst_refused(0, "{\"alpn\":[\"\"]}"), "alpn: a name must be 1..255 bytes");
}
END_TEST

/* Sends n random bytes from the client over l and checks they arrive. */
static void still_flows(tls_link *l, size_t n)
{
    size_t before = l->srv.recv.len;
    uint8_t *d = test_host_buf_reserve(&l->cli.send, n);
    randombytes_buf(d, n);
    l->cli.send.len += n;
    tls_link_run(l);
    ck_assert(!l->cli.failed && !l->srv.failed);
    ck_assert_uint_eq(l->srv.recv.len, before + n);
    ck_assert(memcmp(l->srv.recv.data + before, d, n) == 0);
}

START_TEST(update_serves_the_renewed_certificate)
{
    char crt[256], key[256];
    tls_write_file(&certs, "s.crt", certs.server.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.server.key, key, sizeof key);
    evp_transport_args args = {sizeof args, 1, "in", files_json(crt, key), "{}"};
    char err[256] = "";
    void *srv = tls_ops()->instance_new(test_host_get(), &args, err, sizeof err);
    ck_assert_msg(srv != NULL, "%s", err);
    void *cli = tls_client_ca(&certs, "example.test", ",\"enableSessionResumption\":false", NULL);
    tls_link running;
    tls_link_open(&running, cli, srv, NULL);
    tls_link_run(&running);
    ck_assert(tls_link_up(&running));
    ck_assert(tls_peer_is(running.cli.sess, certs.server.cert));

    /* certbot renews: both files replaced, then the reload. */
    tls_write_file(&certs, "s.crt", certs.renewed.cert, crt, sizeof crt);
    tls_write_file(&certs, "s.key", certs.renewed.key, key, sizeof key);
    ck_assert_msg(tls_ops()->instance_update(srv, &args, err, sizeof err) == 0, "%s", err);
    tls_link fresh;
    tls_link_open(&fresh, cli, srv, NULL);
    tls_link_run(&fresh);
    ck_assert_msg(tls_link_up(&fresh), "%s", fresh.cli.reason);
    ck_assert(tls_peer_is(fresh.cli.sess, certs.renewed.cert));
    tls_link_close(&fresh);
    still_flows(&running, 100000); /* the running session kept its credentials */

    /* A broken certificate file: the update is refused, naming it; the renewed one stays. */
    tls_write_file(&certs, "s.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n", crt, sizeof crt);
    ck_assert_int_eq(tls_ops()->instance_update(srv, &args, err, sizeof err), -1);
    ck_assert_msg(strstr(err, crt) != NULL, "%s", err);
    /* A key file gone: refused, naming it. */
    tls_write_file(&certs, "s.crt", certs.renewed.cert, crt, sizeof crt);
    ck_assert_int_eq(unlink(key), 0);
    ck_assert_int_eq(tls_ops()->instance_update(srv, &args, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "keyFile: ") && strstr(err, key), "%s", err);
    tls_link_open(&fresh, cli, srv, NULL);
    tls_link_run(&fresh);
    ck_assert(tls_link_up(&fresh));
    ck_assert(tls_peer_is(fresh.cli.sess, certs.renewed.cert));
    tls_link_close(&fresh);

    /* The instance goes (as on a reload that drops the inbound): the session goes on. */
    tls_ops()->instance_free(srv);
    still_flows(&running, 5000);
    tls_link_close(&running);
    tls_ops()->instance_free(cli);
}
END_TEST

/* The client's trusted certificates are re-read too, and its saved session is forgotten. */
START_TEST(client_update_rereads_trust)
{
    char ca[256], json[512], err[256] = "";
    void *srv = tls_server_files(&certs, &certs.server, "server", NULL);
    tls_write_file(&certs, "ca.crt", certs.self.cert, ca, sizeof ca); /* the wrong anchor */
    snprintf(json, sizeof json,
             "{\"serverName\":\"example.test\",\"disableSystemRoot\":true,\"certificates\":"
             "[{\"usage\":\"verify\",\"certificateFile\":\"%s\"}]}",
             ca);
    evp_transport_args args = {sizeof args, 0, "out", json, "{}"};
    void *cli = tls_ops()->instance_new(test_host_get(), &args, err, sizeof err);
    ck_assert_msg(cli != NULL, "%s", err);
    tls_link l;
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert(l.cli.failed);
    tls_link_close(&l);
    tls_write_file(&certs, "ca.crt", certs.ca.cert, ca, sizeof ca);
    ck_assert_msg(tls_ops()->instance_update(cli, &args, err, sizeof err) == 0, "%s", err);
    tls_link_open(&l, cli, srv, NULL);
    tls_link_run(&l);
    ck_assert_msg(tls_link_up(&l), "%s", l.cli.reason);
    tls_link_close(&l);
    tls_ops()->instance_free(cli);
    tls_ops()->instance_free(srv);
}
END_TEST

Suite *tls_reload_suite(void)
{
    Suite *s = suite_create("tls_reload");
    TCase *tc = tcase_create("reload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_settings_name_what_is_wrong);
    tcase_add_test(tc, refused_settings);
    tcase_add_test(tc, update_serves_the_renewed_certificate);
    tcase_add_test(tc, client_update_rereads_trust);
    suite_add_tcase(s, tc);
    return s;
}
