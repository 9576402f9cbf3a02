/* The "h2" transport's server refusals, as V2Ray 4.34's hub answers them (404 for a Host not
 * in `host` or a path not under `path`), its one stream per connection (GOAWAY naming it,
 * REFUSED_STREAM for another), and settings it refuses. */
#include "h2_fixture.h"

typedef struct seen {
    int status_404, rst_refused, goaway_last, data;
    uint32_t rst_stream;
} seen;

static void look(void *ctx, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *p,
                 size_t len)
{
    seen *s = ctx;
    if (type == 1 && len >= 1 && p[0] == 0x8d) /* HEADERS, :status 404 from HPACK's table */
        s->status_404++;
    if (type == 3 && len == 4 && p[3] == 7) { /* RST_STREAM REFUSED_STREAM */
        s->rst_refused++;
        s->rst_stream = stream;
    }
    if (type == 7 && len >= 8) /* GOAWAY: last stream id */
        s->goaway_last = (int)(((uint32_t)(p[0] & 0x7f) << 24) | ((uint32_t)p[1] << 16) |
                               ((uint32_t)p[2] << 8) | p[3]);
    if (type == 0)
        s->data += (int)len;
}

static const struct {
    const char *client, *server, *why;
} refusals[] = {
    {"{\"path\":\"/b\"}", "{\"path\":\"/a\"}", "request for /b on www.example.com (404 sent)"},
    {"{\"path\":\"/\"}", "{\"path\":\"/a/b\"}", "request for / on"},
    /* A path is matched before '?', so a query cannot make it fit. */
    {"{\"path\":\"/x?/a\"}", "{\"path\":\"/a\"}", "request for /x?/a on"},
    {"{\"host\":[\"b.example\"]}", "{\"host\":[\"a.example\"]}", "request for / on b.example"},
    /* No host configured means V2Ray's www.example.com on both sides. */
    {"{\"host\":[\"a.example\"]}", "{}", "request for / on a.example (404 sent)"},
};

START_TEST(answered_404)
{
    h2_side c, s;
    h2_side_open(&c, 0, refusals[_i].client);
    h2_side_open(&s, 1, refusals[_i].server);
    tdrive_buf_put(&c.above, "hello", 5);
    h2_start(&c);
    ck_assert_int_eq(h2_deliver(&c, &s, 0), EVP_ERR);
    ck_assert_msg(strstr(s.reason, refusals[_i].why) != NULL, "%s", s.reason);
    ck_assert_uint_eq(s.up.len, 0);
    seen w = {0};
    h2_frames(&s.wire, look, &w);
    ck_assert_int_eq(w.status_404, 1);
    /* The client reads the 404 as a failure, as V2Ray's dialer does. */
    ck_assert_int_eq(h2_deliver(&s, &c, 0), EVP_ERR);
    ck_assert_str_eq(c.reason, "the server answered 404, not 200");
    ck_assert_uint_eq(c.up.len, 0);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

static const struct {
    const char *client, *server;
} accepted[] = {
    {"{\"path\":\"/a/b?x=1\"}", "{\"path\":\"/a\"}"}, /* a prefix, as V2Ray matches */
    {"{\"path\":\"a\"}", "{\"path\":\"/a\"}"},        /* a '/' put in front */
    {"{\"host\":\"x.example,y.example\"}", "{\"host\":[\"y.example\",\"x.example\"]}"},
    {"{\"method\":\"POST\",\"headers\":{\"User-Agent\":[\"a\",\"b\"]}}", "{}"},
};

START_TEST(accepted_requests)
{
    h2_side c, s;
    h2_side_open(&c, 0, accepted[_i].client);
    h2_side_open(&s, 1, accepted[_i].server);
    tdrive_buf_put(&c.above, "hello", 5);
    h2_start(&c);
    h2_pump(&c, &s, 0, 100);
    ck_assert_msg(s.up_status == EVP_OK, "%s", s.reason);
    ck_assert_uint_eq(s.up.len, 5);
    ck_assert_mem_eq(s.up.data, "hello", 5);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

/* HEADERS for stream 3 (GET https://www.example.com/, END_STREAM), HPACK without Huffman. */
static const uint8_t second_request[] = {
    0, 0, 20, 1, 0x05, 0, 0, 0, 3, 0x82, 0x87, 0x84, 0x41, 15, 'w', 'w', 'w', '.', 'e',
    'x',  'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'};

/* The first stream is the connection's session: the server names it in a GOAWAY (so Go's
 * client opens a new connection for the next) and refuses another that came anyway. */
START_TEST(second_stream_refused)
{
    h2_side c, s;
    h2_side_open(&c, 0, "{}");
    h2_side_open(&s, 1, "{}");
    tdrive_buf_put(&c.above, "first", 5);
    h2_start(&c);
    tdrive_buf_put(&c.wire, second_request, sizeof second_request);
    ck_assert_int_eq(h2_deliver(&c, &s, 0), EVP_OK);
    ck_assert_uint_eq(s.up.len, 5);
    seen w = {0};
    h2_frames(&s.wire, look, &w);
    ck_assert_int_eq(w.rst_refused, 1);
    ck_assert_uint_eq(w.rst_stream, 3);
    ck_assert_int_eq(w.goaway_last, 1);
    /* The first stream goes on. (The client is not shown the server's bytes: it never
     * opened stream 3, which the test wrote in its name.) */
    s.wire.len = 0;
    tdrive_buf_put(&s.above, "answer", 6);
    ck_assert_int_eq(h2_encode(&s), EVP_OK);
    memset(&w, 0, sizeof w);
    h2_frames(&s.wire, look, &w);
    ck_assert_int_eq(w.data, 6);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

/* A connection that ends before or inside the stream is an error, not an end. */
START_TEST(cut_connections)
{
    h2_side c, s;
    h2_side_open(&c, 0, "{}");
    h2_side_open(&s, 1, "{}");
    ck_assert_int_eq(h2_decode(&s, NULL, 0, 1), EVP_ERR);
    ck_assert_str_eq(s.reason, "the connection ended before the stream began");
    h2_side_close(&s);
    h2_side_open(&s, 1, "{}");
    tdrive_buf_put(&c.above, "x", 1);
    h2_start(&c);
    h2_pump(&c, &s, 0, 100);
    ck_assert_int_eq(h2_decode(&s, NULL, 0, 1), EVP_ERR);
    ck_assert_str_eq(s.reason, "the connection ended inside the stream");
    h2_side_close(&c);
    h2_side_close(&s);
    h2_side_open(&c, 0, "{}");
    h2_side_open(&s, 1, "{}");
    tdrive_buf_put(&c.above, "x", 1);
    h2_start(&c);
    h2_pump(&c, &s, 0, 100);
    /* A frame larger than the 16 KiB allowed: nghttp2 writes a GOAWAY and reads no more. */
    static const uint8_t too_large[] = {0, 0x40, 1, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq(h2_decode(&s, too_large, sizeof too_large, 0), EVP_ERR);
    ck_assert_str_eq(s.reason, "the client broke HTTP/2 (FRAME_SIZE_ERROR; GOAWAY sent)");
    /* Garbage instead of a client preface. */
    h2_side_close(&s);
    h2_side_open(&s, 1, "{}");
    ck_assert_int_eq(h2_decode(&s, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0), EVP_ERR);
    h2_side_close(&c);
    h2_side_close(&s);
}
END_TEST

START_TEST(settings_refused)
{
    static const struct {
        const char *json, *err;
    } cases[] = {
        {"{\"host\":5}", "host: not a string or list of strings"},
        {"{\"host\":[\"a\",3]}", "host: not a string or list of strings"},
        {"{\"headers\":{\"X-A\":5}}", "headers.X-A: not a string or list of strings"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        evp_transport_args a = {.size = sizeof a, .server = 0, .tag = "t",
                                .settings_json = cases[i].json, .stream_json = "{}"};
        void *inst = h2_plugin()->transport->instance_new(test_host_get(), &a, err, sizeof err);
        ck_assert_ptr_null(inst);
        ck_assert_str_eq(err, cases[i].err);
    }
}
END_TEST

Suite *h2_refusals_suite(void)
{
    Suite *s = suite_create("h2_refusals");
    TCase *tc = tcase_create("h2_refusals");
    tcase_add_loop_test(tc, answered_404, 0, sizeof refusals / sizeof refusals[0]);
    tcase_add_loop_test(tc, accepted_requests, 0, sizeof accepted / sizeof accepted[0]);
    tcase_add_test(tc, second_stream_refused);
    tcase_add_test(tc, cut_connections);
    tcase_add_test(tc, settings_refused);
    suite_add_tcase(s, tc);
    return s;
}
