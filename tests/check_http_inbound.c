/* The HTTP proxy inbound (V2Ray 4.34's "http"), driven in memory: CONNECT, absolute-URI
 * forwarding rewritten to origin form, Basic proxy authentication, the refusals.
 * Expected bytes are written out by hand from RFC 9110/9112 and V2Ray's server.go. */
#include "builtin/builtin.h"
#include "inbound_drive.h"

#include <check.h>
#include <string.h>

static const evp_inbound_ops *ops(void)
{
    return evp_builtin_http()->inbound;
}

static void drv_open(drv *d, const char *json)
{
    char err[256] = "";
    evp_instance_args a = {.size = sizeof a, .tag = "h", .settings_json = json};
    void *inst = ops()->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst != NULL, "instance_new(%s): %s", json, err);
    drv_start(d, ops(), inst);
}

/* Appends text to what the client sent and runs decode over all of it. */
static int feed(drv *d, const char *text)
{
    return drv_decode(d, text, strlen(text), 0);
}

static int connected(drv *d, int ok)
{
    return drv_connected(d, ok);
}

static void assert_buf(const evp_buf *b, const char *want)
{
    const char *got = b->len ? (const char *)b->data : ""; /* an empty buffer may hold NULL */
    ck_assert_msg(b->len == strlen(want) && memcmp(got, want, b->len) == 0,
                  "got \"%.*s\", want \"%s\"", (int)b->len, got, want);
}

/* The reply in b starts with status ("HTTP/1.1 400 "). */
static void assert_status(const evp_buf *b, const char *status)
{
    size_t n = strlen(status);
    ck_assert_msg(b->len >= n && memcmp(b->data, status, n) == 0, "answered \"%.*s\", want %s",
                  (int)b->len, b->len ? (const char *)b->data : "", status);
}

START_TEST(absolute_uri_rewritten_to_origin_form)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "GET http://127.0.0.1:8080/a/b?q=1 HTTP/1.1\r\n"
                              "Host: 127.0.0.1:8080\r\n"
                              "User-Agent: curl/7.88.1\r\n"
                              "Proxy-Connection: Keep-Alive\r\n"
                              "Connection: X-Secret\r\n"
                              "X-Secret: 1\r\n"
                              "Accept: */*\r\n\r\n"),
                     EVP_TARGET);
    ck_assert_uint_eq(d.io.target.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(d.io.target.port, 8080);
    ck_assert_mem_eq(d.io.target.bytes, "\x7f\x00\x00\x01", 4);
    ck_assert_uint_eq(d.out.len, 0); /* the head goes on after the dial */
    ck_assert_int_eq(connected(&d, 1), EVP_OK);
    assert_buf(&d.back, ""); /* no reply of ours: the origin answers */
    ck_assert_int_eq(feed(&d, ""), EVP_OK);
    assert_buf(&d.out, "GET /a/b?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                       "User-Agent: curl/7.88.1\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    ck_assert_uint_eq(d.pending.len, 0);
    drv_close(&d);
}
END_TEST

START_TEST(body_passes_then_rest_dropped)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "POST http://example.com/f HTTP/1.1\r\nHost: example.com\r\n"
                              "Content-Length: 7\r\n\r\nhel"),
                     EVP_TARGET);
    ck_assert_uint_eq(d.io.target.type, EVP_ADDR_DOMAIN);
    ck_assert_uint_eq(d.io.target.port, 80);
    ck_assert_int_eq(feed(&d, ""), EVP_OK);
    ck_assert_int_eq(feed(&d, "lo!!GET http://example.com/ HTTP/1.1\r\n"
                              "Proxy-Authorization: Basic dTpw\r\n\r\n"),
                     EVP_OK);
    assert_buf(&d.out, "POST /f HTTP/1.1\r\nHost: example.com\r\nContent-Length: 7\r\n"
                       "Connection: close\r\n\r\nhello!!");
    drv_close(&d);
}
END_TEST

START_TEST(connect_tunnels_after_200)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "CONNECT example.org:8443 HTTP/1.1\r\nHost: example.org:8443\r\n"
                              "\r\n\x16\x03\x01"),
                     EVP_TARGET);
    ck_assert_uint_eq(d.io.target.type, EVP_ADDR_DOMAIN);
    ck_assert_uint_eq(d.io.target.len, 11);
    ck_assert_mem_eq(d.io.target.bytes, "example.org", 11);
    ck_assert_uint_eq(d.io.target.port, 8443);
    ck_assert_uint_eq(d.pending.len, 3); /* the client's first bytes wait for the tunnel */
    ck_assert_int_eq(connected(&d, 1), EVP_OK);
    assert_buf(&d.back, "HTTP/1.1 200 Connection established\r\n\r\n");
    ck_assert_int_eq(feed(&d, "x"), EVP_OK);
    assert_buf(&d.out, "\x16\x03\x01x");
    drv_close(&d);
}
END_TEST

START_TEST(connect_ipv6_and_failed_dial)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "CONNECT [::1]:443 HTTP/1.1\r\n\r\n"), EVP_TARGET);
    ck_assert_uint_eq(d.io.target.type, EVP_ADDR_IPV6);
    ck_assert_uint_eq(d.io.target.port, 443);
    ck_assert_int_eq(connected(&d, 0), EVP_ERR);
    assert_status(&d.back, "HTTP/1.1 503 ");
    drv_close(&d);
}
END_TEST

START_TEST(head_in_pieces)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "GET http://h/ HT"), EVP_OK);
    ck_assert_int_eq(feed(&d, "TP/1.0\r\n"), EVP_OK);
    ck_assert_uint_eq(d.back.len, 0);
    ck_assert_int_eq(feed(&d, "\r\n"), EVP_TARGET);
    ck_assert_uint_eq(d.io.target.port, 80);
    drv_close(&d);
}
END_TEST

/* "u:p" is dTpw in base64, "u:x" dTp4. */
START_TEST(accounts_need_basic_credentials)
{
    static const char *const bad[] = {
        "CONNECT h:1 HTTP/1.1\r\n\r\n",
        "CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Basic dTp4\r\n\r\n",
        "CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Basic !!\r\n\r\n",
        "CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Bearer dTpw\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        drv d;
        drv_open(&d, "{\"accounts\":[{\"user\":\"a\",\"pass\":\"b\"},{\"user\":\"u\",\"pass\":\"p\"}]}");
        ck_assert_int_eq(feed(&d, bad[i]), EVP_ERR);
        assert_buf(&d.back, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                            "Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n");
        drv_close(&d);
    }
    drv d;
    drv_open(&d, "{\"accounts\":[{\"user\":\"a\",\"pass\":\"b\"},{\"user\":\"u\",\"pass\":\"p\"}]}");
    ck_assert_int_eq(feed(&d, "CONNECT h:1 HTTP/1.1\r\nproxy-authorization:  Basic dTpw \r\n\r\n"),
                     EVP_TARGET);
    ck_assert_str_eq(ops()->session_user(d.sess), "u");
    drv_close(&d);
}
END_TEST

START_TEST(origin_form_needs_allow_transparent)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(feed(&d, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:81\r\n\r\n"), EVP_ERR);
    assert_status(&d.back, "HTTP/1.1 400 ");
    drv_close(&d);
    drv_open(&d, "{\"allowTransparent\":true,\"timeout\":30,\"userLevel\":0}");
    ck_assert_int_eq(feed(&d, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:81\r\n\r\n"), EVP_TARGET);
    ck_assert_uint_eq(d.io.target.port, 81);
    ck_assert_int_eq(feed(&d, ""), EVP_OK);
    assert_buf(&d.out, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:81\r\nConnection: close\r\n\r\n");
    drv_close(&d);
}
END_TEST

START_TEST(refusals)
{
    static const struct {
        const char *head, *status;
    } cases[] = {
        {"POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 501 "},
        {"POST http://h/ HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "HTTP/1.1 400 "},
        {"GET http://h:99999/ HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET http:/// HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET http://h/ HTTP/2.0\r\n\r\n", "HTTP/1.1 400 "},
        {"GET http://h/\r\n\r\n", "HTTP/1.1 400 "},
        {"GET http://h/ HTTP/1.1\r\nno colon\r\n\r\n", "HTTP/1.1 400 "},
        {"CONNECT h HTTP/1.1\r\n\r\n", NULL}, /* no port: 80, as V2Ray's */
        {"CONNECT [::1 HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        drv d;
        drv_open(&d, "{}");
        int r = feed(&d, cases[i].head);
        if (cases[i].status == NULL) {
            ck_assert_int_eq(r, EVP_TARGET);
            ck_assert_uint_eq(d.io.target.port, 80);
        } else {
            ck_assert_msg(r == EVP_ERR, "case %zu accepted", i);
            assert_status(&d.back, cases[i].status);
        }
        drv_close(&d);
    }
}
END_TEST

START_TEST(head_too_long)
{
    drv d;
    drv_open(&d, "{}");
    char big[20000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(feed(&d, "GET http://h/ HTTP/1.1\r\nX: "), EVP_OK);
    ck_assert_int_eq(feed(&d, big), EVP_ERR);
    assert_status(&d.back, "HTTP/1.1 400 ");
    drv_close(&d);
}
END_TEST

Suite *http_inbound_suite(void)
{
    Suite *s = suite_create("http_inbound");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, absolute_uri_rewritten_to_origin_form);
    tcase_add_test(tc, body_passes_then_rest_dropped);
    tcase_add_test(tc, connect_tunnels_after_200);
    tcase_add_test(tc, connect_ipv6_and_failed_dial);
    tcase_add_test(tc, head_in_pieces);
    tcase_add_test(tc, accounts_need_basic_credentials);
    tcase_add_test(tc, origin_form_needs_allow_transparent);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, head_too_long);
    suite_add_tcase(s, tc);
    return s;
}
