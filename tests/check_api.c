/* V2Ray's StatsService: the core's named counters (names, which switch makes which), the
 * config's `stats`/`api`/policy reading, the plugin's protobuf answers (packed and unpacked
 * with the same generated code), and a gRPC call over HTTP/2 split at every byte. */
#include "api_int.h"
#include "api_stats_conf.h"
#include "errlist.h"
#include "host.h"
#include "stats_command.pb-c.h"
#include "v2stats.h"

#include <check.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    char names[16][128];
    uint64_t values[16];
    size_t n;
    int reset;
} seen;

static int collect(void *ctx, const char *name, uint64_t value)
{
    seen *s = ctx;
    ck_assert_uint_lt(s->n, 16);
    snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
    s->values[s->n++] = value;
    return s->reset;
}

/* The value of name in s, or -1 when it is not there. */
static long long value_of(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return (long long)s->values[i];
    return -1;
}

static const char *const in_tags[] = {"in", ""};
static const char *const out_tags[] = {"out"};

static void count(const char *in, const char *out, const char *user, unsigned level)
{
    evp_v2stats_count(&(evp_v2stats_traffic){in, out, user, level, 1, 2, 10, 20, 100, 200});
}

START_TEST(counters_named_as_v2ray_when_switched_on)
{
    evp_v2stats_clear();
    evp_v2stats_policy p = {.enabled = 1, .inbound_up = 1, .outbound_down = 1,
                            .user_up = 1u << 0, .user_down = 1u << 1};
    evp_v2stats_configure(&p, in_tags, 2, out_tags, 1);
    seen s = {0};
    evp_v2stats_visit("", collect, &s);
    ck_assert_uint_eq(s.n, 2); /* an inbound's and an outbound's exist from the start */
    ck_assert_int_eq(value_of(&s, "inbound>>>in>>>traffic>>>uplink"), 0);
    ck_assert_int_eq(value_of(&s, "outbound>>>out>>>traffic>>>downlink"), 0);
    count("in", "out", "u0@x", 0);
    count("in", "out", "u1@x", 1);
    count("in", "api", NULL, 0); /* no outbound counter made on the fly, no user */
    count("in", "out", "u2@x", 16); /* a level not read: no switch */
    memset(&s, 0, sizeof s);
    evp_v2stats_visit("", collect, &s);
    ck_assert_uint_eq(s.n, 4);
    ck_assert_int_eq(value_of(&s, "inbound>>>in>>>traffic>>>uplink"), 4 * 10);
    ck_assert_int_eq(value_of(&s, "outbound>>>out>>>traffic>>>downlink"), 3 * 200);
    ck_assert_int_eq(value_of(&s, "user>>>u0@x>>>traffic>>>uplink"), 1);
    ck_assert_int_eq(value_of(&s, "user>>>u1@x>>>traffic>>>downlink"), 2);
    /* a prefix visits only its own; the visitor's 1 zeroes after reading */
    memset(&s, 0, sizeof s);
    s.reset = 1;
    ck_assert_uint_eq(evp_v2stats_visit("user>>>", collect, &s), 2);
    memset(&s, 0, sizeof s);
    evp_v2stats_visit("", collect, &s);
    ck_assert_int_eq(value_of(&s, "user>>>u0@x>>>traffic>>>uplink"), 0);
    ck_assert_int_eq(value_of(&s, "inbound>>>in>>>traffic>>>uplink"), 40);
    evp_v2stats_clear();
}
END_TEST

START_TEST(no_stats_block_no_counters)
{
    evp_v2stats_clear();
    evp_v2stats_policy p = {.enabled = 0, .inbound_up = 1, .user_up = 1};
    evp_v2stats_configure(&p, in_tags, 1, out_tags, 1);
    count("in", "out", "u0@x", 0);
    seen s = {0};
    ck_assert_uint_eq(evp_v2stats_visit("", collect, &s), 0);
}
END_TEST

START_TEST(config_switches_and_api_outbound)
{
    json_error_t je;
    json_t *root = json_loads(
        "{\"stats\": {}, \"api\": {\"tag\": \"api\", \"services\": [\"StatsService\", "
        "\"LoggerService\"]}, \"outbounds\": [{\"protocol\": \"freedom\"}], \"policy\": "
        "{\"levels\": {\"0\": {\"statsUserUplink\": true}, \"3\": {\"statsUserDownlink\": "
        "true}}, \"system\": {\"statsInboundDownlink\": true, \"statsOutboundUplink\": true}}}",
        0, &je);
    ck_assert_ptr_nonnull(root);
    evp_v2stats_policy p;
    evp_stats_conf_load(root, &p);
    ck_assert_int_eq(p.enabled, 1);
    ck_assert_int_eq(p.inbound_up, 0);
    ck_assert_int_eq(p.inbound_down, 1);
    ck_assert_int_eq(p.outbound_up, 1);
    ck_assert_int_eq(p.outbound_down, 0);
    ck_assert_uint_eq(p.user_up, 1u << 0);
    ck_assert_uint_eq(p.user_down, 1u << 3);
    evp_errlist errs = {0};
    evp_api_conf_apply(root, &errs);
    ck_assert_int_eq(errs.count, 0);
    json_t *outs = json_object_get(root, "outbounds");
    ck_assert_uint_eq(json_array_size(outs), 2); /* appended: the first stays the default */
    json_t *api = json_array_get(outs, 1);
    ck_assert_str_eq(json_string_value(json_object_get(api, "protocol")), "api");
    ck_assert_str_eq(json_string_value(json_object_get(api, "tag")), "api");
    json_t *svc = json_object_get(json_object_get(api, "settings"), "services");
    ck_assert_uint_eq(json_array_size(svc), 1); /* LoggerService is warned, not served */
    ck_assert(json_is_true(json_object_get(json_object_get(api, "settings"), "stats")));
    json_decref(root);

    root = json_loads("{\"api\": {\"services\": []}, \"outbounds\": []}", 0, &je);
    evp_api_conf_apply(root, &errs);
    ck_assert_int_eq(errs.count, 1);
    char *text = evp_errlist_take(&errs);
    ck_assert_ptr_nonnull(strstr(text, "api.tag"));
    free(text);
    json_decref(root);
    root = json_object();
    evp_stats_conf_load(root, &p);
    ck_assert_int_eq(p.enabled, 0);
    json_decref(root);
}
END_TEST

/* ---- the plugin's answers ------------------------------------------------------------- */

static void two_counters(void)
{
    evp_v2stats_clear();
    evp_v2stats_policy p = {.enabled = 1, .inbound_up = 1, .user_up = 1};
    evp_v2stats_configure(&p, in_tags, 1, out_tags, 1);
    evp_v2stats_count(&(evp_v2stats_traffic){"in", "out", "a@x", 0, 1234, 0, 99, 0, 0, 0});
}

/* method's answer to req, packed; want OK: the reply unpacked as reply_type (else NULL). */
static ProtobufCMessage *call(const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_type, api_answer *a)
{
    uint8_t buf[256];
    size_t len = protobuf_c_message_pack(req, buf);
    api_stats_call(evp_host_services(), 1, method, buf, len, a);
    if (a->status != API_GRPC_OK)
        return NULL;
    ProtobufCMessage *r = protobuf_c_message_unpack(reply_type, NULL, a->len, a->msg);
    free(a->msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

static V2ray__Core__App__Stats__Command__QueryStatsResponse *query(const char *pattern,
                                                                    int reset)
{
    V2ray__Core__App__Stats__Command__QueryStatsRequest req =
        V2RAY__CORE__APP__STATS__COMMAND__QUERY_STATS_REQUEST__INIT;
    req.pattern = (char *)pattern;
    req.reset = reset;
    api_answer a;
    ProtobufCMessage *r =
        call("QueryStats", &req.base,
             &v2ray__core__app__stats__command__query_stats_response__descriptor, &a);
    ck_assert_int_eq(a.status, API_GRPC_OK);
    return (V2ray__Core__App__Stats__Command__QueryStatsResponse *)r;
}

START_TEST(protobuf_round_trip)
{
    two_counters();
    V2ray__Core__App__Stats__Command__QueryStatsResponse *r = query("a@x", 1);
    ck_assert_uint_eq(r->n_stat, 1); /* a substring of the name */
    ck_assert_str_eq(r->stat[0]->name, "user>>>a@x>>>traffic>>>uplink");
    ck_assert_int_eq(r->stat[0]->value, 1234);
    v2ray__core__app__stats__command__query_stats_response__free_unpacked(r, NULL);
    r = query("", 0);
    ck_assert_uint_eq(r->n_stat, 2);
    ck_assert_str_eq(r->stat[0]->name, "inbound>>>in>>>traffic>>>uplink");
    ck_assert_int_eq(r->stat[0]->value, 99);
    ck_assert_int_eq(r->stat[1]->value, 0); /* reset by the first query */
    v2ray__core__app__stats__command__query_stats_response__free_unpacked(r, NULL);

    V2ray__Core__App__Stats__Command__GetStatsRequest get =
        V2RAY__CORE__APP__STATS__COMMAND__GET_STATS_REQUEST__INIT;
    get.name = "inbound>>>in>>>traffic>>>uplink";
    const ProtobufCMessageDescriptor *get_reply =
        &v2ray__core__app__stats__command__get_stats_response__descriptor;
    api_answer a;
    V2ray__Core__App__Stats__Command__GetStatsResponse *g =
        (void *)call("GetStats", &get.base, get_reply, &a);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->stat->value, 99);
    v2ray__core__app__stats__command__get_stats_response__free_unpacked(g, NULL);

    get.name = "inbound>>>in"; /* a prefix is not the name */
    ck_assert_ptr_null(call("GetStats", &get.base, get_reply, &a));
    ck_assert_int_eq(a.status, API_GRPC_UNKNOWN);
    ck_assert_str_eq(a.message, "v2ray.com/core/app/stats/command: inbound>>>in not found.");
    api_stats_call(evp_host_services(), 1, "GetStats", (const uint8_t *)"\xff\xff", 2, &a);
    ck_assert_int_eq(a.status, API_GRPC_INTERNAL); /* not a message */
    V2ray__Core__App__Stats__Command__QueryStatsRequest all =
        V2RAY__CORE__APP__STATS__COMMAND__QUERY_STATS_REQUEST__INIT;
    uint8_t buf[16];
    size_t len = protobuf_c_message_pack(&all.base, buf);
    api_stats_call(evp_host_services(), 0, "QueryStats", buf, len, &a); /* no `stats` block */
    ck_assert_int_eq(a.status, API_GRPC_UNKNOWN);
    ck_assert_str_eq(a.message, "v2ray.com/core/app/stats/command: QueryStats only works its "
                                "own stats.Manager.");
    api_stats_call(evp_host_services(), 1, "Nope", NULL, 0, &a);
    ck_assert_int_eq(a.status, API_GRPC_UNIMPLEMENTED);
    api_stats_call(evp_host_services(), 1, "GetSysStats", NULL, 0, &a);
    ck_assert_int_eq(a.status, API_GRPC_OK);
    V2ray__Core__App__Stats__Command__SysStatsResponse *sys =
        v2ray__core__app__stats__command__sys_stats_response__unpack(NULL, a.len, a.msg);
    ck_assert_ptr_nonnull(sys);
    ck_assert_uint_gt(sys->sys, 0);
    ck_assert_uint_gt(sys->numgoroutine, 0);
    v2ray__core__app__stats__command__sys_stats_response__free_unpacked(sys, NULL);
    free(a.msg);
    evp_v2stats_clear();
}
END_TEST

/* ---- gRPC over HTTP/2, split anywhere ------------------------------------------------- */

typedef struct client {
    nghttp2_session *ng;
    uint8_t body[512];
    size_t body_len;
    char grpc_status[8];
    const uint8_t *req;
    size_t req_len, req_off;
} client;

static ssize_t send_req(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *src, void *user)
{
    client *c = user;
    size_t n = c->req_len - c->req_off;
    n = n < length ? n : length;
    memcpy(buf, c->req + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_body(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    client *c = user;
    ck_assert_uint_le(c->body_len + len, sizeof c->body);
    memcpy(c->body + c->body_len, data, len);
    c->body_len += len;
    return 0;
}

static int on_hdr(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                  void *user)
{
    client *c = user;
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0 && valuelen < 8) {
        memcpy(c->grpc_status, value, valuelen);
        c->grpc_status[valuelen] = '\0';
    }
    return 0;
}

#define NVC(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

/* A client that sent one GetStats call; its bytes appended to out. */
static void client_start(client *c, const uint8_t *req, size_t req_len, evp_buf *out)
{
    nghttp2_session_callbacks *cb;
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_body);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_hdr);
    ck_assert_int_eq(nghttp2_session_client_new(&c->ng, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    c->req = req;
    c->req_len = req_len;
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_nv hd[] = {NVC(":method", "POST"), NVC(":scheme", "http"),
                       NVC(":authority", "127.0.0.1:10085"),
                       NVC(":path", "/v2ray.core.app.stats.command.StatsService/GetStats"),
                       NVC("content-type", "application/grpc"), NVC("te", "trailers")};
    nghttp2_data_provider prd = {.read_callback = send_req};
    ck_assert_int_gt(nghttp2_submit_request(c->ng, NULL, hd, 6, &prd, NULL), 0);
    const uint8_t *data;
    ssize_t k;
    while ((k = nghttp2_session_mem_send(c->ng, &data)) > 0) {
        memcpy(evp_host_services()->buf_reserve(out, (size_t)k), data, (size_t)k);
        out->len += (size_t)k;
    }
}

START_TEST(grpc_call_split_at_every_byte)
{
    two_counters();
    V2ray__Core__App__Stats__Command__GetStatsRequest get =
        V2RAY__CORE__APP__STATS__COMMAND__GET_STATS_REQUEST__INIT;
    get.name = "user>>>a@x>>>traffic>>>uplink";
    uint8_t req[128] = {0};
    size_t mlen = v2ray__core__app__stats__command__get_stats_request__pack(&get, req + 5);
    req[4] = (uint8_t)mlen; /* the gRPC prefix: uncompressed, BE32 length */
    const evp_host *host = evp_host_services();
    evp_buf wire = {0};
    client probe = {0};
    client_start(&probe, req, mlen + 5, &wire);
    nghttp2_session_del(probe.ng);
    for (size_t cut = 0; cut <= wire.len; cut++) {
        client c = {0};
        evp_buf sent = {0}, reply = {0};
        client_start(&c, req, mlen + 5, &sent);
        ck_assert_uint_eq(sent.len, wire.len);
        api_conn *conn = api_conn_new(host, API_STATS_SERVICE | API_STATS_ENABLED);
        char why[128];
        ck_assert_int_eq(api_conn_feed(conn, sent.data, cut, &reply, why, sizeof why), 0);
        ck_assert_int_eq(api_conn_feed(conn, sent.data + cut, sent.len - cut, &reply, why,
                                       sizeof why), 0);
        ck_assert_int_eq(nghttp2_session_mem_recv(c.ng, reply.data, reply.len),
                         (ssize_t)reply.len);
        ck_assert_str_eq(c.grpc_status, "0");
        ck_assert_uint_gt(c.body_len, 5);
        V2ray__Core__App__Stats__Command__GetStatsResponse *g =
            v2ray__core__app__stats__command__get_stats_response__unpack(NULL, c.body_len - 5,
                                                                        c.body + 5);
        ck_assert_ptr_nonnull(g);
        ck_assert_str_eq(g->stat->name, "user>>>a@x>>>traffic>>>uplink");
        ck_assert_int_eq(g->stat->value, 1234);
        v2ray__core__app__stats__command__get_stats_response__free_unpacked(g, NULL);
        api_conn_free(conn);
        nghttp2_session_del(c.ng);
        free(sent.data);
        free(reply.data);
    }
    free(wire.data);
    evp_v2stats_clear();
}
END_TEST

START_TEST(grpc_unknown_service_and_garbage)
{
    const evp_host *host = evp_host_services();
    api_conn *conn = api_conn_new(host, 0); /* StatsService not listed in api.services */
    client c = {0};
    evp_buf sent = {0}, reply = {0};
    uint8_t req[5] = {0};
    client_start(&c, req, 5, &sent);
    char why[128];
    ck_assert_int_eq(api_conn_feed(conn, sent.data, sent.len, &reply, why, sizeof why), 0);
    ck_assert_int_eq(nghttp2_session_mem_recv(c.ng, reply.data, reply.len), (ssize_t)reply.len);
    ck_assert_str_eq(c.grpc_status, "12"); /* UNIMPLEMENTED */
    api_conn_free(conn);
    nghttp2_session_del(c.ng);
    free(sent.data);
    reply.len = 0;
    conn = api_conn_new(host, API_STATS_SERVICE);
    ck_assert_int_eq(api_conn_feed(conn, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &reply,
                                   why, sizeof why),
                     -1);
    ck_assert_ptr_nonnull(strstr(why, "HTTP/2"));
    api_conn_free(conn);
    free(reply.data);
}
END_TEST

Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counters_named_as_v2ray_when_switched_on);
    tcase_add_test(tc, no_stats_block_no_counters);
    tcase_add_test(tc, config_switches_and_api_outbound);
    tcase_add_test(tc, protobuf_round_trip);
    tcase_add_test(tc, grpc_call_split_at_every_byte);
    tcase_add_test(tc, grpc_unknown_service_and_garbage);
    suite_add_tcase(s, tc);
    return s;
}
