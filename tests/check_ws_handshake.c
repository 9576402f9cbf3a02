/* The ws layer's HTTP upgrade: client and server sessions against each other and against
 * hand-made requests (RFC 6455's section 1.3 example), path matching, V2Ray 4.34's HTTP
 * errors, early data in its three forms, X-Forwarded-For from trusted fronts, oversize
 * heads, settings. */
#include "ws_fixture.h"

#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* RFC 6455 section 1.3's request, for a path. */
static const char *rfc_request(const char *path, const char *extra)
{
    static char req[4096];
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
             "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
             "Sec-WebSocket-Version: 13\r\n%s\r\n",
             path, extra ? extra : "");
    return req;
}

/* A server session fed text whole: the status, with its back and up bytes. */
typedef struct served {
    int r;
    evp_buf back, up;
    size_t consumed;
    char reason[128];
} served;

static served serve(void *sess, const char *text, size_t len, int eof)
{
    served s = {0};
    evp_io io = {
        .in = (const uint8_t *)text, .in_len = len, .in_eof = eof, .out = &s.up, .back = &s.back};
    s.r = ws_transport_ops.decode(sess, &io);
    s.consumed = io.consumed;
    memcpy(s.reason, io.reason, sizeof(s.reason));
    return s;
}

static void served_free(served *s)
{
    test_buf_free(&s->back);
    test_buf_free(&s->up);
}

static void *server_session(void *inst, const evp_addr *peer)
{
    evp_addr p = peer ? *peer : ws_ip4(127, 0, 0, 1, 40000);
    void *sess = ws_transport_ops.session_new(inst, &p);
    ck_assert_ptr_nonnull(sess);
    return sess;
}

START_TEST(test_accept_rfc_example)
{
    char out[WS_ACCEPT_LEN + 1];
    ws_accept_for(RFC_KEY, strlen(RFC_KEY), out);
    ck_assert_str_eq(out, RFC_ACCEPT);
}
END_TEST

START_TEST(test_b64url_round_trip)
{
    uint8_t in[40], dec[64];
    char text[64];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(0xf8 + i * 37);
    for (size_t n = 0; n <= sizeof(in); n++) {
        ws_b64url_encode(in, n, text);
        ck_assert_ptr_null(memchr(text, '=', WS_B64URL_LEN(n)));
        ck_assert_ptr_null(memchr(text, '+', WS_B64URL_LEN(n)));
        ck_assert_ptr_null(memchr(text, '/', WS_B64URL_LEN(n)));
        size_t got = 0;
        ck_assert_int_eq(ws_b64url_decode(text, WS_B64URL_LEN(n), dec, &got), 0);
        ck_assert_uint_eq(got, n);
        ck_assert_mem_eq(dec, in, n);
    }
    size_t got;
    ck_assert_int_eq(ws_b64url_decode("SGVsbG8", 7, dec, &got), 0);
    ck_assert_uint_eq(got, 5);
    ck_assert_mem_eq(dec, "Hello", 5);
    ck_assert_int_eq(ws_b64url_decode("SGVsbG8=", 8, dec, &got), 0); /* padded too */
    ck_assert_int_eq(ws_b64url_decode("SGV+bG8", 7, dec, &got), -1); /* not url-safe */
    ck_assert_int_eq(ws_b64url_decode("chat, superchat", 15, dec, &got), -1);
    ck_assert_int_eq(ws_b64url_decode("SGVsb", 5, dec, &got), -1); /* 1 char over */
}
END_TEST

/* The server answers RFC 6455's example request with the example's accept value. */
START_TEST(test_server_rfc_request)
{
    void *inst = ws_inst(1, "{\"path\":\"/chat\"}");
    void *sess = server_session(inst, NULL);
    const char *req = rfc_request("/chat", NULL);
    /* Every prefix of the request is waited on, nothing consumed or written. */
    for (size_t n = 0; n < strlen(req); n += 7) {
        served s = serve(sess, req, n, 0);
        ck_assert_int_eq(s.r, EVP_OK);
        ck_assert_uint_eq(s.consumed, 0);
        ck_assert_uint_eq(s.back.len + s.up.len, 0);
        served_free(&s);
    }
    served s = serve(sess, req, strlen(req), 0);
    ck_assert_int_eq(s.r, EVP_OK);
    ck_assert_uint_eq(s.consumed, strlen(req));
    const char *head = ws_head_text(&s.back);
    ck_assert_str_eq(head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n");
    ck_assert_uint_eq(s.up.len, 0); /* "chat, superchat" is no early data */
    served_free(&s);

    /* RFC 6455 5.7: a masked "Hello" from the client. */
    static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    s = serve(sess, (const char *)hello, sizeof(hello), 0);
    ck_assert_int_eq(s.r, EVP_OK);
    ck_assert_uint_eq(s.consumed, sizeof(hello));
    ck_assert_uint_eq(s.up.len, 5);
    ck_assert_mem_eq(s.up.data, "Hello", 5);
    served_free(&s);
    ws_transport_ops.session_free(sess);
    ws_transport_ops.instance_free(inst);
}
END_TEST

/* The request a client writes: gorilla's order, the configured headers, the path. */
START_TEST(test_client_request_shape)
{
    void *cinst = ws_inst(0, "{\"path\":\"ws?x=1\",\"headers\":{\"host\":\"cdn.example.com\","
                             "\"x-custom\":\"a b\",\"User-Agent\":\"evtest\"}}");
    ws_link l;
    ws_link_open(&l, cinst, NULL, NULL, NULL);
    const char *head = ws_head_text(&l.c2s);
    const char *p = strstr(head, "Sec-WebSocket-Key: ");
    ck_assert_ptr_nonnull(p);
    char key[25];
    memcpy(key, p + 19, 24);
    key[24] = '\0';
    uint8_t raw[20];
    size_t n = 0;
    char want[1024];
    snprintf(want, sizeof(want),
             "GET /ws?x=1 HTTP/1.1\r\nHost: cdn.example.com\r\nUser-Agent: evtest\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "Upgrade: websocket\r\nX-Custom: a b\r\n\r\n",
             key);
    ck_assert_str_eq(head, want);
    /* The key is 16 random bytes in base64, new for each session. */
    ck_assert_int_eq(key[22], '=');
    struct base64_decode_ctx dctx;
    base64_decode_init(&dctx);
    ck_assert(base64_decode_update(&dctx, &n, raw, 24, key) && base64_decode_final(&dctx));
    ck_assert_uint_eq(n, 16);
    ws_link other;
    ws_link_open(&other, cinst, NULL, NULL, NULL);
    ck_assert_ptr_null(strstr(ws_head_text(&other.c2s), key));
    ws_link_close(&other);
    ws_link_close(&l);
    ws_transport_ops.instance_free(cinst);
}
END_TEST

/* Host from the dialled address: port left out when it is the scheme's default. */
START_TEST(test_client_default_host)
{
    static const struct {
        const char *stream;
        int v6;
        const char *domain;
        uint16_t port;
        const char *host;
    } cases[] = {
        {"{}", 0, "example.org", 8080, "Host: example.org:8080\r\n"},
        {"{}", 0, "example.org", 80, "Host: example.org\r\n"},
        {"{\"security\":\"tls\"}", 0, "example.org", 443, "Host: example.org\r\n"},
        {"{\"security\":\"tls\"}", 0, "example.org", 80, "Host: example.org:80\r\n"},
        {"{}", 1, NULL, 10086, "Host: [::1]:10086\r\n"},
        {"{}", 0, NULL, 10086, "Host: 127.0.0.1:10086\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256];
        void *inst = ws_inst_try(0, "{}", cases[i].stream, err, sizeof(err));
        ck_assert_ptr_nonnull(inst);
        evp_addr d = ws_ip4(127, 0, 0, 1, cases[i].port);
        if (cases[i].domain) {
            d.type = EVP_ADDR_DOMAIN;
            d.len = (uint8_t)strlen(cases[i].domain);
            memcpy(d.bytes, cases[i].domain, d.len + 1);
        } else if (cases[i].v6) {
            d.type = EVP_ADDR_IPV6;
            d.len = 16;
            memset(d.bytes, 0, 16);
            d.bytes[15] = 1;
        }
        ws_link l;
        ws_link_open(&l, inst, NULL, &d, NULL);
        const char *head = ws_head_text(&l.c2s);
        ck_assert_msg(strncmp(head, "GET / HTTP/1.1\r\n", 16) == 0, "%s", head);
        ck_assert_msg(strstr(head, cases[i].host) != NULL, "case %zu: %s", i, head);
        ws_link_close(&l);
        ws_transport_ops.instance_free(inst);
    }
}
END_TEST

/* Client and server agree and carry bytes both ways. */
START_TEST(test_upgrade_both_sides)
{
    ws_link l;
    ws_pair_open(&l, "{\"path\":\"/ws\"}", "{\"path\":\"/ws\"}");
    ws_put_bytes(&l.cli.send, "ping?", 5);
    ws_pump(&l);
    ck_assert_msg(!l.cli.err && !l.srv.err, "%s%s", l.cli.reason, l.srv.reason);
    ck_assert_uint_eq(l.srv.got.len, 5);
    ck_assert_mem_eq(l.srv.got.data, "ping?", 5);
    ws_put_bytes(&l.srv.send, "pong!", 5);
    ws_pump(&l);
    ck_assert_uint_eq(l.cli.got.len, 5);
    ck_assert_mem_eq(l.cli.got.data, "pong!", 5);
    ck_assert_int_eq(l.srv.targets, 0); /* no X-Forwarded-For */
    ws_pair_close(&l);
}
END_TEST

/* Refusals as V2Ray 4.34 answers them, each with an HTTP reply then EVP_ERR. */
START_TEST(test_server_refusals)
{
    static const struct {
        const char *req;
        const char *status;
        const char *reason;
    } cases[] = {
        {"GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 404 Not Found\r\n", "another path"},
        {"GET /ws/ HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", "another path"},
        {"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n",
         "not a WebSocket upgrade"},
        {"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
         "HTTP/1.1 405 Method Not Allowed\r\n", "not a GET"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
         "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n", "version"},
        {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n", "Sec-WebSocket-Key"},
        {"GET /ws HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", "malformed"},
        {"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", "malformed"},
        {"GET /w%zz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", "escape"},
        /* a target neither "/..." nor "scheme://..." (the fuzzer's over-read, under ASan) */
        {"GET hET/t HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", "malformed"},
        {"GET http://a HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", "another path"},
    };
    void *inst = ws_inst(1, "{\"path\":\"/ws\"}");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *sess = server_session(inst, NULL);
        /* An exact copy without the NUL: a read past the input shows under ASan. */
        size_t len = strlen(cases[i].req);
        char *req = malloc(len);
        ck_assert_ptr_nonnull(req);
        memcpy(req, cases[i].req, len);
        served s = serve(sess, req, len, 0);
        free(req);
        ck_assert_msg(s.r == EVP_ERR, "case %zu: %d", i, s.r);
        ck_assert_msg(strstr(s.reason, cases[i].reason) != NULL, "case %zu: %s", i, s.reason);
        ck_assert_uint_eq(s.up.len, 0);
        char *head = ws_head_text(&s.back);
        ck_assert_msg(strncmp(head, cases[i].status, strlen(cases[i].status)) == 0, "case %zu: %s",
                      i, head);
        served_free(&s);
        ws_transport_ops.session_free(sess);
    }
    /* The control: the same server takes its own path, in the absolute form, escaped, with a
     * query. */
    void *sess = server_session(inst, NULL);
    const char *ok =
        "GET http://h:80/%77s?ed=2048 HTTP/1.1\r\nUpgrade: websocket\r\n"
        "Connection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " RFC_KEY
        "\r\n\r\n";
    served s = serve(sess, ok, strlen(ok), 0);
    ck_assert_msg(s.r == EVP_OK, "%s", s.reason);
    ck_assert_str_eq(ws_head_text(&s.back),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n");
    served_free(&s);
    ws_transport_ops.session_free(sess);
    ws_transport_ops.instance_free(inst);
}
END_TEST

/* Heads over 8 KiB are refused (431 from the server), shorter ones waited for. */
START_TEST(test_oversize_heads)
{
    size_t big = 9000;
    char *req = malloc(big + 64);
    ck_assert_ptr_nonnull(req);
    int n = snprintf(req, big + 64, "GET /ws HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'a', big - (size_t)n);
    memcpy(req + big, "\r\n\r\n", 5);
    void *inst = ws_inst(1, "{\"path\":\"/ws\"}");
    void *sess = server_session(inst, NULL);
    served s = serve(sess, req, 8191, 0);
    ck_assert_int_eq(s.r, EVP_OK); /* still under the bound: wait */
    served_free(&s);
    s = serve(sess, req, 8192, 0);
    ck_assert_int_eq(s.r, EVP_ERR);
    ck_assert_ptr_nonnull(strstr(s.reason, "over 8 KiB"));
    ck_assert_str_eq(ws_head_text(&s.back),
                     "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; "
                     "charset=utf-8\r\nConnection: close\r\n\r\n");
    served_free(&s);
    ws_transport_ops.session_free(sess);

    /* The connection ends inside a head: refused without a reply. */
    sess = server_session(inst, NULL);
    s = serve(sess, req, 100, 1);
    ck_assert_int_eq(s.r, EVP_ERR);
    ck_assert_uint_eq(s.back.len, 0);
    served_free(&s);
    ws_transport_ops.session_free(sess);
    ws_transport_ops.instance_free(inst);

    /* A client refuses a response head over 8 KiB. */
    void *cinst = ws_inst(0, "{}");
    ws_link l;
    ws_link_open(&l, cinst, NULL, NULL, NULL);
    memcpy(req, "HTTP/1.1 101 OK\r\nX: ", 20);
    ws_put_bytes(&l.s2c, req, big);
    ws_pump(&l);
    ck_assert(l.cli.err);
    ck_assert_ptr_nonnull(strstr(l.cli.reason, "over 8 KiB"));
    ws_link_close(&l);
    ws_transport_ops.instance_free(cinst);
    free(req);
}
END_TEST

/* The client checks the 101: status, Upgrade/Connection, Sec-WebSocket-Accept. */
START_TEST(test_client_checks_101)
{
    static const char *const replies[] = {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
    };
    static const char *const reasons[] = {"upgrade refused: HTTP/1.1 404 Not Found",
                                          "wrong Sec-WebSocket-Accept", "without Upgrade",
                                          "upgrade refused: HTTP/1.1 200 OK"};
    void *cinst = ws_inst(0, "{}");
    for (size_t i = 0; i < 4; i++) {
        ws_link l;
        ws_link_open(&l, cinst, NULL, NULL, NULL);
        ws_put_bytes(&l.s2c, replies[i], strlen(replies[i]));
        ws_pump(&l);
        ck_assert(l.cli.err);
        ck_assert_msg(strstr(l.cli.reason, reasons[i]) != NULL, "%zu: %s", i, l.cli.reason);
        ws_link_close(&l);
    }
    ws_transport_ops.instance_free(cinst);
}
END_TEST

/* Early data through a pair: the first maxEarlyData bytes in the header, the rest framed,
 * all up at the server in order; the 101 echoes the header. */
static void early_pair(const char *client_json, const char *server_json, const char *header)
{
    ws_link l;
    ws_pair_open(&l, client_json, server_json);
    ck_assert_uint_eq(l.c2s.len, 0); /* waits for the first bytes */
    uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
    ws_put_bytes(&l.cli.send, data, sizeof(data));
    ck_assert(ws_step_encode(&l, &l.cli, &l.c2s, 0));
    ck_assert_uint_eq(l.cli.send.len, sizeof(data) - 2048); /* the rest waits for the 101 */
    char *req = ws_head_text(&l.c2s);
    char want[3000];
    snprintf(want, sizeof(want), "\r\n%s: ", header);
    char *h = strstr(req, want);
    ck_assert_msg(h != NULL, "%s", req);
    char text[WS_B64URL_LEN(2048) + 1];
    ws_b64url_encode(data, 2048, text);
    text[WS_B64URL_LEN(2048)] = '\0';
    ck_assert(strncmp(h + strlen(want), text, strlen(text)) == 0);
    ws_pump(&l);
    ck_assert_msg(!l.cli.err && !l.srv.err, "%s%s", l.cli.reason, l.srv.reason);
    ck_assert_uint_eq(l.srv.got.len, sizeof(data));
    ck_assert_mem_eq(l.srv.got.data, data, sizeof(data));
    ws_pair_close(&l);
}

START_TEST(test_early_data_named_header)
{
    early_pair("{\"path\":\"/ws\",\"maxEarlyData\":2048,\"earlyDataHeaderName\":\"X-Ed\"}",
               "{\"path\":\"/ws\",\"maxEarlyData\":2048,\"earlyDataHeaderName\":\"X-Ed\"}", "X-Ed");
}
END_TEST

START_TEST(test_early_data_subprotocol)
{
    /* No header name: Sec-WebSocket-Protocol, which any server here reads (as Xray's). */
    early_pair("{\"path\":\"/ws\",\"maxEarlyData\":2048}", "{\"path\":\"/ws\"}",
               "Sec-WebSocket-Protocol");
}
END_TEST

/* Hand-made requests in Xray's (?ed= plus the subprotocol) and V2Ray 4.39's (appended to the
 * path) forms: the data up first, the subprotocol echoed. */
START_TEST(test_early_data_request_forms)
{
    static const struct {
        const char *server;
        const char *target;
        const char *header;
        const char *echo;
    } cases[] = {
        {"{\"path\":\"/ws\"}", "/ws?ed=2048", "Sec-WebSocket-Protocol: SGVsbG8\r\n",
         "Sec-WebSocket-Protocol: SGVsbG8\r\n"},
        {"{\"path\":\"/ws\",\"maxEarlyData\":2048,\"earlyDataHeaderName\":\"X-Ed\"}", "/ws",
         "X-Ed: SGVsbG8\r\n", "X-Ed: SGVsbG8\r\n"},
        {"{\"path\":\"/ws\",\"maxEarlyData\":2048}", "/wsSGVsbG8", "", NULL},
        /* a server told of another header still takes Xray's form (the data would be lost) */
        {"{\"path\":\"/ws\",\"earlyDataHeaderName\":\"X-Ed\"}", "/ws?ed=2048",
         "Sec-WebSocket-Protocol: SGVsbG8\r\n", "Sec-WebSocket-Protocol: SGVsbG8\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *inst = ws_inst(1, cases[i].server);
        void *sess = server_session(inst, NULL);
        char req[1024];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s\r\n",
                         cases[i].target, cases[i].header);
        /* and a masked frame right behind the request: it comes up after the early data */
        evp_buf all = {0};
        static const uint8_t mask[4] = {1, 2, 3, 4};
        ws_put_bytes(&all, req, (size_t)n);
        ws_frame(&all, 0x82, " world", 6, mask);
        served s = serve(sess, (const char *)all.data, all.len, 0);
        ck_assert_msg(s.r == EVP_OK, "case %zu: %s", i, s.reason);
        ck_assert_uint_eq(s.consumed, all.len);
        ck_assert_uint_eq(s.up.len, 11);
        ck_assert_mem_eq(s.up.data, "Hello world", 11);
        char *head = ws_head_text(&s.back);
        if (cases[i].echo)
            ck_assert_msg(strstr(head, cases[i].echo) != NULL, "case %zu: %s", i, head);
        else
            ck_assert_ptr_null(strstr(head, "SGVsbG8"));
        served_free(&s);
        test_buf_free(&all);
        ws_transport_ops.session_free(sess);
        ws_transport_ops.instance_free(inst);
    }
    /* A named early data header that is not base64url: 400. */
    void *inst = ws_inst(1, "{\"path\":\"/ws\",\"earlyDataHeaderName\":\"X-Ed\"}");
    void *sess = server_session(inst, NULL);
    const char *req = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                      "X-Ed: no/good\r\n\r\n";
    served s = serve(sess, req, strlen(req), 0);
    ck_assert_int_eq(s.r, EVP_ERR);
    ck_assert(strncmp(ws_head_text(&s.back), "HTTP/1.1 400 ", 13) == 0);
    served_free(&s);
    ws_transport_ops.session_free(sess);
    ws_transport_ops.instance_free(inst);
}
END_TEST

/* The whole stream fits in the early data and ends: the Close follows the 101. */
START_TEST(test_early_data_then_end)
{
    ws_link l;
    ws_pair_open(&l, "{\"maxEarlyData\":100}", "{}");
    ws_put_bytes(&l.cli.send, "short", 5);
    l.cli.send_eof = 1;
    ws_pump(&l);
    ck_assert_msg(!l.cli.err && !l.srv.err, "%s%s", l.cli.reason, l.srv.reason);
    ck_assert_uint_eq(l.srv.got.len, 5);
    ck_assert_mem_eq(l.srv.got.data, "short", 5);
    ck_assert(l.srv.got_eof); /* the client's Close */
    ck_assert(l.cli.got_eof); /* the server's reply */
    ws_pair_close(&l);
}
END_TEST

static const char xff_request[] =
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
    "X-Forwarded-For: unknown, 203.0.113.7, 10.0.0.1\r\n\r\n";

/* One request from peer to a server with settings: the number of EVP_TARGETs (with the
 * address in *target) before the 101. */
static int xff_targets(const char *settings, evp_addr peer, const char *req, evp_addr *target)
{
    void *inst = ws_inst(1, settings);
    void *sess = server_session(inst, &peer);
    int targets = 0;
    evp_buf back = {0}, up = {0};
    for (int i = 0; i < 3; i++) {
        evp_io io = {.in = (const uint8_t *)req, .in_len = strlen(req), .out = &up, .back = &back};
        int r = ws_transport_ops.decode(sess, &io);
        if (r == EVP_TARGET) {
            ck_assert_uint_eq(io.consumed, 0);
            ck_assert_uint_eq(back.len + up.len, 0);
            *target = io.target;
            targets++;
            continue;
        }
        ck_assert_msg(r == EVP_OK, "%s", io.reason);
        ck_assert_uint_eq(io.consumed, strlen(req));
        ck_assert(strncmp((char *)back.data, "HTTP/1.1 101 ", 13) == 0);
        break;
    }
    test_buf_free(&back);
    test_buf_free(&up);
    ws_transport_ops.session_free(sess);
    ws_transport_ops.instance_free(inst);
    return targets;
}

START_TEST(test_forwarded_for)
{
    evp_addr t;
    memset(&t, 0, sizeof(t));
    /* Loopback is trusted by default: the first valid address, once, before the 101. */
    ck_assert_int_eq(xff_targets("{\"path\":\"/ws\"}", ws_ip4(127, 0, 0, 1, 5), xff_request, &t),
                     1);
    ck_assert_int_eq(t.type, EVP_ADDR_IPV4);
    ck_assert_int_eq(t.port, 0);
    ck_assert_mem_eq(t.bytes, ((uint8_t[]){203, 0, 113, 7}), 4);
    /* An IPv4-mapped loopback peer too. */
    evp_addr mapped = {.type = EVP_ADDR_IPV6, .len = 16};
    mapped.bytes[10] = mapped.bytes[11] = 0xff;
    mapped.bytes[12] = 127, mapped.bytes[15] = 1;
    ck_assert_int_eq(xff_targets("{\"path\":\"/ws\"}", mapped, xff_request, &t), 1);
    /* Anyone else's X-Forwarded-For is ignored. */
    ck_assert_int_eq(xff_targets("{\"path\":\"/ws\"}", ws_ip4(198, 51, 100, 9, 5), xff_request, &t),
                     0);
    /* trustedProxies replaces the default: that network is trusted, loopback no more. */
    const char *only = "{\"path\":\"/ws\",\"trustedProxies\":[\"198.51.100.0/24\"]}";
    ck_assert_int_eq(xff_targets(only, ws_ip4(198, 51, 100, 9, 5), xff_request, &t), 1);
    ck_assert_int_eq(xff_targets(only, ws_ip4(198, 51, 101, 9, 5), xff_request, &t), 0);
    ck_assert_int_eq(xff_targets(only, ws_ip4(127, 0, 0, 1, 5), xff_request, &t), 0);
    ck_assert_int_eq(xff_targets("{\"trustedProxies\":[],\"path\":\"/ws\"}",
                                 ws_ip4(127, 0, 0, 1, 5), xff_request, &t),
                     0);
    /* An IPv6 client behind the front. */
    const char *v6 = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                     "x-forwarded-for:  2001:db8::1 \r\n\r\n";
    ck_assert_int_eq(xff_targets("{\"path\":\"/ws\"}", ws_ip4(127, 0, 0, 1, 5), v6, &t), 1);
    ck_assert_int_eq(t.type, EVP_ADDR_IPV6);
    ck_assert_int_eq(t.bytes[0], 0x20);
    ck_assert_int_eq(t.bytes[15], 1);
    /* A header with no address in it names nobody. */
    const char *none = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
                       "X-Forwarded-For: unknown, example.com\r\n\r\n";
    ck_assert_int_eq(xff_targets("{\"path\":\"/ws\"}", ws_ip4(127, 0, 0, 1, 5), none, &t), 0);
}
END_TEST

START_TEST(test_settings_errors)
{
    static const struct {
        int server;
        const char *json;
        const char *err;
    } cases[] = {
        {0, "{\"headers\":{\"Upgrade\":\"h2c\"}}", "headers.Upgrade: set by the WebSocket"},
        {0, "{\"headers\":{\"Bad Name\":\"x\"}}", "headers.Bad Name: not a header name"},
        {0, "{\"headers\":{\"X\":\"a\\r\\nEvil: 1\"}}", "headers.X: not a one-line string"},
        {0, "{\"headers\":{\"X\":1}}", "headers.X: not a one-line string"},
        {0, "{\"path\":\"/a b\"}", "path: a space"},
        {0, "{\"path\":7}", "path: not a string"},
        {0, "{\"maxEarlyData\":-5}", "maxEarlyData: not an integer"},
        {0, "{\"earlyDataHeaderName\":\"Connection\"}", "earlyDataHeaderName"},
        {1, "{\"trustedProxies\":[\"10.0.0.0/33\"]}", "trustedProxies[0]: not an IP or CIDR"},
        {1, "{\"trustedProxies\":[\"::1\",\"nope\"]}", "trustedProxies[1]"},
        {1, "[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        void *inst = ws_inst_try(cases[i].server, cases[i].json, NULL, err, sizeof(err));
        ck_assert_msg(inst == NULL, "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].err) != NULL, "case %zu: %s", i, err);
    }
    /* V2Ray's old "Path" key, and a path without its leading '/'. */
    void *inst = ws_inst(0, "{\"Path\":\"old\"}");
    ws_link l;
    ws_link_open(&l, inst, NULL, NULL, NULL);
    ck_assert(strncmp(ws_head_text(&l.c2s), "GET /old HTTP/1.1\r\n", 19) == 0);
    ws_link_close(&l);
    ws_transport_ops.instance_free(inst);
}
END_TEST

Suite *ws_handshake_suite(void)
{
    Suite *s = suite_create("ws_handshake");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_accept_rfc_example);
    tcase_add_test(tc, test_b64url_round_trip);
    tcase_add_test(tc, test_server_rfc_request);
    tcase_add_test(tc, test_client_request_shape);
    tcase_add_test(tc, test_client_default_host);
    tcase_add_test(tc, test_upgrade_both_sides);
    tcase_add_test(tc, test_server_refusals);
    tcase_add_test(tc, test_oversize_heads);
    tcase_add_test(tc, test_client_checks_101);
    tcase_add_test(tc, test_early_data_named_header);
    tcase_add_test(tc, test_early_data_subprotocol);
    tcase_add_test(tc, test_early_data_request_forms);
    tcase_add_test(tc, test_early_data_then_end);
    tcase_add_test(tc, test_forwarded_for);
    tcase_add_test(tc, test_settings_errors);
    suite_add_tcase(s, tc);
    return s;
}
