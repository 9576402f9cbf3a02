/* The built-in dokodemo-door inbound and freedom / blackhole outbounds, driven in memory.
 *
 * The blackhole's HTTP answer below was captured from V2Ray 4.34 itself (dokodemo-door ->
 * blackhole {"response":{"type":"http"}} on 127.0.0.1), not taken from our source. */
#include "builtin/builtin.h"
#include "test_host.h"

#include <check.h>
#include <string.h>
#include <sys/socket.h>

static const char v2ray_403[] = "HTTP/1.1 403 Forbidden\nConnection: close\n"
                                "Cache-Control: max-age=3600, public\nContent-Length: 0\n\n\n";

static evp_instance_args args(const char *json)
{
    evp_instance_args a = {.size = sizeof a, .tag = "t", .settings_json = json};
    return a;
}

static void *in_new(const evp_plugin *p, const char *json)
{
    char err[256] = "";
    evp_instance_args a = args(json);
    void *i = p->inbound->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(i != NULL, "%s(%s): %s", p->name, json, err);
    return i;
}

static void *out_new(const evp_plugin *p, const char *json)
{
    char err[256] = "";
    evp_instance_args a = args(json);
    void *i = p->outbound->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(i != NULL, "%s(%s): %s", p->name, json, err);
    return i;
}

/* p must refuse json with a one-line error mentioning want. */
static void refused(const evp_plugin *p, const char *json, const char *want)
{
    char err[256] = "";
    evp_instance_args a = args(json);
    void *i = p->inbound ? p->inbound->instance_new(test_host_get(), &a, err, sizeof err)
                         : p->outbound->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(i == NULL, "%s accepted %s", p->name, json);
    ck_assert_msg(strstr(err, want) != NULL, "%s: error for %s lacks \"%s\": %s", p->name, json,
                  want, err);
    ck_assert_ptr_null(strchr(err, '\n'));
}

static int run(int (*fn)(void *, evp_io *), void *sess, const char *in, int eof, evp_buf *out,
               evp_buf *back, evp_io *io)
{
    memset(io, 0, sizeof *io);
    io->in = (const uint8_t *)in;
    io->in_len = in ? strlen(in) : 0;
    io->in_eof = eof;
    io->out = out;
    io->back = back;
    return fn(sess, io);
}

static evp_addr domain(const char *name, uint16_t port)
{
    evp_addr a = {.type = EVP_ADDR_DOMAIN, .len = (uint8_t)strlen(name), .port = port};
    memcpy(a.bytes, name, a.len + 1);
    return a;
}

START_TEST(descriptors)
{
    const evp_plugin *in[] = {evp_builtin_dokodemo()};
    const evp_plugin *out[] = {evp_builtin_freedom(), evp_builtin_blackhole()};
    ck_assert_str_eq(in[0]->name, "dokodemo-door");
    ck_assert_str_eq(in[0]->inbound_schema, "dokodemo-door-inbound");
    ck_assert_ptr_null(in[0]->outbound);
    ck_assert_str_eq(out[0]->name, "freedom");
    ck_assert_str_eq(out[0]->outbound_schema, "freedom-outbound");
    ck_assert_uint_eq(out[0]->outbound->flags & EVP_OUT_DATAGRAM, EVP_OUT_DATAGRAM);
    ck_assert_str_eq(out[1]->name, "blackhole");
    ck_assert_str_eq(out[1]->outbound_schema, "blackhole-outbound");
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_null(out[i]->inbound);
        ck_assert_uint_eq(out[i]->abi_major, EVP_ABI_MAJOR);
        ck_assert_uint_eq(out[i]->size, sizeof(evp_plugin));
    }
    ck_assert_uint_eq(in[0]->abi_major, EVP_ABI_MAJOR);
}
END_TEST

/* ---- dokodemo-door ------------------------------------------------------------------- */

static const struct doko_case {
    const char *json;
    uint8_t type, len;
    const char *bytes; /* address bytes, written out by hand */
    uint16_t port;
    uint8_t network;
} doko_cases[] = {
    {"{\"address\":\"127.0.0.1\",\"port\":5201}", EVP_ADDR_IPV4, 4, "\x7f\x00\x00\x01", 5201,
     EVP_NET_TCP},
    {"{\"address\":\"example.org\",\"port\":80,\"network\":\"tcp\"}", EVP_ADDR_DOMAIN, 11,
     "example.org", 80, EVP_NET_TCP},
    {"{\"address\":\"::1\",\"port\":53,\"network\":\"udp\"}", EVP_ADDR_IPV6, 16,
     "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 53, EVP_NET_UDP},
    {"{\"address\":\"10.1.2.3\",\"port\":65535,\"network\":\"tcp,udp\",\"timeout\":30,"
     "\"userLevel\":1,\"followRedirect\":false}",
     EVP_ADDR_IPV4, 4, "\x0a\x01\x02\x03", 65535, EVP_NET_TCP},
    {"{\"address\":\"1.1.1.1\",\"port\":1,\"network\":[\"udp\"]}", EVP_ADDR_IPV4, 4,
     "\x01\x01\x01\x01", 1, EVP_NET_UDP},
};

START_TEST(doko_target_at_once)
{
    const struct doko_case *c = &doko_cases[_i];
    const evp_inbound_ops *ops = evp_builtin_dokodemo()->inbound;
    void *inst = in_new(evp_builtin_dokodemo(), c->json);
    void *s = ops->session_new(inst);
    ck_assert_ptr_nonnull(s);
    evp_buf out = {0}, back = {0};
    evp_io io;
    ck_assert_int_eq(run(ops->decode, s, NULL, 0, &out, &back, &io), EVP_TARGET);
    ck_assert_uint_eq(io.consumed, 0);
    ck_assert_int_eq(io.target.type, c->type);
    ck_assert_int_eq(io.target.len, c->len);
    ck_assert_mem_eq(io.target.bytes, c->bytes, c->len);
    ck_assert_uint_eq(io.target.port, c->port);
    ck_assert_int_eq(io.network, c->network);
    if (c->type == EVP_ADDR_DOMAIN)
        ck_assert_int_eq(io.target.bytes[c->len], '\0');

    ck_assert_int_eq(run(ops->decode, s, "abc", 0, &out, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 3);
    ck_assert_uint_eq(out.len, 3);
    ck_assert_mem_eq(out.data, "abc", 3);
    ck_assert_int_eq(run(ops->decode, s, "d", 1, &out, &back, &io), EVP_EOF);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_uint_eq(back.len, 0);

    evp_buf down = {0};
    ck_assert_int_eq(run(ops->encode, s, "reply", 0, &down, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 5);
    ck_assert_uint_eq(down.len, 5);
    ck_assert_mem_eq(down.data, "reply", 5);
    ck_assert_int_eq(run(ops->encode, s, NULL, 1, &down, &back, &io), EVP_OK);
    ck_assert_uint_eq(down.len, 5);
    ops->session_free(s);
    ops->instance_free(inst);
    test_buf_free(&out);
    test_buf_free(&down);
}
END_TEST

/* Bytes that arrive with the first call are not eaten by naming the target. */
START_TEST(doko_first_bytes_kept)
{
    const evp_inbound_ops *ops = evp_builtin_dokodemo()->inbound;
    void *inst = in_new(evp_builtin_dokodemo(), "{\"address\":\"127.0.0.1\",\"port\":7}");
    void *s = ops->session_new(inst);
    evp_buf out = {0}, back = {0};
    evp_io io;
    ck_assert_int_eq(run(ops->decode, s, "early", 0, &out, &back, &io), EVP_TARGET);
    ck_assert_uint_eq(io.consumed, 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(run(ops->decode, s, "early", 0, &out, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 5);
    ck_assert_mem_eq(out.data, "early", 5);
    ops->session_free(s);
    ops->instance_free(inst);
    test_buf_free(&out);
}
END_TEST

START_TEST(doko_bad_settings)
{
    const evp_plugin *p = evp_builtin_dokodemo();
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":80,\"followRedirect\":true}", "followRedirect");
    refused(p, "{\"port\":80}", "settings.address");
    refused(p, "{\"address\":\"\",\"port\":80}", "settings.address");
    refused(p, "{\"address\":\"a b\",\"port\":80}", "settings.address");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":65536}", "settings.port");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":\"80\"}", "settings.port");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":80,\"network\":\"sctp\"}", "settings.network");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":80,\"network\":\"tcp,\"}", "settings.network");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":80,\"network\":[]}", "settings.network");
    refused(p, "{\"address\":\"1.2.3.4\",\"port\":80,\"timeout\":-1}", "settings.timeout");
    refused(p, "{\"address\":7,\"port\":80}", "settings.address");
    refused(p, "{\"address\":", "JSON");
    refused(p, NULL, "settings.address");
}
END_TEST

/* ---- freedom ------------------------------------------------------------------------- */

static const struct redirect_case {
    const char *redirect; /* NULL: no redirect */
    evp_addr target;
    uint8_t type; /* of the dial address */
    const char *bytes;
    uint8_t len;
    uint16_t port;
} redirect_cases[] = {
    {NULL,
     {.type = EVP_ADDR_DOMAIN, .len = 7, .port = 443, .bytes = "a.b.com"},
     EVP_ADDR_DOMAIN,
     "a.b.com",
     7,
     443},
    {"1.2.3.4:80",
     {.type = EVP_ADDR_DOMAIN, .len = 7, .port = 443, .bytes = "a.b.com"},
     EVP_ADDR_IPV4,
     "\x01\x02\x03\x04",
     4,
     80},
    {":8080",
     {.type = EVP_ADDR_DOMAIN, .len = 7, .port = 443, .bytes = "a.b.com"},
     EVP_ADDR_DOMAIN,
     "a.b.com",
     7,
     8080},
    {"0.0.0.0:25",
     {.type = EVP_ADDR_IPV4, .len = 4, .port = 443, .bytes = {9, 9, 9, 9}},
     EVP_ADDR_IPV4,
     "\x09\x09\x09\x09",
     4,
     25},
    {"example.org:0",
     {.type = EVP_ADDR_IPV4, .len = 4, .port = 443, .bytes = {9, 9, 9, 9}},
     EVP_ADDR_DOMAIN,
     "example.org",
     11,
     443},
    {"[::1]:53",
     {.type = EVP_ADDR_IPV4, .len = 4, .port = 443, .bytes = {9, 9, 9, 9}},
     EVP_ADDR_IPV6,
     "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01",
     16,
     53},
    {"localhost:65535",
     {.type = EVP_ADDR_IPV6, .len = 16, .port = 1, .bytes = {[15] = 1}},
     EVP_ADDR_DOMAIN,
     "localhost",
     9,
     65535},
};

START_TEST(freedom_dial)
{
    const struct redirect_case *c = &redirect_cases[_i];
    const evp_outbound_ops *ops = evp_builtin_freedom()->outbound;
    char json[128], err[256] = "";
    if (c->redirect)
        snprintf(json, sizeof json, "{\"redirect\":\"%s\"}", c->redirect);
    else
        snprintf(json, sizeof json, "{\"domainStrategy\":\"UseIPv4\"}");
    void *inst = out_new(evp_builtin_freedom(), json);
    evp_addr dial;
    memset(&dial, 0xee, sizeof dial);
    void *s = ops->session_new(inst, &c->target, EVP_NET_TCP, &dial, err, sizeof err);
    ck_assert_msg(s != NULL, "session_new: %s", err);
    ck_assert_int_eq(dial.type, c->type);
    ck_assert_int_eq(dial.len, c->len);
    ck_assert_mem_eq(dial.bytes, c->bytes, c->len);
    ck_assert_uint_eq(dial.port, c->port);
    if (c->type == EVP_ADDR_DOMAIN)
        ck_assert_int_eq(dial.bytes[c->len], '\0');

    evp_buf out = {0}, back = {0};
    evp_io io;
    ck_assert_int_eq(run(ops->encode, s, NULL, 0, &out, &back, &io), EVP_OK); /* after dial */
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(run(ops->encode, s, "up", 0, &out, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 2);
    ck_assert_mem_eq(out.data, "up", 2);
    evp_buf down = {0};
    ck_assert_int_eq(run(ops->decode, s, "down", 0, &down, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 4);
    ck_assert_uint_eq(down.len, 4);
    ck_assert_mem_eq(down.data, "down", 4);
    ck_assert_int_eq(run(ops->decode, s, NULL, 1, &down, &back, &io), EVP_EOF);
    ck_assert_uint_eq(back.len, 0);
    ops->session_free(s);
    ops->instance_free(inst);
    test_buf_free(&out);
    test_buf_free(&down);
}
END_TEST

/* The family freedom's names resolve to, as V2Ray 4.34's resolveIP picks it: UseIPv4 or an
 * IPv4 sendThrough first, then UseIPv6 or an IPv6 one; AsIs (and unknown words) leave it to
 * the core; any other plugin asks nothing. */
START_TEST(freedom_dial_family)
{
    static const struct {
        const char *settings;
        uint8_t send_through; /* evp_addr type */
        int want;
    } cases[] = {
        {"{}", EVP_ADDR_NONE, AF_UNSPEC},
        {"{\"domainStrategy\":\"AsIs\"}", EVP_ADDR_IPV4, AF_UNSPEC},
        {"{\"domainStrategy\":\"bogus\"}", EVP_ADDR_IPV6, AF_UNSPEC},
        {"{\"domainStrategy\":\"UseIP\"}", EVP_ADDR_NONE, AF_UNSPEC},
        {"{\"domainStrategy\":\"UseIP\"}", EVP_ADDR_IPV4, AF_INET},
        {"{\"domainStrategy\":\"UseIP\"}", EVP_ADDR_IPV6, AF_INET6},
        {"{\"domainStrategy\":\"UseIPv4\"}", EVP_ADDR_NONE, AF_INET},
        {"{\"domainStrategy\":\"use_ip4\"}", EVP_ADDR_IPV6, AF_INET},
        {"{\"domainStrategy\":\"UseIPv6\"}", EVP_ADDR_NONE, AF_INET6},
        {"{\"domainStrategy\":\"UseIPv6\"}", EVP_ADDR_IPV4, AF_INET},
    };
    const evp_plugin *p = evp_builtin_freedom();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *inst = out_new(p, cases[i].settings);
        evp_addr via = {.type = cases[i].send_through};
        ck_assert_msg(evp_builtin_dial_family(p, inst, &via) == cases[i].want, "%s via type %u",
                      cases[i].settings, cases[i].send_through);
        p->outbound->instance_free(inst);
    }
    /* another plugin's instance is never read as freedom's */
    void *hole = out_new(evp_builtin_blackhole(), "{}");
    evp_addr v4 = {.type = EVP_ADDR_IPV4};
    ck_assert_int_eq(evp_builtin_dial_family(evp_builtin_blackhole(), hole, &v4), AF_UNSPEC);
    evp_builtin_blackhole()->outbound->instance_free(hole);
}
END_TEST

START_TEST(freedom_settings)
{
    const evp_plugin *p = evp_builtin_freedom();
    refused(p, "{\"redirect\":\"nohost\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"::1:80\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"[::1]80\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"[::1:80\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"[a b]:80\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"host:\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"host:65536\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"host:8a\"}", "settings.redirect");
    refused(p, "{\"redirect\":\"host:-1\"}", "settings.redirect");
    refused(p, "{\"redirect\":5}", "settings.redirect");
    refused(p, "{\"domainStrategy\":1}", "settings.domainStrategy");
    refused(p, "{\"userLevel\":\"x\"}", "settings.userLevel");
    refused(p, "nope", "JSON");
    /* V2Ray reads an unknown domainStrategy as AsIs; so do we. */
    const evp_outbound_ops *ops = p->outbound;
    const char *ok[] = {"{}",
                        NULL,
                        "{\"domainStrategy\":\"AsIs\"}",
                        "{\"domainStrategy\":\"useip\"}",
                        "{\"domainStrategy\":\"UseIPv6\"}",
                        "{\"domainStrategy\":\"whatever\",\"timeout\":10,\"userLevel\":2}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ops->instance_free(out_new(p, ok[i]));

    /* No target: nothing to dial. */
    void *inst = out_new(p, "{}");
    evp_addr none = {.type = EVP_ADDR_NONE}, dial;
    char err[256] = "";
    ck_assert_ptr_null(ops->session_new(inst, &none, EVP_NET_TCP, &dial, err, sizeof err));
    ck_assert_str_ne(err, "");
    /* UDP targets are dialled the same way. */
    evp_addr t = domain("dns.example", 53);
    void *s = ops->session_new(inst, &t, EVP_NET_UDP, &dial, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq((const char *)dial.bytes, "dns.example");
    ops->session_free(s);
    ops->instance_free(inst);
}
END_TEST

/* ---- blackhole ----------------------------------------------------------------------- */

START_TEST(blackhole_http)
{
    const evp_outbound_ops *ops = evp_builtin_blackhole()->outbound;
    void *inst = out_new(evp_builtin_blackhole(), "{\"response\":{\"type\":\"http\"}}");
    evp_addr t = domain("blocked.example", 80), dial;
    memset(&dial, 0xee, sizeof dial);
    char err[256] = "";
    void *s = ops->session_new(inst, &t, EVP_NET_TCP, &dial, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(dial.type, EVP_ADDR_NONE);

    evp_buf out = {0}, back = {0};
    evp_io io;
    ck_assert_int_eq(run(ops->encode, s, "GET / HTTP/1.1\r\n\r\n", 0, &out, &back, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 18);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(back.len, 0);

    evp_buf down = {0};
    ck_assert_int_eq(run(ops->decode, s, NULL, 0, &down, &back, &io), EVP_OK);
    ck_assert_uint_eq(down.len, 0);
    ck_assert_int_eq(run(ops->decode, s, NULL, 1, &down, &back, &io), EVP_EOF);
    ck_assert_uint_eq(down.len, strlen(v2ray_403));
    ck_assert_mem_eq(down.data, v2ray_403, down.len);
    /* Said once only. */
    ck_assert_int_eq(run(ops->decode, s, NULL, 1, &down, &back, &io), EVP_EOF);
    ck_assert_uint_eq(down.len, strlen(v2ray_403));
    ops->session_free(s);
    ops->instance_free(inst);
    test_buf_free(&down);
}
END_TEST

START_TEST(blackhole_none)
{
    const evp_outbound_ops *ops = evp_builtin_blackhole()->outbound;
    const char *forms[] = {"{}", NULL, "{\"response\":{\"type\":\"none\"}}", "{\"response\":{}}"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        void *inst = out_new(evp_builtin_blackhole(), forms[i]);
        evp_addr t = domain("x.example", 1), dial;
        char err[256] = "";
        void *s = ops->session_new(inst, &t, EVP_NET_UDP, &dial, err, sizeof err);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(dial.type, EVP_ADDR_NONE);
        evp_buf out = {0}, back = {0};
        evp_io io;
        ck_assert_int_eq(run(ops->encode, s, "data", 1, &out, &back, &io), EVP_OK);
        ck_assert_uint_eq(io.consumed, 4);
        ck_assert_int_eq(run(ops->decode, s, NULL, 1, &out, &back, &io), EVP_EOF);
        ck_assert_uint_eq(out.len, 0);
        ck_assert_uint_eq(back.len, 0);
        ops->session_free(s);
        ops->instance_free(inst);
    }
}
END_TEST

START_TEST(blackhole_settings)
{
    const evp_plugin *p = evp_builtin_blackhole();
    refused(p, "{\"response\":{\"type\":\"html\"}}", "settings.response.type");
    refused(p, "{\"response\":{\"type\":3}}", "settings.response.type");
    refused(p, "{\"response\":\"http\"}", "settings.response");
    refused(p, "{", "JSON");
}
END_TEST

/* settings.userLevel is the policy level of every session of the inbound (V2Ray's socks, http
 * and dokodemo-door servers take their policy from it); 0 when absent. */
START_TEST(user_level_is_the_session_level)
{
    const evp_plugin *p = _i == 0 ? evp_builtin_socks() : _i == 1 ? evp_builtin_http()
                                                                   : evp_builtin_dokodemo();
    const char *json[2] = {_i == 2 ? "{\"address\":\"127.0.0.1\",\"port\":1,\"userLevel\":7}"
                                   : "{\"userLevel\":7}",
                           _i == 2 ? "{\"address\":\"127.0.0.1\",\"port\":1}" : "{}"};
    const uint32_t want[2] = {7, 0};
    for (int k = 0; k < 2; k++) {
        void *inst = in_new(p, json[k]);
        void *sess = p->inbound->session_new(inst);
        ck_assert_ptr_nonnull(p->inbound->session_level);
        ck_assert_uint_eq(p->inbound->session_level(sess), want[k]);
        p->inbound->session_free(sess);
        p->inbound->instance_free(inst);
    }
}
END_TEST

Suite *builtin_suite(void)
{
    Suite *s = suite_create("builtin");
    TCase *tc = tcase_create("builtin");
    tcase_add_test(tc, descriptors);
    tcase_add_loop_test(tc, doko_target_at_once, 0, sizeof doko_cases / sizeof doko_cases[0]);
    tcase_add_test(tc, doko_first_bytes_kept);
    tcase_add_test(tc, doko_bad_settings);
    tcase_add_loop_test(tc, freedom_dial, 0, sizeof redirect_cases / sizeof redirect_cases[0]);
    tcase_add_test(tc, freedom_settings);
    tcase_add_test(tc, freedom_dial_family);
    tcase_add_test(tc, blackhole_http);
    tcase_add_test(tc, blackhole_none);
    tcase_add_test(tc, blackhole_settings);
    tcase_add_loop_test(tc, user_level_is_the_session_level, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
