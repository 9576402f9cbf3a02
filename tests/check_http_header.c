/* The "http-header" transport (plugin/http-header, loaded from the built .so): client and
 * server sessions against each other in memory, and the bytes V2Ray 4.34 writes.
 *
 * The request and response below were captured from V2Ray 4.34 itself (dokodemo-door ->
 * vmess outbound with tcpSettings.header {"type": "http"} -> a logging relay -> vmess
 * inbound with the same header), and the 400/404 from its inbound answering bad requests;
 * not taken from our source. */
#include "test_host.h"
#include "transport_drive.h"

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UA_WIN                                                                                     \
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "                 \
    "Chrome/53.0.2785.143 Safari/537.36"
#define UA_IPHONE                                                                                  \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_0_2 like Mac OS X) AppleWebKit/601.1 (KHTML, like "     \
    "Gecko) CriOS/53.0.2785.109 Mobile/14A456 Safari/601.1.46"
/* Captured: the two User-Agents; Host was www.baidu.com in every capture (the other value,
 * www.bing.com, is from V2Ray's config code). */
#define V2RAY_REQUEST(host, ua)                                                                    \
    "GET / HTTP/1.1\r\nHost: " host "\r\nUser-Agent: " ua "\r\nAccept-Encoding: gzip, "            \
    "deflate\r\nConnection: keep-alive\r\nPragma: no-cache\r\n\r\n"
static const char *const v2ray_requests[] = {
    V2RAY_REQUEST("www.baidu.com", UA_WIN), V2RAY_REQUEST("www.baidu.com", UA_IPHONE),
    V2RAY_REQUEST("www.bing.com", UA_WIN), V2RAY_REQUEST("www.bing.com", UA_IPHONE)};
/* Captured at 1796154985 (V2Ray's Date is the clock's, in GMT). */
#define V2RAY_RESPONSE(type, cache)                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: " type "\r\nTransfer-Encoding: chunked\r\nConnection: "      \
    "keep-alive\r\nPragma: no-cache\r\nCache-Control: " cache                                      \
    "\r\nDate: Tue, 01 Dec 2026 19:56:25 GMT\r\n\r\n"
static const char *const v2ray_responses[] = {
    V2RAY_RESPONSE("application/octet-stream", "private"),
    V2RAY_RESPONSE("application/octet-stream", "no-cache"), V2RAY_RESPONSE("video/mpeg", "private"),
    V2RAY_RESPONSE("video/mpeg", "no-cache")};
static const char v2ray_400[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nCache-Control: "
                                "private\r\nContent-Length: 0\r\nDate: Tue, 01 Dec 2026 "
                                "19:56:25 GMT\r\n\r\n";
static const char v2ray_404[] = "HTTP/1.1 404 Not Found\r\nConnection: close\r\nCache-Control: "
                                "private\r\nContent-Length: 0\r\nDate: Tue, 01 Dec 2026 "
                                "19:56:25 GMT\r\n\r\n";
#define CAPTURE_TIME 1796154985
#define DEFAULTS "{\"header\":{\"type\":\"http\"}}"
#define HH_BIG 9000 /* past V2Ray's 8192-byte bound on a header */

static void *so_handle;

static const evp_plugin *plugin(void)
{
    if (so_handle == NULL) {
        const char *build = getenv("EVP_BUILD");
        char path[512];
        snprintf(path, sizeof path, "%s/plugins/http-header.so", build ? build : "build");
        so_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(so_handle != NULL, "%s", dlerror());
    }
    evp_plugin_entry_fn entry = (evp_plugin_entry_fn)dlsym(so_handle, EVP_ENTRY_SYMBOL);
    ck_assert_ptr_nonnull(entry);
    return entry();
}

/* Which of n strings b starts with (-1: none). */
static int starts_with_one(const evp_buf *b, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b->len >= strlen(set[i]) && memcmp(b->data, set[i], strlen(set[i])) == 0)
            return (int)i;
    return -1;
}

/* wire is one of the 4 headers in set and then `after` more bytes: which one. */
static int header_then(const evp_buf *wire, const char *const *set, size_t after)
{
    int i = starts_with_one(wire, set, 4);
    ck_assert_msg(i >= 0, "not V2Ray's: %.*s", (int)wire->len, wire->data);
    ck_assert_uint_eq(wire->len, strlen(set[i]) + after);
    return i;
}

static int buf_is(const evp_buf *b, const char *s)
{
    return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

/* One connection: a client and a server session of the given instances. */
typedef struct pair {
    tdrive client, server;
} pair;

static void pair_open(pair *p, void *cli, void *srv)
{
    tdrive_open(&p->client, plugin()->transport, cli, NULL);
    tdrive_open(&p->server, plugin()->transport, srv, NULL);
}

static void pair_close(pair *p)
{
    tdrive_close(&p->client);
    tdrive_close(&p->server);
}

/* from's layer above writes data; its wire bytes reach to's decode in pieces of chunk
 * bytes, and to passes data up, unchanged and whole. */
static void send_across(tdrive *from, tdrive *to, const char *data, size_t chunk)
{
    size_t sent = from->down.out.len, before = to->up.out.len;
    ck_assert_int_eq(tdrive_feed(from, 0, data, strlen(data), 0, 0), EVP_OK);
    const evp_buf *wire = &from->down.out;
    ck_assert_int_eq(tdrive_feed(to, 1, wire->data + sent, wire->len - sent, chunk, 0), EVP_OK);
    ck_assert_uint_eq(to->up.out.len - before, strlen(data));
    ck_assert_mem_eq(to->up.out.data + before, data, strlen(data));
}

static void client_to_server(pair *p, const char *data, size_t chunk)
{
    send_across(&p->client, &p->server, data, chunk);
}

static void server_to_client(pair *p, const char *data, size_t chunk)
{
    send_across(&p->server, &p->client, data, chunk);
}

/* The client's first bytes go out behind one of V2Ray's requests, the server's behind one of
 * its responses, byte for byte; later bytes carry no header; every pick shows up. */
START_TEST(v2ray_default_bytes)
{
    *test_host_clock() = CAPTURE_TIME;
    void *cli = tdrive_instance(plugin(), 0, DEFAULTS);
    void *srv = tdrive_instance(plugin(), 1, DEFAULTS);
    int seen_req[4] = {0}, seen_resp[4] = {0};
    for (int round = 0; round < 64; round++) {
        pair p;
        pair_open(&p, cli, srv);
        /* The connect-time call with nothing: V2Ray writes its request with the first bytes. */
        ck_assert_int_eq(tdrive_feed(&p.client, 0, NULL, 0, 0, 0), EVP_OK);
        ck_assert_uint_eq(p.client.down.out.len, 0);
        client_to_server(&p, "vmess header", round % 3 == 0 ? 1 : 0);
        int r = header_then(&p.client.down.out, v2ray_requests, 12);
        seen_req[r]++;
        server_to_client(&p, "vmess response", round % 3 == 1 ? 1 : 0);
        int s = header_then(&p.server.down.out, v2ray_responses, 14);
        seen_resp[s]++;
        /* Only the first exchange carries headers. */
        client_to_server(&p, "more up", 0);
        server_to_client(&p, "more down", 0);
        ck_assert_uint_eq(p.client.down.out.len, strlen(v2ray_requests[r]) + 12 + 7);
        ck_assert_uint_eq(p.server.down.out.len, strlen(v2ray_responses[s]) + 14 + 9);
        ck_assert_uint_eq(p.server.up.back.len, 0);
        /* The ends pass through: the layer above sees in_eof. */
        ck_assert_int_eq(tdrive_feed(&p.server, 1, NULL, 0, 0, 1), EVP_EOF);
        ck_assert_int_eq(tdrive_feed(&p.client, 1, NULL, 0, 0, 1), EVP_EOF);
        pair_close(&p);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_msg(seen_req[i] && seen_resp[i], "pick %d never made (%d, %d)", i, seen_req[i],
                      seen_resp[i]);
    plugin()->transport->instance_free(cli);
    plugin()->transport->instance_free(srv);
    *test_host_clock() = 0;
}
END_TEST

/* Configured request and response: several paths and values picked at random, headers in
 * name order (V2Ray sorts them), the defaults replaced, a configured Date kept. */
START_TEST(configured_values)
{
    static const char cfg[] =
        "{\"header\":{\"type\":\"http\",\"request\":{\"version\":\"1.0\",\"method\":\"POST\","
        "\"path\":[\"/a\",\"/b\"],\"headers\":{\"X-Z\":\"1,2\",\"Host\":[\"h1\",\"h2\",\"h3\"],"
        "\"Empty\":[]}},\"response\":{\"status\":\"206\",\"headers\":{\"date\":\"never\"}}}}";
    void *cli = tdrive_instance(plugin(), 0, cfg);
    void *srv = tdrive_instance(plugin(), 1, cfg);
    int seen[2][3][2] = {{{0}}};
    for (int round = 0; round < 200; round++) {
        pair p;
        pair_open(&p, cli, srv);
        client_to_server(&p, "x", 0);
        char path, host, z;
        const char *req = (const char *)p.client.down.out.data;
        ck_assert_int_eq(sscanf(req, "POST /%c HTTP/1.0\r\nEmpty: \r\nHost: h%c\r\nX-Z: %c\r\n",
                                &path, &host, &z),
                         3);
        char want[128];
        snprintf(want, sizeof want, "POST /%c HTTP/1.0\r\nEmpty: \r\nHost: h%c\r\nX-Z: %c\r\n\r\nx",
                 path, host, z);
        ck_assert_msg(buf_is(&p.client.down.out, want), "%.*s", (int)p.client.down.out.len, req);
        ck_assert(path == 'a' || path == 'b');
        ck_assert(host >= '1' && host <= '3');
        ck_assert(z == '1' || z == '2');
        seen[path - 'a'][host - '1'][z - '1'] = 1;
        server_to_client(&p, "y", 0);
        ck_assert(buf_is(&p.server.down.out, "HTTP/1.1 206 OK\r\ndate: never\r\n\r\ny"));
        pair_close(&p);
    }
    for (int a = 0; a < 2; a++)
        for (int h = 0; h < 3; h++)
            for (int z = 0; z < 2; z++)
                ck_assert_msg(seen[a][h][z], "combination %d %d %d never picked", a, h, z);
    plugin()->transport->instance_free(cli);
    plugin()->transport->instance_free(srv);
}
END_TEST

/* Requests Go's parser reads and whose path is served: accepted, the rest passed up. */
static const char *const accepted[] = {
    "GET / HTTP/1.1\r\n\r\n",
    "get /?q=1 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET http://example.com/ HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\nX: y\n\nafter a bare-LF blank line Go stops reading\r\n\r\n",
    "GET / HTTP/1.1\r\nX: y\r\n folded: continuation\r\n\r\n",
    "PUT / HTTP/2.0\r\nNo-Space:x\r\n\r\n",
};

START_TEST(requests_accepted)
{
    void *srv = tdrive_instance(plugin(), 1, DEFAULTS);
    tdrive d;
    tdrive_open(&d, plugin()->transport, srv, NULL);
    char wire[512];
    snprintf(wire, sizeof wire, "%sPAYLOAD\r\n\r\n", accepted[_i]);
    ck_assert_int_eq(tdrive_feed(&d, 1, wire, strlen(wire), 1, 0), EVP_OK);
    ck_assert_msg(buf_is(&d.up.out, "PAYLOAD\r\n\r\n"), "case %d: %.*s", _i, (int)d.up.out.len,
                  d.up.out.data);
    ck_assert_uint_eq(d.up.back.len, 0);
    tdrive_close(&d);
    plugin()->transport->instance_free(srv);
}
END_TEST

static const struct refusal {
    const char *config;
    const char *wire;
    const char *reply;
    const char *why;
} refusals[] = {
    {DEFAULTS, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", v2ray_404, "path"},
    {DEFAULTS, "GET /%2f HTTP/1.1\r\n\r\n", v2ray_404, "path"},
    {DEFAULTS, "GET http:opaque HTTP/1.1\r\n\r\n", v2ray_404, "path"},
    {"{\"header\":{\"type\":\"http\",\"request\":{\"path\":\"/a\"}}}", "GET / HTTP/1.1\r\n\r\n",
     v2ray_404, "path"},
    {DEFAULTS, "GARBAGE\r\n\r\n", v2ray_400, "request line"},
    {DEFAULTS, "GET / HTTP/1.1\r\nbadheader\r\n\r\n", v2ray_400, "MIME header line"},
    {DEFAULTS, "GET / HTTP/1.1\r\n X: y\r\n\r\n", v2ray_400, "initial line"},
    {DEFAULTS, "G(T / HTTP/1.1\r\n\r\n", v2ray_400, "method"},
    {DEFAULTS, " / HTTP/1.1\r\n\r\n", v2ray_400, "method"},
    {DEFAULTS, "GET / HTTP/1.1x\r\n\r\n", v2ray_400, "version"},
    {DEFAULTS, "GET / HTTP/11\r\n\r\n", v2ray_400, "version"},
    {DEFAULTS, "GET /%2 HTTP/1.1\r\n\r\n", v2ray_400, "URI"},
    {DEFAULTS, "GET %2F HTTP/1.1\r\n\r\n", v2ray_400, "URI"},
    {DEFAULTS, "GET  HTTP/1.1\r\n\r\n", v2ray_400, "URI"},
    {DEFAULTS, "GET /\x7f HTTP/1.1\r\n\r\n", v2ray_400, "URI"},
    {DEFAULTS, "\r\n\r\n", v2ray_400, "request line"},
};

/* Each bad request, byte by byte: V2Ray's 400 or 404 goes back, nothing goes up. */
START_TEST(requests_refused)
{
    const struct refusal *c = &refusals[_i];
    *test_host_clock() = CAPTURE_TIME;
    void *srv = tdrive_instance(plugin(), 1, c->config);
    tdrive d;
    tdrive_open(&d, plugin()->transport, srv, NULL);
    char wire[512];
    snprintf(wire, sizeof wire, "%sPAYLOAD", c->wire);
    ck_assert_int_eq(tdrive_feed(&d, 1, wire, strlen(wire), 1, 0), EVP_ERR);
    ck_assert_msg(strstr(d.up.reason, c->why) != NULL, "case %d: \"%s\" lacks \"%s\"", _i,
                  d.up.reason, c->why);
    ck_assert_msg(buf_is(&d.up.back, c->reply), "case %d: %.*s", _i, (int)d.up.back.len,
                  d.up.back.data);
    ck_assert_uint_eq(d.up.out.len, 0);
    tdrive_close(&d);
    plugin()->transport->instance_free(srv);
    *test_host_clock() = 0;
}
END_TEST

/* Refused as soon as a line is wrong, without waiting for a blank line that never comes;
 * a header without its end within 8192 bytes is refused at byte 8192; a client that
 * leaves inside its header and a server that ends without answering both get the 400. */
START_TEST(bounds_and_ends)
{
    *test_host_clock() = CAPTURE_TIME;
    void *srv = tdrive_instance(plugin(), 1, DEFAULTS);
    void *cli = tdrive_instance(plugin(), 0, DEFAULTS);
    tdrive d;
    tdrive_open(&d, plugin()->transport, srv, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, "SSH-2.0-OpenSSH\r\n", 17, 1, 0), EVP_ERR);
    ck_assert(buf_is(&d.up.back, v2ray_400));
    tdrive_close(&d);

    char *big = malloc(HH_BIG);
    memset(big, 'a', HH_BIG);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    tdrive_open(&d, plugin()->transport, srv, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, big, 8191, 97, 0), EVP_OK);
    ck_assert_int_eq(tdrive_feed(&d, 1, big, 1, 0, 0), EVP_ERR);
    ck_assert_msg(strstr(d.up.reason, "8192") != NULL, "%s", d.up.reason);
    ck_assert(buf_is(&d.up.back, v2ray_400));
    tdrive_close(&d);

    /* The client reads a response header of any content, up to the same bound. */
    tdrive_open(&d, plugin()->transport, cli, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, big, HH_BIG, 1000, 0), EVP_ERR);
    ck_assert_msg(strstr(d.up.reason, "8192") != NULL, "%s", d.up.reason);
    ck_assert_uint_eq(d.up.back.len, 0);
    tdrive_close(&d);
    tdrive_open(&d, plugin()->transport, cli, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, "HTTP/1.1 200 OK\r\n", 17, 0, 1), EVP_ERR);
    ck_assert_msg(strstr(d.up.reason, "closed") != NULL, "%s", d.up.reason);
    tdrive_close(&d);
    free(big);

    tdrive_open(&d, plugin()->transport, srv, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, "GET / HTTP/1.1\r\n", 16, 0, 1), EVP_ERR);
    ck_assert(buf_is(&d.up.back, v2ray_400));
    tdrive_close(&d);

    tdrive_open(&d, plugin()->transport, srv, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, "GET / HTTP/1.1\r\n\r\n", 18, 0, 0), EVP_OK);
    ck_assert_int_eq(tdrive_feed(&d, 0, NULL, 0, 0, 1), EVP_OK);
    ck_assert(buf_is(&d.down.out, v2ray_400));
    tdrive_close(&d);
    plugin()->transport->instance_free(srv);
    plugin()->transport->instance_free(cli);
    *test_host_clock() = 0;
}
END_TEST

START_TEST(settings_refused)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{}", "tcpSettings.header: missing"},
        {"{\"header\":{\"type\":\"none\"}}", "tcpSettings.header.type"},
        {"{\"header\":{\"type\":\"http\",\"request\":{\"headers\":{\"X\":null}}}}",
         "tcpSettings.header.request.headers.X: empty HTTP header value"},
        {"{\"header\":{\"type\":\"http\",\"request\":{\"path\":[1]}}}",
         "tcpSettings.header.request.path[0]: not a string"},
        {"{\"header\":{\"type\":\"http\",\"response\":{\"headers\":{\"X\":\"a\\r\\nb\"}}}}",
         "tcpSettings.header.response.headers.X"},
        {"{\"header\":{\"type\":\"http\",\"response\":[]}}", "tcpSettings.header.response"},
        {"{\"header\":{\"type\":\"http\",\"request\":{\"method\":7}}}",
         "tcpSettings.header.request.method"},
        {"{", "tcpSettings: bad JSON"},
        /* A name with a line break is named escaped: the reason stays on one line (found by
         * fuzz_http_header in CI). */
        {"{\"header\":{\"type\":\"http\",\"request\":{\"headers\":{\"a\\nb\":\"1\"}}}}",
         "tcpSettings.header.request.headers.a\\x0ab: a CR or LF in a header name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        evp_transport_args a = {.size = sizeof a,
                                .server = (int)(i & 1),
                                .tag = "t",
                                .settings_json = bad[i].json,
                                .stream_json = "{}"};
        ck_assert_ptr_null(plugin()->transport->instance_new(test_host_get(), &a, err, sizeof err));
        ck_assert_msg(strstr(err, bad[i].want) != NULL, "%s: \"%s\" lacks \"%s\"", bad[i].json, err,
                      bad[i].want);
        ck_assert_ptr_null(strchr(err, '\n'));
    }
    const evp_plugin *p = plugin();
    ck_assert_str_eq(p->name, "http-header");
    ck_assert_str_eq(p->transport_schema, "tcp-settings");
    ck_assert_ptr_null(p->inbound);
    ck_assert_ptr_null(p->outbound);
}
END_TEST

Suite *http_header_suite(void)
{
    Suite *s = suite_create("http_header");
    TCase *tc = tcase_create("http_header");
    tcase_add_test(tc, v2ray_default_bytes);
    tcase_add_test(tc, configured_values);
    tcase_add_loop_test(tc, requests_accepted, 0, sizeof accepted / sizeof accepted[0]);
    tcase_add_loop_test(tc, requests_refused, 0, sizeof refusals / sizeof refusals[0]);
    tcase_add_test(tc, bounds_and_ends);
    tcase_add_test(tc, settings_refused);
    suite_add_tcase(s, tc);
    return s;
}
