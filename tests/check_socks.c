/* The SOCKS5 inbound (RFC 1928/1929) and the SOCKS5 UDP datagram header helpers.
 *
 * Expected bytes are written out by hand from the RFCs, not produced by the code under test:
 * method selection "05 MM", auth status "01 SS", and replies "05 REP 00 01 0.0.0.0 0". */
#include "builtin/builtin.h"
#include "builtin/socks_udp.h"
#include "inbound_drive.h"

#include <check.h>
#include <string.h>

#define REPLY(rep) 0x05, (rep), 0x00, 0x01, 0, 0, 0, 0, 0, 0

static const evp_inbound_ops *ops(void)
{
    return evp_builtin_socks()->inbound;
}

static void *inst_new(const char *json)
{
    char err[256] = "";
    evp_instance_args a = {.size = sizeof a, .tag = "t", .settings_json = json};
    void *in = ops()->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(in != NULL, "instance_new(%s): %s", json, err);
    return in;
}

/* instance_new must refuse json with an error mentioning want. */
static void inst_refused(const char *json, const char *want)
{
    char err[256] = "";
    evp_instance_args a = {.size = sizeof a, .tag = "t", .settings_json = json};
    void *in = ops()->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(in == NULL, "accepted %s", json);
    ck_assert_msg(strstr(err, want) != NULL, "error for %s lacks \"%s\": %s", json, want, err);
    ck_assert_ptr_null(strchr(err, '\n'));
}

static void drv_open(drv *d, const char *json)
{
    drv_start(d, ops(), inst_new(json));
}

/* Feeds msg one byte per call until decode returns something other than EVP_OK. */
static int drv_bytewise(drv *d, const uint8_t *msg, size_t len, size_t *fed)
{
    int r = EVP_OK;
    size_t i = 0;
    while (i < len && r == EVP_OK)
        r = drv_decode(d, msg + i++, 1, 0);
    *fed = i;
    return r;
}

static void assert_bytes(const evp_buf *b, const uint8_t *want, size_t n)
{
    ck_assert_uint_eq(b->len, n);
    ck_assert_msg(n == 0 || memcmp(b->data, want, n) == 0, "bytes differ");
}

static const uint8_t greet_none[] = {0x05, 0x01, 0x00};
static const uint8_t greet_pass[] = {0x05, 0x02, 0x00, 0x02};
static const uint8_t req_v4[] = {0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50};
static const uint8_t req_dom[] = {0x05, 0x01, 0x00, 0x03, 11,  'e', 'x', 'a',  'm',
                                  'p',  'l',  'e',  '.',  'c', 'o', 'm', 0x01, 0xbb};
static const uint8_t req_v6[] = {0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0,    0,
                                 0,    0,    0,    0,    0, 0, 0, 0, 1, 0x1f, 0x90};

static void assert_target(const evp_addr *t, int which)
{
    static const uint8_t v6[16] = {[15] = 1};
    if (which == 0) {
        ck_assert_int_eq(t->type, EVP_ADDR_IPV4);
        ck_assert_int_eq(t->len, 4);
        ck_assert_mem_eq(t->bytes, "\x7f\x00\x00\x01", 4);
        ck_assert_uint_eq(t->port, 80);
    } else if (which == 1) {
        ck_assert_int_eq(t->type, EVP_ADDR_DOMAIN);
        ck_assert_int_eq(t->len, 11);
        ck_assert_str_eq((const char *)t->bytes, "example.com");
        ck_assert_uint_eq(t->port, 443);
    } else {
        ck_assert_int_eq(t->type, EVP_ADDR_IPV6);
        ck_assert_int_eq(t->len, 16);
        ck_assert_mem_eq(t->bytes, v6, 16);
        ck_assert_uint_eq(t->port, 8080);
    }
}

static const uint8_t *const requests[] = {req_v4, req_dom, req_v6};
static const size_t request_lens[] = {sizeof req_v4, sizeof req_dom, sizeof req_v6};

/* noauth CONNECT for each address type, fed in one piece; then the reply and passthrough. */
START_TEST(connect_each_type)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(drv_decode(&d, NULL, 0, 0), EVP_OK); /* the accept-time call */
    ck_assert_int_eq(drv_decode(&d, greet_none, sizeof greet_none, 0), EVP_OK);
    ck_assert_uint_eq(d.io.consumed, 3);
    const uint8_t sel[] = {0x05, 0x00};
    assert_bytes(&d.back, sel, 2);
    ck_assert_int_eq(drv_decode(&d, requests[_i], request_lens[_i], 0), EVP_TARGET);
    ck_assert_uint_eq(d.io.consumed, request_lens[_i]);
    ck_assert_int_eq(d.io.network, EVP_NET_TCP);
    assert_target(&d.io.target, _i);
    ck_assert_uint_eq(d.out.len, 0);
    assert_bytes(&d.back, sel, 2); /* no reply before the outbound connects */

    ck_assert_int_eq(drv_connected(&d, 1), EVP_OK);
    const uint8_t ok[] = {0x05, 0x00, REPLY(0x00)};
    assert_bytes(&d.back, ok, sizeof ok);

    ck_assert_int_eq(drv_decode(&d, "hello", 5, 0), EVP_OK);
    ck_assert_uint_eq(d.io.consumed, 5);
    assert_bytes(&d.out, (const uint8_t *)"hello", 5);
    ck_assert_int_eq(drv_decode(&d, NULL, 0, 1), EVP_EOF);
    ck_assert_ptr_null(ops()->session_user(d.sess));
    drv_close(&d);
}
END_TEST

/* The same exchanges one byte per call: no early answer, same target, nothing lost. */
START_TEST(connect_bytewise)
{
    drv d;
    drv_open(&d, "{\"auth\":\"password\",\"accounts\":[{\"user\":\"u1\",\"pass\":\"p1\"}]}");
    uint8_t msg[64];
    static const uint8_t auth[] = {0x01, 0x02, 'u', '1', 0x02, 'p', '1'};
    size_t n = 0, fed;
    memcpy(msg, greet_pass, sizeof greet_pass);
    n += sizeof greet_pass;
    memcpy(msg + n, auth, sizeof auth);
    n += sizeof auth;
    memcpy(msg + n, requests[_i], request_lens[_i]);
    n += request_lens[_i];
    ck_assert_int_eq(drv_bytewise(&d, msg, n, &fed), EVP_TARGET);
    ck_assert_uint_eq(fed, n);
    ck_assert_uint_eq(d.pending.len, 0);
    assert_target(&d.io.target, _i);
    const uint8_t back[] = {0x05, 0x02, 0x01, 0x00};
    assert_bytes(&d.back, back, sizeof back);
    ck_assert_str_eq(ops()->session_user(d.sess), "u1");
    drv_close(&d);
}
END_TEST

/* Greeting, request and data in one segment: the data survives the handshake unchanged. */
START_TEST(pipelined_data_kept)
{
    drv d;
    drv_open(&d, "{\"auth\":\"noauth\"}");
    uint8_t msg[64];
    size_t n = 0;
    memcpy(msg, greet_none, sizeof greet_none);
    n += sizeof greet_none;
    memcpy(msg + n, req_dom, sizeof req_dom);
    n += sizeof req_dom;
    memcpy(msg + n, "GET / HTTP/1.0\r\n", 16);
    n += 16;
    ck_assert_int_eq(drv_decode(&d, msg, n, 0), EVP_TARGET);
    ck_assert_uint_eq(d.io.consumed, sizeof greet_none + sizeof req_dom);
    assert_target(&d.io.target, 1);
    ck_assert_uint_eq(d.pending.len, 16);
    /* The host decodes the rest after opening the outbound, before or after connected. */
    ck_assert_int_eq(drv_decode(&d, NULL, 0, 0), EVP_OK);
    assert_bytes(&d.out, (const uint8_t *)"GET / HTTP/1.0\r\n", 16);
    ck_assert_int_eq(drv_connected(&d, 1), EVP_OK);
    ck_assert_int_eq(drv_decode(&d, "x", 1, 0), EVP_OK);
    ck_assert_uint_eq(d.out.len, 17);
    ck_assert_int_eq(d.out.data[16], 'x');
    drv_close(&d);
}
END_TEST

START_TEST(password_accounts)
{
    drv d;
    drv_open(&d, "{\"auth\":\"password\",\"accounts\":[{\"user\":\"alice\",\"pass\":\"a\"},"
                 "{\"user\":\"bob\",\"pass\":\"secret\"}]}");
    static const uint8_t msg[] = {0x05, 0x01, 0x02, 0x01, 3,   'b', 'o', 'b',
                                  6,    's',  'e',  'c',  'r', 'e', 't'};
    ck_assert_int_eq(drv_decode(&d, msg, sizeof msg, 0), EVP_OK);
    ck_assert_uint_eq(d.io.consumed, sizeof msg);
    const uint8_t back[] = {0x05, 0x02, 0x01, 0x00};
    assert_bytes(&d.back, back, sizeof back);
    ck_assert_int_eq(drv_decode(&d, req_v4, sizeof req_v4, 0), EVP_TARGET);
    ck_assert_str_eq(ops()->session_user(d.sess), "bob");
    drv_close(&d);
}
END_TEST

START_TEST(connect_failure_reply)
{
    drv d;
    drv_open(&d, "{}");
    drv_decode(&d, greet_none, sizeof greet_none, 0);
    ck_assert_int_eq(drv_decode(&d, req_v4, sizeof req_v4, 0), EVP_TARGET);
    ck_assert_int_eq(drv_connected(&d, 0), EVP_ERR);
    const uint8_t back[] = {0x05, 0x00, REPLY(0x04)};
    assert_bytes(&d.back, back, sizeof back);
    ck_assert_str_ne(d.io.reason, "");
    drv_close(&d);
}
END_TEST

START_TEST(eof_mid_handshake)
{
    drv d;
    drv_open(&d, "{}");
    ck_assert_int_eq(drv_decode(&d, greet_none, 2, 0), EVP_OK);
    ck_assert_int_eq(drv_decode(&d, NULL, 0, 1), EVP_ERR);
    ck_assert_str_ne(d.io.reason, "");
    ck_assert_uint_eq(d.back.len, 0);
    drv_close(&d);
}
END_TEST

/* Bytes from the target may not overtake the CONNECT reply. */
START_TEST(encode_waits_for_reply)
{
    drv d;
    drv_open(&d, "{}");
    drv_decode(&d, greet_none, sizeof greet_none, 0);
    ck_assert_int_eq(drv_decode(&d, req_v4, sizeof req_v4, 0), EVP_TARGET);
    evp_io io = {.in = (const uint8_t *)"ab", .in_len = 2, .out = &d.out, .back = &d.back};
    ck_assert_int_eq(ops()->encode(d.sess, &io), EVP_ERR);
    ck_assert_int_eq(drv_connected(&d, 1), EVP_OK);
    memset(&io, 0, sizeof io);
    io.in = (const uint8_t *)"ab";
    io.in_len = 2;
    io.out = &d.out;
    io.back = &d.back;
    ck_assert_int_eq(ops()->encode(d.sess, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 2);
    assert_bytes(&d.out, (const uint8_t *)"ab", 2);
    drv_close(&d);
}
END_TEST

/* UDP ASSOCIATE with settings.udp: the target names the relay's client; the reply carries
 * the bound address the host passes to connected() (or settings.ip with its port). */
static const struct assoc_case {
    const char *settings;
    evp_addr bound;
    uint8_t reply[32];
    size_t reply_len;
} assoc_cases[] = {
    {"{\"udp\":true}",
     {.type = EVP_ADDR_IPV4, .len = 4, .port = 5555, .bytes = {127, 0, 0, 1}},
     {5, 0, 0, 1, 127, 0, 0, 1, 0x15, 0xb3},
     10},
    {"{\"udp\":true,\"ip\":\"127.0.0.9\"}",
     {.type = EVP_ADDR_IPV4, .len = 4, .port = 5555, .bytes = {127, 0, 0, 1}},
     {5, 0, 0, 1, 127, 0, 0, 9, 0x15, 0xb3},
     10},
    {"{\"udp\":true}",
     {.type = EVP_ADDR_IPV6, .len = 16, .port = 5555, .bytes = {[15] = 1}},
     {5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x15, 0xb3},
     22},
};

START_TEST(udp_associate)
{
    const struct assoc_case *c = &assoc_cases[_i];
    drv d;
    drv_open(&d, c->settings);
    static const uint8_t msg[] = {5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(drv_decode(&d, msg, sizeof msg, 0), EVP_TARGET);
    ck_assert_uint_eq(d.io.consumed, sizeof msg);
    ck_assert_int_eq(d.io.network, EVP_NET_UDP_RELAY);
    ck_assert_int_eq(d.io.target.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(d.io.target.port, 0);
    /* Nothing travels on the control connection. */
    ck_assert_int_eq(drv_decode(&d, "junk", 4, 0), EVP_OK);
    ck_assert_uint_eq(d.pending.len, 0);
    ck_assert_uint_eq(d.out.len, 0);

    memset(&d.io, 0, sizeof d.io);
    d.io.out = &d.out;
    d.io.back = &d.back;
    d.io.target = c->bound;
    ck_assert_int_eq(ops()->connected(d.sess, 1, &d.io), EVP_OK);
    ck_assert_uint_eq(d.back.len, 2 + c->reply_len);
    ck_assert_mem_eq(d.back.data + 2, c->reply, c->reply_len);
    ck_assert_int_eq(drv_decode(&d, "more", 4, 1), EVP_EOF);
    ck_assert_uint_eq(d.out.len, 0);
    drv_close(&d);
}
END_TEST

START_TEST(udp_associate_fails)
{
    drv d;
    drv_open(&d, "{\"udp\":true}");
    static const uint8_t msg[] = {5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(drv_decode(&d, msg, sizeof msg, 0), EVP_TARGET);
    ck_assert_int_eq(drv_connected(&d, 0), EVP_ERR);
    const uint8_t back[] = {0x05, 0x00, REPLY(0x01)};
    assert_bytes(&d.back, back, sizeof back);
    drv_close(&d);
}
END_TEST

/* ---- malformed exchanges: each gets the right reply bytes, then EVP_ERR ----------------- */

typedef struct bad_case {
    const char *name;
    const char *settings;
    uint8_t in[40];
    size_t in_len;
    uint8_t back[16];
    size_t back_len;
    const char *reason; /* substring */
} bad_case;

#define PW "{\"auth\":\"password\",\"accounts\":[{\"user\":\"user\",\"pass\":\"pass\"}]}"

/* clang-format off */
static const bad_case bad_cases[] = {
    {"bind", "{}", {5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, 13, {5, 0, REPLY(0x07)}, 12, "BIND"},
    {"udp off", "{}", {5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0}, 13, {5, 0, REPLY(0x07)}, 12, "UDP"},
    {"unknown cmd", "{}", {5, 1, 0, 5, 9, 0, 1, 127, 0, 0, 1, 0, 80}, 13,
     {5, 0, REPLY(0x07)}, 12, "command"},
    {"atyp 2", "{}", {5, 1, 0, 5, 1, 0, 2, 127, 0, 0, 1, 0, 80}, 13,
     {5, 0, REPLY(0x08)}, 12, "address type"},
    {"atyp 5", "{}", {5, 1, 0, 5, 1, 0, 5, 127, 0, 0, 1, 0, 80}, 13,
     {5, 0, REPLY(0x08)}, 12, "address type"},
    {"empty domain", "{}", {5, 1, 0, 5, 1, 0, 3, 0, 0, 80}, 10, {5, 0, REPLY(0x01)}, 12, "domain"},
    {"request v4", "{}", {5, 1, 0, 4, 1, 0, 1, 127, 0, 0, 1, 0, 80}, 13, {5, 0}, 2, "version"},
    {"greeting v6", "{}", {6, 1, 0}, 3, {0}, 0, "version"},
    {"socks4", "{}", {4, 1, 0, 80, 127, 0, 0, 1, 0}, 9, {0}, 0, "SOCKS4"},
    {"no method", "{}", {5, 1, 2}, 3, {5, 0xff}, 2, "no-authentication"},
    {"zero methods", "{}", {5, 0}, 2, {5, 0xff}, 2, "no-authentication"},
    {"needs password", PW, {5, 1, 0}, 3, {5, 0xff}, 2, "username/password"},
    {"wrong pass", PW, {5, 1, 2, 1, 4, 'u', 's', 'e', 'r', 4, 'p', 'a', 's', 'x'}, 14,
     {5, 2, 1, 1}, 4, "invalid"},
    {"wrong user", PW, {5, 1, 2, 1, 4, 'u', 's', 'e', 'x', 4, 'p', 'a', 's', 's'}, 14,
     {5, 2, 1, 1}, 4, "invalid"},
    {"short pass", PW, {5, 1, 2, 1, 4, 'u', 's', 'e', 'r', 3, 'p', 'a', 's'}, 13,
     {5, 2, 1, 1}, 4, "invalid"},
    {"empty creds", PW, {5, 1, 2, 1, 0, 0}, 6, {5, 2, 1, 1}, 4, "invalid"},
    {"auth version", PW, {5, 1, 2, 5, 4, 'u', 's', 'e', 'r', 4, 'p', 'a', 's', 's'}, 14,
     {5, 2, 1, 1}, 4, "version"},
};
/* clang-format on */

static void check_bad(const bad_case *c, int bytewise)
{
    drv d;
    drv_open(&d, c->settings);
    int r;
    if (bytewise) {
        size_t fed;
        r = drv_bytewise(&d, c->in, c->in_len, &fed);
    } else {
        r = drv_decode(&d, c->in, c->in_len, 0);
    }
    ck_assert_msg(r == EVP_ERR, "%s: returned %d", c->name, r);
    ck_assert_msg(d.back.len == c->back_len, "%s: %zu reply bytes, want %zu", c->name, d.back.len,
                  c->back_len);
    ck_assert_msg(c->back_len == 0 || memcmp(d.back.data, c->back, c->back_len) == 0,
                  "%s: wrong reply bytes", c->name);
    ck_assert_msg(strstr(d.io.reason, c->reason) != NULL, "%s: reason \"%s\" lacks \"%s\"", c->name,
                  d.io.reason, c->reason);
    ck_assert_uint_eq(d.out.len, 0);
    /* A failed session stays failed. */
    ck_assert_int_eq(drv_decode(&d, "x", 1, 0), EVP_ERR);
    drv_close(&d);
}

START_TEST(malformed_whole)
{
    check_bad(&bad_cases[_i], 0);
}
END_TEST

START_TEST(malformed_bytewise)
{
    check_bad(&bad_cases[_i], 1);
}
END_TEST

START_TEST(bad_settings)
{
    inst_refused("{\"auth\":\"basic\"}", "settings.auth");
    inst_refused("{\"auth\":\"password\"}", "settings.accounts");
    inst_refused("{\"auth\":\"password\",\"accounts\":[]}", "settings.accounts");
    inst_refused("{\"auth\":\"password\",\"accounts\":[{\"user\":\"u\"}]}", "accounts[0]");
    inst_refused("{\"accounts\":[{\"user\":\"u\",\"pass\":\"p\"},7]}", "accounts[1]");
    inst_refused("{\"accounts\":{}}", "settings.accounts");
    inst_refused("{\"udp\":\"yes\"}", "settings.udp");
    inst_refused("{\"ip\":\"\"}", "settings.ip");
    inst_refused("{\"userLevel\":-1}", "settings.userLevel");
    inst_refused("{\"auth\":", "JSON");
    inst_refused("[]", "object");
    char big[400];
    snprintf(big, sizeof big, "{\"accounts\":[{\"user\":\"%0256d\",\"pass\":\"p\"}]}", 0);
    inst_refused(big, "255");
    /* Accepted forms. */
    ops()->instance_free(inst_new(NULL));
    ops()->instance_free(inst_new("{\"udp\":true,\"ip\":\"127.0.0.1\",\"userLevel\":3}"));
}
END_TEST

START_TEST(descriptor)
{
    const evp_plugin *p = evp_builtin_socks();
    ck_assert_str_eq(p->name, "socks");
    ck_assert_uint_eq(p->abi_major, EVP_ABI_MAJOR);
    ck_assert_uint_eq(p->size, sizeof(evp_plugin));
    ck_assert_ptr_nonnull(p->inbound);
    ck_assert_ptr_nonnull(p->outbound); /* socks_out.c */
    ck_assert_str_eq(p->inbound_schema, "socks-inbound");
    ck_assert_str_eq(p->outbound_schema, "socks-outbound");
    ck_assert_ptr_nonnull(p->inbound->connected);
}
END_TEST

/* ---- UDP datagram header (RFC 1928 §7) -------------------------------------------------- */

START_TEST(udp_parse_each_type)
{
    static const uint8_t v4[] = {0, 0, 0, 1, 10, 0, 0, 2, 0x00, 0x35, 'q', 'r'};
    static const uint8_t dom[] = {0, 0, 0, 3, 5, 'a', '.', 'b', 'c', 'd', 0x01, 0x00, 'z'};
    /* 2001:db8::9 port 65535 */
    static const uint8_t v6[] = {0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                                 0, 0, 0, 0, 0,    0,    0,    0,    9, 0xff, 0xff};
    evp_addr a;
    size_t off = 99;
    ck_assert_int_eq(evp_socks_udp_parse(v4, sizeof v4, &a, &off), EVP_SOCKS_UDP_OK);
    ck_assert_int_eq(a.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(a.bytes, "\x0a\x00\x00\x02", 4);
    ck_assert_uint_eq(a.port, 53);
    ck_assert_uint_eq(off, 10);
    ck_assert_int_eq(v4[off], 'q');

    ck_assert_int_eq(evp_socks_udp_parse(dom, sizeof dom, &a, &off), EVP_SOCKS_UDP_OK);
    ck_assert_int_eq(a.type, EVP_ADDR_DOMAIN);
    ck_assert_int_eq(a.len, 5);
    ck_assert_str_eq((const char *)a.bytes, "a.bcd");
    ck_assert_uint_eq(a.port, 256);
    ck_assert_uint_eq(off, 12);

    ck_assert_int_eq(evp_socks_udp_parse(v6, sizeof v6, &a, &off), EVP_SOCKS_UDP_OK);
    ck_assert_int_eq(a.type, EVP_ADDR_IPV6);
    ck_assert_mem_eq(a.bytes, v6 + 4, 16);
    ck_assert_uint_eq(a.port, 65535);
    ck_assert_uint_eq(off, sizeof v6); /* an empty payload is a datagram too */
}
END_TEST

START_TEST(udp_parse_malformed)
{
    static const uint8_t frag[] = {0, 0, 1, 1, 10, 0, 0, 2, 0, 53, 'x'};
    static const uint8_t badtype[] = {0, 0, 0, 2, 10, 0, 0, 2, 0, 53};
    static const uint8_t empty[] = {0, 0, 0, 3, 0, 0, 53};
    static const uint8_t v4[] = {0, 0, 0, 1, 10, 0, 0, 2, 0, 53};
    static const uint8_t dom[] = {0, 0, 0, 3, 5, 'a', '.', 'b', 'c', 'd', 0x01, 0x00};
    evp_addr a;
    size_t off;
    ck_assert_int_eq(evp_socks_udp_parse(frag, sizeof frag, &a, &off), EVP_SOCKS_UDP_FRAG);
    ck_assert_int_eq(evp_socks_udp_parse(badtype, sizeof badtype, &a, &off), EVP_SOCKS_UDP_BADTYPE);
    ck_assert_int_eq(evp_socks_udp_parse(empty, sizeof empty, &a, &off), EVP_SOCKS_UDP_EMPTY);
    /* Every truncation of a valid header is short. */
    for (size_t n = 0; n < sizeof v4; n++)
        ck_assert_int_eq(evp_socks_udp_parse(v4, n, &a, &off), EVP_SOCKS_UDP_SHORT);
    for (size_t n = 0; n < sizeof dom; n++)
        ck_assert_int_eq(evp_socks_udp_parse(dom, n, &a, &off), EVP_SOCKS_UDP_SHORT);
}
END_TEST

START_TEST(udp_build)
{
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4, .port = 53, .bytes = {10, 0, 0, 2}};
    uint8_t hdr[EVP_SOCKS_UDP_HDR_MAX];
    static const uint8_t want_v4[] = {0, 0, 0, 1, 10, 0, 0, 2, 0x00, 0x35};
    ck_assert_uint_eq(evp_socks_udp_header(&a, hdr, sizeof hdr), sizeof want_v4);
    ck_assert_mem_eq(hdr, want_v4, sizeof want_v4);
    ck_assert_uint_eq(evp_socks_udp_header(&a, hdr, sizeof want_v4 - 1), 0);

    evp_buf b = {0};
    evp_addr d = {.type = EVP_ADDR_DOMAIN, .len = 7, .port = 0x1234};
    memcpy(d.bytes, "foo.bar", 8);
    ck_assert_int_eq(evp_socks_udp_build(test_host_get(), &b, &d, (const uint8_t *)"hi", 2), 0);
    static const uint8_t want_dom[] = {0,   0,   0,   3,   7,    'f',  'o', 'o',
                                       '.', 'b', 'a', 'r', 0x12, 0x34, 'h', 'i'};
    assert_bytes(&b, want_dom, sizeof want_dom);

    /* Round trip through the parser. */
    evp_addr back;
    size_t off;
    ck_assert_int_eq(evp_socks_udp_parse(b.data, b.len, &back, &off), EVP_SOCKS_UDP_OK);
    ck_assert_int_eq(back.type, EVP_ADDR_DOMAIN);
    ck_assert_str_eq((const char *)back.bytes, "foo.bar");
    ck_assert_uint_eq(back.port, 0x1234);
    ck_assert_uint_eq(b.len - off, 2);

    evp_addr v6 = {.type = EVP_ADDR_IPV6, .len = 16, .port = 1, .bytes = {[0] = 0xfe, [15] = 7}};
    b.len = 0;
    ck_assert_int_eq(evp_socks_udp_build(test_host_get(), &b, &v6, NULL, 0), 0);
    ck_assert_uint_eq(b.len, 3 + 1 + 16 + 2);
    ck_assert_int_eq(b.data[3], 4);
    ck_assert_int_eq(b.data[4], 0xfe);
    ck_assert_int_eq(b.data[19], 7);

    evp_addr none = {.type = EVP_ADDR_NONE};
    b.len = 0;
    ck_assert_int_eq(evp_socks_udp_build(test_host_get(), &b, &none, (const uint8_t *)"x", 1), -1);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(evp_socks_udp_header(&none, hdr, sizeof hdr), 0);
    test_buf_free(&b);
}
END_TEST

Suite *socks_suite(void)
{
    Suite *s = suite_create("socks");
    TCase *tc = tcase_create("inbound");
    tcase_add_loop_test(tc, connect_each_type, 0, 3);
    tcase_add_loop_test(tc, connect_bytewise, 0, 3);
    tcase_add_test(tc, pipelined_data_kept);
    tcase_add_test(tc, password_accounts);
    tcase_add_test(tc, connect_failure_reply);
    tcase_add_test(tc, eof_mid_handshake);
    tcase_add_test(tc, encode_waits_for_reply);
    tcase_add_loop_test(tc, udp_associate, 0, sizeof assoc_cases / sizeof assoc_cases[0]);
    tcase_add_test(tc, udp_associate_fails);
    tcase_add_loop_test(tc, malformed_whole, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_loop_test(tc, malformed_bytewise, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, bad_settings);
    tcase_add_test(tc, descriptor);
    suite_add_tcase(s, tc);
    TCase *tu = tcase_create("udp");
    tcase_add_test(tu, udp_parse_each_type);
    tcase_add_test(tu, udp_parse_malformed);
    tcase_add_test(tu, udp_build);
    suite_add_tcase(s, tu);
    return s;
}
