/* SIP003 mode's protocol=NAME (core/sip003/sip003.c): vmess by default, shadowsocks when
 * named, each refusal; and the shadowsocks plugin's sip003_settings (plugin/shadowsocks/
 * sip003.c): what each side's options become, read back by the plugin's own parser. */
#include "sip003_fixture.h"

#include "../plugin/shadowsocks/mem.h"
#include "../plugin/shadowsocks/settings.h"
#include "../plugin/shadowsocks/sip003.h"
#include "test_host.h"

#include <string.h>

#define UUID "27848739-7e62-4138-9fd3-098a63964b6b"

static const char *str_at(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The plugin's settings text read back by its own parser (inbound or outbound), as the
 * daemon would; the parsed users in *cfg. */
static void ss_parse(json_t *settings, int inbound, ss_cfg *cfg)
{
    char *text = json_dumps(settings, JSON_COMPACT), err[256] = "";
    ss_mem_adopt(test_host_get()); /* no init here: the parser allocates through the host */
    int rc = inbound ? ss_inbound_cfg_parse(text, cfg, err, sizeof err)
                     : ss_outbound_cfg_parse(text, cfg, err, sizeof err);
    ck_assert_msg(rc == 0, "%s refused by the plugin: %s", text, err);
    free(text);
}

START_TEST(test_default_protocol_is_vmess)
{
    json_t *root = sip003_config("id=" UUID);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(str_at(sip003_first(root, "outbounds"), "protocol"), "vmess");
    json_decref(root);
    root = sip003_config("server;id=" UUID);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(str_at(sip003_first(root, "inbounds"), "protocol"), "vmess");
    json_decref(root);
}
END_TEST

/* The client: dokodemo-door on SS_LOCAL, a shadowsocks outbound to SS_REMOTE. */
START_TEST(test_shadowsocks_client)
{
    json_t *root = sip003_config("protocol=shadowsocks;password=p\\;w;method=aes-256-gcm");
    ck_assert_ptr_nonnull(root);
    json_t *in = sip003_first(root, "inbounds"), *out = sip003_first(root, "outbounds");
    ck_assert_str_eq(str_at(in, "protocol"), "dokodemo-door");
    ck_assert_str_eq(str_at(out, "protocol"), "shadowsocks");
    json_t *server = json_array_get(json_object_get(json_object_get(out, "settings"),
                                                    "servers"), 0);
    ck_assert_str_eq(str_at(server, "address"), "127.0.0.1");
    ck_assert_int_eq(json_integer_value(json_object_get(server, "port")), 8388);
    ck_assert_str_eq(str_at(server, "method"), "aes-256-gcm");
    ck_assert_str_eq(str_at(server, "password"), "p;w");
    /* The plugin's own parser takes what its sip003_settings wrote. */
    ss_cfg cfg;
    ss_parse(json_object_get(out, "settings"), 0, &cfg);
    ck_assert_uint_eq(cfg.n, 1);
    ck_assert_uint_eq(cfg.users[0].server.port, 8388);
    ss_cfg_free(&cfg);
    json_decref(root);
}
END_TEST

/* The server: a shadowsocks inbound on SS_REMOTE, everything to SS_LOCAL; the method
 * defaults to chacha20-ietf-poly1305. */
START_TEST(test_shadowsocks_server)
{
    json_t *root = sip003_config("server;protocol=shadowsocks;password=pw;email=a@e2e");
    ck_assert_ptr_nonnull(root);
    json_t *in = sip003_first(root, "inbounds"), *out = sip003_first(root, "outbounds");
    ck_assert_str_eq(str_at(in, "protocol"), "shadowsocks");
    ck_assert_str_eq(str_at(in, "listen"), "127.0.0.1");
    ck_assert_int_eq(json_integer_value(json_object_get(in, "port")), 8388);
    json_t *settings = json_object_get(in, "settings");
    ck_assert_str_eq(str_at(settings, "method"), "chacha20-ietf-poly1305");
    ck_assert_str_eq(str_at(settings, "password"), "pw");
    ck_assert_str_eq(str_at(settings, "email"), "a@e2e");
    ck_assert_str_eq(str_at(out, "protocol"), "freedom");
    ck_assert_str_eq(str_at(json_object_get(out, "settings"), "redirect"), "127.0.0.1:1080");
    ss_cfg cfg;
    ss_parse(settings, 1, &cfg);
    ck_assert_uint_eq(cfg.n, 1);
    ck_assert_str_eq(cfg.users[0].email, "a@e2e");
    ss_cfg_free(&cfg);
    json_decref(root);
}
END_TEST

/* clients=FILE: no user in the settings, method= is the users' default. */
START_TEST(test_shadowsocks_clients_file)
{
    json_t *root = sip003_config("server;protocol=shadowsocks;clients=/x.json;method=aes-128-gcm");
    ck_assert_ptr_nonnull(root);
    json_t *in = sip003_first(root, "inbounds");
    ck_assert_str_eq(str_at(in, "clientsFile"), "/x.json");
    json_t *settings = json_object_get(in, "settings");
    ck_assert_str_eq(str_at(settings, "method"), "aes-128-gcm");
    ck_assert_uint_eq(json_array_size(json_object_get(settings, "clients")), 0);
    ck_assert_ptr_null(json_object_get(settings, "password"));
    json_decref(root);
}
END_TEST

/* The transport options stay the host's under any protocol. */
START_TEST(test_shadowsocks_over_transport)
{
    json_t *root = sip003_config("protocol=shadowsocks;password=pw;mode=websocket;path=/x");
    ck_assert_ptr_nonnull(root);
    json_t *stream = json_object_get(sip003_first(root, "outbounds"), "streamSettings");
    ck_assert_str_eq(str_at(stream, "network"), "ws");
    json_decref(root);
}
END_TEST

START_TEST(test_host_refusals)
{
    static const char *const refused[] = {
        "protocol=no-such-protocol;password=pw",
        "protocol=../vmess;id=" UUID,
        "protocol=freedom",                /* a protocol without sip003_settings */
        "protocol=mux",                    /* a plugin with no protocol at all */
        "protocol=shadowsocks",            /* no password */
        "server;protocol=shadowsocks",
        "protocol=shadowsocks;password=pw;id=" UUID, /* vmess's option, not shadowsocks' */
        "protocol=vmess;password=pw",
        "compat=v2ray-plugin;protocol=shadowsocks",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        ck_assert_msg(sip003_config(refused[i]) == NULL, "\"%s\" was taken", refused[i]);
}
END_TEST

/* ss_sip003_settings on one side; NULL with err when refused. */
static char *ss_settings(int inbound, int from_file, const char *const *kv, int n, char *err,
                         size_t errlen)
{
    const char *keys[8], *values[8];
    for (int i = 0; i < n; i++) {
        keys[i] = kv[2 * i];
        values[i] = kv[2 * i + 1];
    }
    evp_sip003_args a = {.size = sizeof a, .inbound = inbound, .users_from_file = from_file,
                         .server_host = "192.0.2.1", .server_port = 443, .n = n, .keys = keys,
                         .values = values};
    err[0] = '\0';
    return ss_sip003_settings(test_host_get(), &a, err, errlen);
}

/* Each refusal names what is wrong. */
START_TEST(test_ss_refusal_messages)
{
    static const struct {
        int inbound, from_file, n;
        const char *kv[6];
        const char *want;
    } cases[] = {
        {0, 0, 0, {NULL}, "password=PASSWORD is required"},
        {1, 0, 1, {"method", "aes-128-gcm"}, "password=PASSWORD is required (or clients=FILE)"},
        {1, 0, 1, {"password", ""}, "password=PASSWORD is required"},
        {0, 0, 2, {"password", "pw", "method", "rc4-md5"}, "method=rc4-md5 is not an AEAD"},
        {0, 0, 2, {"password", "pw", "colour", "blue"}, "unknown option \"colour\""},
        {0, 0, 2, {"password", "pw", "email", "a@b"}, "email= is the server's"},
        {1, 1, 1, {"password", "pw"}, "password= and clients= together"},
        {1, 1, 1, {"email", "a@b"}, "email= and clients= together"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        char *text = ss_settings(cases[i].inbound, cases[i].from_file, cases[i].kv, cases[i].n,
                                 err, sizeof err);
        ck_assert_msg(text == NULL, "case %zu taken: %s", i, text);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\", want \"%s\"", i,
                      err, cases[i].want);
    }
}
END_TEST

/* The outbound dials the server the host names, whatever the options are. */
START_TEST(test_ss_client_dials_host_server)
{
    static const char *const kv[] = {"password", "pw"};
    char err[256];
    char *text = ss_settings(0, 0, kv, 1, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    ck_assert_str_eq(text, "{\"servers\":[{\"address\":\"192.0.2.1\",\"port\":443,"
                           "\"method\":\"chacha20-ietf-poly1305\",\"password\":\"pw\"}]}");
    free(text);
}
END_TEST

Suite *sip003_protocol_suite(void)
{
    Suite *s = suite_create("sip003_protocol");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, test_default_protocol_is_vmess);
    tcase_add_test(tc, test_shadowsocks_client);
    tcase_add_test(tc, test_shadowsocks_server);
    tcase_add_test(tc, test_shadowsocks_clients_file);
    tcase_add_test(tc, test_shadowsocks_over_transport);
    tcase_add_test(tc, test_host_refusals);
    tcase_add_test(tc, test_ss_refusal_messages);
    tcase_add_test(tc, test_ss_client_dials_host_server);
    suite_add_tcase(s, tc);
    return s;
}
