/* Share links (ABI 1.7, plugin/vmess/link_format.c and share_link.c): the v2rayN form's JSON
 * under its base64 and the URI form, as known answers; what streamSettings give each field;
 * the refusals (alterId > 0 in the URI form, an unknown format, a user without an id). */
#include "../plugin/vmess/link_format.h"
#include "../plugin/vmess/share_link.h"
#include "test_host.h"

#include <check.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define UUID "b831381d-6324-4d53-ad4f-8cda48b30811"

/* The JSON text under a v2rayN link (malloc'd), checking the scheme and the base64. */
static char *v2rayn_json(const char *link)
{
    ck_assert_msg(strncmp(link, "vmess://", 8) == 0, "no scheme: %s", link);
    size_t cap = strlen(link), len = 0;
    char *json = calloc(1, cap + 1);
    ck_assert_int_eq(sodium_base642bin((unsigned char *)json, cap, link + 8, strlen(link + 8),
                                       NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    json[len] = '\0';
    return json;
}

static const vmess_link ws_tls = {
    .name = "ana@example", .address = "proxy.example.org", .port = 443, .id = UUID,
    .alter_id = 0, .security = "auto", .network = "ws", .header = "none",
    .host = "cdn.example.org", .path = "/v?ed=2048", .tls = 1, .sni = "cdn.example.org",
};

START_TEST(v2rayn_known_answer)
{
    char *link = vmess_link_v2rayn(&ws_tls);
    char *json = v2rayn_json(link);
    /* v2rayN's version 2: every value a string, keys in its order. */
    ck_assert_str_eq(json, "{\"v\":\"2\",\"ps\":\"ana@example\",\"add\":\"proxy.example.org\","
                           "\"port\":\"443\",\"id\":\"" UUID "\",\"aid\":\"0\",\"scy\":\"auto\","
                           "\"net\":\"ws\",\"type\":\"none\",\"host\":\"cdn.example.org\","
                           "\"path\":\"/v?ed=2048\",\"tls\":\"tls\",\"sni\":\"cdn.example.org\"}");
    free(json);
    free(link);

    vmess_link h2 = ws_tls;
    h2.network = "http";
    h2.tls = 0;
    h2.sni = "";
    h2.alter_id = 64;
    link = vmess_link_v2rayn(&h2);
    json = v2rayn_json(link);
    json_t *o = json_loads(json, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o, "net")), "h2");
    ck_assert_str_eq(json_string_value(json_object_get(o, "aid")), "64");
    ck_assert_str_eq(json_string_value(json_object_get(o, "tls")), "");
    json_decref(o);
    free(json);
    free(link);
}
END_TEST

START_TEST(uri_known_answer)
{
    char err[256] = "";
    vmess_link l = ws_tls;
    l.name = "Ana's phone #1";
    l.security = "chacha20-poly1305";
    char *uri = vmess_link_uri(&l, err, sizeof err);
    ck_assert_ptr_nonnull(uri);
    /* Values escaped as encodeURIComponent escapes them; encryption only when not "auto". */
    ck_assert_str_eq(uri, "vmess://" UUID "@proxy.example.org:443?type=ws"
                          "&encryption=chacha20-poly1305&security=tls&path=%2Fv%3Fed%3D2048"
                          "&host=cdn.example.org&sni=cdn.example.org#Ana's%20phone%20%231");
    free(uri);

    vmess_link tcp = {.name = "", .address = "2001:db8::1", .port = 8443, .id = UUID,
                      .security = "auto", .network = "tcp", .header = "http", .host = "a.test",
                      .path = "/", .sni = ""};
    uri = vmess_link_uri(&tcp, err, sizeof err);
    ck_assert_str_eq(uri, "vmess://" UUID "@[2001:db8::1]:8443?type=tcp&security=none"
                          "&headerType=http&path=%2F&host=a.test");
    free(uri);
}
END_TEST

START_TEST(uri_refuses_alter_id)
{
    char err[256] = "";
    vmess_link l = ws_tls;
    l.alter_id = 4;
    ck_assert_ptr_null(vmess_link_uri(&l, err, sizeof err));
    ck_assert_msg(strstr(err, "alterId 4") && strstr(err, "AEAD"), "err: %s", err);
}
END_TEST

/* The link the plugin hook makes for user and streamSettings ss (NULL: none), decoded to its
 * JSON object when format is v2rayn; NULL with err otherwise. */
static json_t *hook_v2rayn(const char *user, const char *ss, char *err, size_t errlen)
{
    evp_link_args a = {.size = sizeof a, .user_json = user, .tag = "in-tag",
                       .address = "192.0.2.7", .port = 10086, .stream_json = ss};
    char *link = vmess_share_link(test_host_get(), &a, err, errlen);
    if (link == NULL)
        return NULL;
    char *json = v2rayn_json(link);
    free(link);
    json_t *o = json_loads(json, 0, NULL);
    free(json);
    return o;
}

/* A user and streamSettings, and the v2rayN fields they give (NULL-terminated pairs). */
static const struct {
    const char *user, *stream;
    const char *pairs[20];
} field_cases[] = {
    /* ws + tls: Host header in any case, network name in any case. */
    {"{\"id\":\"" UUID "\",\"email\":\"u@x\"}",
     "{\"network\":\"WebSocket\",\"security\":\"tls\",\"tlsSettings\":{\"serverName\":"
     "\"sni.test\"},\"wsSettings\":{\"path\":\"/ws\",\"headers\":{\"host\":\"h.test\"}}}",
     {"ps", "u@x", "add", "192.0.2.7", "port", "10086", "net", "ws", "path", "/ws", "host",
      "h.test", "tls", "tls", "sni", "sni.test", NULL}},
    /* tcp + http header: its path and Host lists, joined; no email: the tag names it. */
    {"{\"id\":\"" UUID "\",\"alterId\":2}",
     "{\"network\":\"tcp\",\"tcpSettings\":{\"header\":{\"type\":\"http\",\"request\":"
     "{\"path\":[\"/a\",\"/b\"],\"headers\":{\"Host\":[\"x.test\",\"y.test\"]}}}}}",
     {"ps", "in-tag", "aid", "2", "type", "http", "path", "/a,/b", "host", "x.test,y.test",
      "tls", "", NULL}},
    /* h2: hosts and path. */
    {"{\"id\":\"" UUID "\"}",
     "{\"network\":\"h2\",\"httpSettings\":{\"host\":[\"p.test\"],\"path\":\"/h\"}}",
     {"net", "h2", "host", "p.test", "path", "/h", NULL}},
    /* No streamSettings at all: plain tcp. */
    {"{\"id\":\"" UUID "\"}", NULL, {"net", "tcp", "type", "none", "path", "", NULL}},
};

START_TEST(fields_from_stream_settings)
{
    char err[256] = "";
    json_t *o = hook_v2rayn(field_cases[_i].user, field_cases[_i].stream, err, sizeof err);
    ck_assert_msg(o != NULL, "%s", err);
    const char *const *pairs = field_cases[_i].pairs;
    for (size_t i = 0; pairs[i]; i += 2) {
        const char *s = json_string_value(json_object_get(o, pairs[i]));
        ck_assert_msg(s && strcmp(s, pairs[i + 1]) == 0, "%s: \"%s\", not \"%s\"", pairs[i],
                      s ? s : "(none)", pairs[i + 1]);
    }
    json_decref(o);
}
END_TEST

START_TEST(hook_refusals)
{
    char err[256] = "";
    evp_link_args a = {.size = sizeof a, .user_json = "{\"id\":\"" UUID "\",\"alterId\":1}",
                       .tag = "", .address = "192.0.2.7", .port = 1, .format = "uri"};
    ck_assert_ptr_null(vmess_share_link(test_host_get(), &a, err, sizeof err));
    ck_assert_msg(strstr(err, "alterId 1") != NULL, "err: %s", err);
    a.format = "clash";
    ck_assert_ptr_null(vmess_share_link(test_host_get(), &a, err, sizeof err));
    ck_assert_msg(strstr(err, "\"clash\"") != NULL, "err: %s", err);
    a.format = NULL;
    a.user_json = "{\"email\":\"no-id@x\"}";
    ck_assert_ptr_null(vmess_share_link(test_host_get(), &a, err, sizeof err));
    ck_assert_msg(strstr(err, "id") != NULL, "err: %s", err);
    a.user_json = "{\"id\":\"" UUID "\"}";
    a.stream_json = "{not json";
    ck_assert_ptr_null(vmess_share_link(test_host_get(), &a, err, sizeof err));
    /* The uri form of an AEAD user through the hook. */
    a.stream_json = NULL;
    a.format = "uri";
    char *uri = vmess_share_link(test_host_get(), &a, err, sizeof err);
    ck_assert_str_eq(uri, "vmess://" UUID "@192.0.2.7:1?type=tcp&security=none#192.0.2.7");
    free(uri);
}
END_TEST

Suite *share_link_suite(void)
{
    Suite *s = suite_create("share_link");
    TCase *tc = tcase_create("share_link");
    tcase_add_test(tc, v2rayn_known_answer);
    tcase_add_test(tc, uri_known_answer);
    tcase_add_test(tc, uri_refuses_alter_id);
    tcase_add_loop_test(tc, fields_from_stream_settings, 0,
                        (int)(sizeof field_cases / sizeof field_cases[0]));
    tcase_add_test(tc, hook_refusals);
    suite_add_tcase(s, tc);
    return s;
}
