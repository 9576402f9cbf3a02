/* SIP003 transport options (v2ray-plugin's names) -> streamSettings (core/sip003/
 * stream_opts.c): each option's JSON on each side, acme.sh's files as a server's default,
 * each refusal, and evp_sip003_config putting the result on the SIP003 inbound/outbound
 * without handing the options to the vmess plugin. */
#include "sip003_fixture.h"
#include "stream_opts.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PAIRS 32
#define UUID "27848739-7e62-4138-9fd3-098a63964b6b"

/* Runs evp_sip003_stream on an option string; rc in *rc, err in err. */
static json_t *build(const char *opts, int server, int *rc, char *err, size_t errlen)
{
    char *keys[MAX_PAIRS], *values[MAX_PAIRS];
    int n = evp_sip003_parse_options(opts, keys, values, MAX_PAIRS);
    ck_assert_int_ge(n, 0);
    json_t *stream = NULL;
    err[0] = '\0';
    *rc = evp_sip003_stream((const char *const *)keys, (const char *const *)values, n, server,
                            0, &stream, err, errlen);
    evp_sip003_free_options(keys, values, n);
    return stream;
}

/* opts on that side give exactly the streamSettings in want ("" for none). */
static void expect_stream(const char *opts, int server, const char *want)
{
    char err[512];
    int rc;
    json_t *got = build(opts, server, &rc, err, sizeof err);
    ck_assert_msg(rc == 0, "\"%s\" refused: %s", opts, err);
    if (want[0] == '\0') {
        ck_assert_msg(got == NULL, "\"%s\" gave streamSettings", opts);
        return;
    }
    json_t *exp = json_loads(want, 0, NULL);
    ck_assert_ptr_nonnull(exp);
    char *text = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    ck_assert_msg(got && json_equal(got, exp), "\"%s\" (%s): got %s, want %s", opts,
                  server ? "server" : "client", text ? text : "nothing", want);
    free(text);
    json_decref(exp);
    json_decref(got);
}

/* opts on that side are refused with a message containing want. */
static void expect_refusal(const char *opts, int server, const char *want)
{
    char err[512];
    int rc;
    json_t *got = build(opts, server, &rc, err, sizeof err);
    ck_assert_msg(rc == -1 && got == NULL, "\"%s\" was not refused", opts);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", opts, err,
                  want);
}

START_TEST(test_plain_tcp_without_transport_options)
{
    expect_stream("", 0, "");
    expect_stream("id=" UUID ";security=aes-128-gcm", 0, "");
    expect_stream("server;id=" UUID, 1, "");
    expect_stream("mux=0", 0, ""); /* accepted: no multiplexing is what it asks for */
}
END_TEST

START_TEST(test_websocket)
{
    expect_stream("mode=websocket", 0, "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/\"}}");
    expect_stream("mode=websocket;path=/x;host=example.test", 0,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/x\","
                  "\"headers\":{\"Host\":\"example.test\"}}}");
    /* The server matches the path; Host is the client's to send. */
    expect_stream("server;mode=websocket;path=/x;host=example.test", 1,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/x\"}}");
    /* v2ray-plugin's escaping reaches the path unescaped. */
    expect_stream("mode=websocket;path=/a\\;b\\=c", 0,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/a;b=c\"}}");
}
END_TEST

START_TEST(test_tls_client)
{
    expect_stream("tls", 0, "{\"network\":\"tcp\",\"security\":\"tls\",\"tlsSettings\":{}}");
    expect_stream("tls=1;host=example.test", 0,
                  "{\"network\":\"tcp\",\"security\":\"tls\","
                  "\"tlsSettings\":{\"serverName\":\"example.test\"}}");
    /* cert on the client: one more certificate to trust, as v2ray-plugin's AUTHORITY_VERIFY */
    expect_stream("tls=true;host=example.test;cert=/etc/ca.pem", 0,
                  "{\"network\":\"tcp\",\"security\":\"tls\",\"tlsSettings\":{\"serverName\":"
                  "\"example.test\",\"certificates\":[{\"usage\":\"verify\","
                  "\"certificateFile\":\"/etc/ca.pem\"}]}}");
    expect_stream("mode=websocket;tls;host=example.test;path=/v", 0,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/v\",\"headers\":{\"Host\":"
                  "\"example.test\"}},\"security\":\"tls\",\"tlsSettings\":{\"serverName\":"
                  "\"example.test\"}}");
}
END_TEST

START_TEST(test_tls_server_files)
{
    expect_stream("server;tls;cert=/c.pem;key=/k.pem", 1,
                  "{\"network\":\"tcp\",\"security\":\"tls\",\"tlsSettings\":{\"certificates\":"
                  "[{\"certificateFile\":\"/c.pem\",\"keyFile\":\"/k.pem\"}]}}");
    expect_stream("server;mode=websocket;tls;host=example.test;cert=/c.pem;key=/k.pem", 1,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/\"},\"security\":\"tls\","
                  "\"tlsSettings\":{\"certificates\":[{\"certificateFile\":\"/c.pem\","
                  "\"keyFile\":\"/k.pem\"}]}}");
}
END_TEST

/* Writes an empty file at path. */
static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

/* With tls and no cert/key, the server looks where acme.sh keeps host's files, as
 * v2ray-plugin does; a file that is not there is refused naming it. */
START_TEST(test_tls_server_acme_default)
{
    char home[] = "/tmp/evp-sip003-home-XXXXXX", dir[256], cert[300], key[300], want[1024];
    ck_assert_ptr_nonnull(mkdtemp(home));
    setenv("HOME", home, 1);
    snprintf(dir, sizeof dir, "%s/.acme.sh", home);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(dir, sizeof dir, "%s/.acme.sh/example.test", home);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(cert, sizeof cert, "%s/fullchain.cer", dir);
    snprintf(key, sizeof key, "%s/example.test.key", dir);
    expect_refusal("server;tls;host=example.test", 1, cert);
    touch(cert);
    expect_refusal("server;tls;host=example.test", 1, key);
    touch(key);
    snprintf(want, sizeof want,
             "{\"network\":\"tcp\",\"security\":\"tls\",\"tlsSettings\":{\"certificates\":"
             "[{\"certificateFile\":\"%s\",\"keyFile\":\"%s\"}]}}", cert, key);
    expect_stream("server;tls;host=example.test", 1, want);
    /* Each file defaults on its own, as in v2ray-plugin. */
    snprintf(want, sizeof want,
             "{\"network\":\"tcp\",\"security\":\"tls\",\"tlsSettings\":{\"certificates\":"
             "[{\"certificateFile\":\"/mine.pem\",\"keyFile\":\"%s\"}]}}", key);
    expect_stream("server;tls;host=example.test;cert=/mine.pem", 1, want);
    unlink(key);
    unlink(cert);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/.acme.sh", home);
    rmdir(dir);
    rmdir(home);
}
END_TEST

START_TEST(test_refusals)
{
    static const struct {
        const char *opts;
        int server;
        const char *want;
    } cases[] = {
        {"mux=-1", 0, "mux is the number of sub-streams per connection, 0 (off) to 1024"},
        {"mux=1025", 1, "mux is the number of sub-streams per connection"},
        {"mux=", 0, "mux is the number of sub-streams per connection"},
        {"mux=0x", 0, "mux is the number of sub-streams per connection"},
        {"mode=quic", 0, "mode=quic is not supported"},
        {"mode=quic;tls", 1, "mode=quic is not supported"},
        {"mode=ws", 0, "mode must be websocket (or left out for plain TCP), not \"ws\""},
        {"mode=", 0, "mode must be websocket"},
        {"tls=0", 0, "tls is a flag"},
        {"tls=yes", 1, "tls is a flag"},
        {"path=/x", 0, "path needs mode=websocket"},
        {"tls;path=/x", 0, "path needs mode=websocket"},
        {"host=example.test", 0, "host needs mode=websocket or tls"},
        {"server;host=example.test", 1, "host needs mode=websocket or tls"},
        {"cert=/c.pem", 0, "cert needs tls"},
        {"mode=websocket;cert=/c.pem", 0, "cert needs tls"},
        {"server;key=/k.pem", 1, "key needs tls"},
        {"tls;key=/k.pem", 0, "key is the server's"},
        {"server;tls", 1, "tls on the server needs cert=FILE and key=FILE, or host=NAME"},
        {"server;tls;cert=/c.pem", 1, "tls on the server needs cert=FILE and key=FILE"},
        {"mode=websocket;host=", 0, "host needs a value"},
        {"mode=websocket;path=", 0, "path needs a value"},
        {"tls;cert", 0, "cert needs a value"},
        {"mode=websocket;path=/a b", 0, "path must have no spaces or control characters"},
        {"mode=websocket;host=a\tb", 0, "host must have no spaces"},
        {"tls;host=../../etc", 1, "host must be a host name"},
        {"certRaw=MIIB", 0, "certRaw is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refusal(cases[i].opts, cases[i].server, cases[i].want);
}
END_TEST

START_TEST(test_first_duplicate_counts)
{
    expect_stream("mode=websocket;mode=quic", 0,
                  "{\"network\":\"ws\",\"wsSettings\":{\"path\":\"/\"}}");
    expect_refusal("mode=quic;mode=websocket", 0, "mode=quic");
}
END_TEST

START_TEST(test_host_options_are_the_transport_names)
{
    static const char *const mine[] = {"mode", "tls", "host", "path", "cert", "key", "mux",
                                       "certRaw"};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
        ck_assert_msg(evp_sip003_stream_option(mine[i]), "%s is not a transport option",
                      mine[i]);
    ck_assert(!evp_sip003_stream_option("id"));
    ck_assert(!evp_sip003_stream_option("server"));
    ck_assert(!evp_sip003_stream_option("Mode"));
}
END_TEST

/* streamSettings land on the outbound (client) or the inbound (server), and the vmess plugin
 * never sees the transport options (it refuses any option it does not know). */
START_TEST(test_config_carries_stream_settings)
{
    json_t *root = sip003_config("id=" UUID ";mode=websocket;path=/x;host=example.test;mux=0");
    ck_assert_ptr_nonnull(root);
    json_t *ss = json_object_get(json_array_get(json_object_get(root, "outbounds"), 0),
                                 "streamSettings");
    ck_assert_str_eq(json_string_value(json_object_get(ss, "network")), "ws");
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(root, "inbounds"), 0),
                                       "streamSettings"));
    json_decref(root);

    root = sip003_config("server;id=" UUID ";mode=websocket;path=/x");
    ck_assert_ptr_nonnull(root);
    ss = json_object_get(json_array_get(json_object_get(root, "inbounds"), 0),
                         "streamSettings");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ss, "wsSettings"),
                                                       "path")), "/x");
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(root, "outbounds"), 0),
                                       "streamSettings"));
    json_decref(root);

    root = sip003_config("id=" UUID);
    ck_assert_ptr_nonnull(root);
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(root, "outbounds"), 0),
                                       "streamSettings"));
    json_decref(root);

    /* mux=N (v2ray-plugin's option): the client's outbound multiplexes, N per connection;
     * the server takes a multiplexing client as it is. */
    root = sip003_config("id=" UUID ";mux=2");
    ck_assert_ptr_nonnull(root);
    json_t *mux = json_object_get(json_array_get(json_object_get(root, "outbounds"), 0), "mux");
    ck_assert(json_is_true(json_object_get(mux, "enabled")));
    ck_assert_int_eq(json_integer_value(json_object_get(mux, "concurrency")), 2);
    json_decref(root);
    root = sip003_config("id=" UUID ";mux=0");
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(root, "outbounds"), 0),
                                       "mux"));
    json_decref(root);
    root = sip003_config("server;id=" UUID ";mux=8");
    ck_assert_ptr_nonnull(root);
    json_decref(root);
}
END_TEST

Suite *sip003_stream_suite(void)
{
    Suite *s = suite_create("sip003_stream");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_plain_tcp_without_transport_options);
    tcase_add_test(tc, test_websocket);
    tcase_add_test(tc, test_tls_client);
    tcase_add_test(tc, test_tls_server_files);
    tcase_add_test(tc, test_tls_server_acme_default);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_first_duplicate_counts);
    tcase_add_test(tc, test_host_options_are_the_transport_names);
    tcase_add_test(tc, test_config_carries_stream_settings);
    suite_add_tcase(s, tc);
    return s;
}
