/* streamSettings -> transport layers (core/config/stream_settings.c): the bottom-first
 * mapping, what is refused (each error naming its path), missing layer modules, and a
 * layer instance that refuses its settings failing the inbound's creation. The layers come
 * from tests/plugins (stand-in tls.so and ws.so). */
#include "config.h"
#include "registry.h"
#include "testplug_registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static evp_registry reg;

static void setup(void)
{
    testplug_registry_init(&reg);
}

static void teardown(void)
{
    evp_registry_free(&reg);
}

/* A config whose inbound (dokodemo-door) has streamSettings in_ss and whose outbound
 * (freedom) has out_ss ("" for none). */
static char *config(const char *in_ss, const char *out_ss)
{
    char *text = NULL;
    int n = asprintf(&text,
                     "{\"inbounds\":[{\"tag\":\"in\",\"port\":1081,\"protocol\":\"dokodemo-door\","
                     "\"settings\":{\"address\":\"127.0.0.1\",\"port\":9}%s%s}],"
                     "\"outbounds\":[{\"tag\":\"out\",\"protocol\":\"freedom\"%s%s}]}",
                     in_ss[0] ? ",\"streamSettings\":" : "", in_ss,
                     out_ss[0] ? ",\"streamSettings\":" : "", out_ss);
    ck_assert_int_gt(n, 0);
    return text;
}

static evp_config *load_ok(const char *in_ss, const char *out_ss)
{
    char *text = config(in_ss, out_ss), *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    free(text);
    return c;
}

static void assert_refused(const char *in_ss, const char *out_ss, const char *want)
{
    char *text = config(in_ss, out_ss), *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, "schema", &reg, &errors);
    ck_assert_msg(c == NULL, "loaded: %s", text);
    ck_assert_msg(errors && strstr(errors, want), "want \"%s\" in: %s", want,
                  errors ? errors : "");
    free(errors);
    free(text);
}

static void assert_layers(const evp_stream_conf *sc, const char *const *names, size_t n)
{
    ck_assert_uint_eq(sc->n, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(sc->layers[i].name, names[i]);
        ck_assert_str_eq(sc->layers[i].mod->desc->name, names[i]);
    }
}

START_TEST(test_tls_under_ws_both_sides)
{
    evp_config *c = load_ok("{\"network\":\"ws\",\"security\":\"tls\",\"wsSettings\":"
                            "{\"path\":\"/x\"},\"tlsSettings\":{\"serverName\":\"a\"}}",
                            "{\"network\":\"ws\",\"security\":\"tls\"}");
    static const char *const both[] = {"tls", "ws"};
    assert_layers(&c->inbounds[0].stream, both, 2);
    assert_layers(&c->outbounds[0].stream, both, 2);
    evp_stream_conf *sc = &c->inbounds[0].stream;
    ck_assert_str_eq(sc->layers[0].settings_json, "{\"serverName\":\"a\"}");
    ck_assert_str_eq(sc->layers[1].settings_json, "{\"path\":\"/x\"}");
    ck_assert_str_eq(c->outbounds[0].stream.layers[0].settings_json, "{}"); /* absent */
    ck_assert_ptr_nonnull(strstr(sc->stream_json, "\"network\":\"ws\""));
    evp_config_free(c);
}
END_TEST

/* V2Ray 4.34 lowercases network, security and the header type before it reads them. */
START_TEST(test_names_in_any_case)
{
    evp_config *c = load_ok("{\"network\":\"WebSocket\",\"security\":\"TLS\"}", "");
    static const char *const both[] = {"tls", "ws"};
    assert_layers(&c->inbounds[0].stream, both, 2);
    evp_config_free(c);
    /* http-header is not among the stand-in layers: being looked for is the point. */
    assert_refused("{\"network\":\"TCP\",\"tcpSettings\":{\"header\":{\"type\":\"HTTP\"}}}",
                   "", "no transport layer \"http-header\"");
}
END_TEST

/* network "http" (or "h2") stacks the h2 layer with httpSettings: over tls, or without it on
 * an inbound (h2c behind a TLS front, as V2Ray 4.34's server serves it). h2.so is not among
 * the stand-in layers: being looked for is the point. */
START_TEST(test_http_network_stacks_h2)
{
    assert_refused("{\"network\":\"http\",\"httpSettings\":{\"path\":\"/p\"}}", "",
                   "inbounds[0].streamSettings.network: no transport layer \"h2\"");
    assert_refused("", "{\"network\":\"H2\",\"security\":\"tls\"}",
                   "outbounds[0].streamSettings.network: no transport layer \"h2\"");
}
END_TEST

START_TEST(test_plain_tcp_has_no_layers)
{
    evp_config *c = load_ok("{\"network\":\"tcp\",\"security\":\"none\","
                            "\"tcpSettings\":{\"header\":{\"type\":\"none\"}}}",
                            "");
    ck_assert_uint_eq(c->inbounds[0].stream.n, 0);
    ck_assert_ptr_null(c->inbounds[0].stream.stream_json);
    ck_assert_uint_eq(c->outbounds[0].stream.n, 0);
    char err[256] = "x";
    evp_instance *in = evp_inbound_instance_new(&c->inbounds[0], err, sizeof err);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_null(in->transports);
    evp_instance_unref(in);
    evp_config_free(c);
}
END_TEST

START_TEST(test_tls_alone_and_outbound_ignores_proxy_protocol)
{
    evp_config *c = load_ok("{\"security\":\"tls\"}",
                            "{\"security\":\"tls\",\"sockopt\":{\"acceptProxyProtocol\":true}}");
    static const char *const tls[] = {"tls"};
    assert_layers(&c->inbounds[0].stream, tls, 1);
    assert_layers(&c->outbounds[0].stream, tls, 1);
    evp_config_free(c);
}
END_TEST

START_TEST(test_proxy_protocol_is_built_in)
{
    evp_config *c =
        load_ok("{\"network\":\"ws\",\"wsSettings\":{\"acceptProxyProtocol\":true}}", "");
    static const char *const pp_ws[] = {"proxy-protocol", "ws"};
    assert_layers(&c->inbounds[0].stream, pp_ws, 2);
    evp_config_free(c);
}
END_TEST

START_TEST(test_missing_layers_name_their_path)
{
    /* No http-header module in this registry: it names where it came from. */
    assert_refused("", "{\"tcpSettings\":{\"header\":{\"type\":\"http\"}}}",
                   "outbounds[0].streamSettings.tcpSettings.header.type: no transport layer "
                   "\"http-header\"");
}
END_TEST

START_TEST(test_refusals)
{
    static const struct {
        const char *ss, *want;
    } cases[] = {
        {"{\"network\":\"kcp\"}", "inbounds[0].streamSettings.network: \"kcp\" is not supported"},
        {"{\"network\":\"mkcp\"}", "\"mkcp\" is not supported (mKCP"},
        {"{\"network\":\"quic\"}", "\"quic\" is not supported (QUIC"},
        {"{\"network\":\"domainsocket\"}", "\"domainsocket\" is not supported"},
        {"{\"network\":\"grpc\"}", "\"grpc\" is not supported (tcp, ws or http)"},
        {"{\"security\":\"xtls\"}", "inbounds[0].streamSettings.security: \"xtls\" is not "
                                    "supported"},
        {"{\"security\":\"reality\"}", "\"reality\" is not supported (none or tls)"},
        {"{\"tcpSettings\":{\"header\":{\"type\":\"srtp\"}}}",
         "inbounds[0].streamSettings.tcpSettings.header.type: \"srtp\" is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_refused(cases[i].ss, "", cases[i].want);
    assert_refused("", "{\"network\":\"quic\"}", "outbounds[0].streamSettings.network");
    assert_refused("", "{\"network\":\"h2\"}", "outbounds[0].streamSettings.security: network "
                   "\"h2\" needs \"tls\" on an outbound, as V2Ray's client does");
}
END_TEST

START_TEST(test_layer_instance_refusal_fails_the_inbound)
{
    evp_config *c = load_ok("{\"network\":\"ws\",\"wsSettings\":{\"fail\":true}}", "");
    char err[256] = "";
    ck_assert_ptr_null(evp_inbound_instance_new(&c->inbounds[0], err, sizeof err));
    ck_assert_str_eq(err, "streamSettings.wsSettings: fail: this test layer refuses");
    evp_config_free(c);
    c = load_ok("", "{\"security\":\"tls\",\"tlsSettings\":{\"fail\":true}}");
    ck_assert_ptr_null(evp_outbound_instance_new(&c->outbounds[0], err, sizeof err));
    ck_assert_str_eq(err, "streamSettings.tlsSettings: fail: this test layer refuses");
    evp_config_free(c);
}
END_TEST

START_TEST(test_instances_own_their_layers)
{
    evp_config *c = load_ok("{\"network\":\"ws\",\"security\":\"tls\"}", "{\"network\":\"ws\"}");
    char err[256] = "";
    evp_instance *in = evp_inbound_instance_new(&c->inbounds[0], err, sizeof err);
    evp_instance *out = evp_outbound_instance_new(&c->outbounds[0], err, sizeof err);
    ck_assert_msg(in && out, "%s", err);
    ck_assert_uint_eq(in->transports->n, 2);
    ck_assert_int_eq(in->transports->server, 1);
    ck_assert_str_eq(in->transports->layer[1].mod->desc->name, "ws");
    ck_assert_uint_eq(out->transports->n, 1);
    ck_assert_int_eq(out->transports->server, 0);
    evp_module *ws = in->transports->layer[1].mod;
    int refs = atomic_load(&ws->refs);
    evp_instance_unref(in); /* its layers' module references go with it */
    ck_assert_int_eq(atomic_load(&ws->refs), refs - 1);
    evp_instance_unref(out);
    evp_config_free(c);
}
END_TEST

START_TEST(test_a_layer_is_no_protocol)
{
    char *errors = NULL;
    evp_config *c = evp_config_load(
        NULL, "{\"inbounds\":[{\"port\":1081,\"protocol\":\"ws\"}],"
              "\"outbounds\":[{\"protocol\":\"freedom\"}]}",
        "schema", &reg, &errors);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(errors, "inbounds[0].protocol: \"ws\" has no inbound"));
    free(errors);
}
END_TEST

/* Copies src to dst through a new file (a new inode, as an install does). */
static void install(const char *src, const char *dst)
{
    char tmp[600], cmd[1400];
    snprintf(tmp, sizeof tmp, "%s.new", dst);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'", src, tmp, tmp, dst);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_changed_layer_is_hot_swapped)
{
    char dir[] = "/tmp/evp-layers-XXXXXX", src[512], dst[600], err[256] = "", *errors = NULL;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *build = getenv("EVP_BUILD");
    snprintf(src, sizeof src, "%s/tests/plugins/ws.so", build ? build : "build");
    snprintf(dst, sizeof dst, "%s/ws.so", dir);
    install(src, dst);
    evp_registry r, fresh;
    ck_assert_int_eq(evp_registry_init(&r, dir), 0);
    char *text = config("{\"network\":\"ws\"}", "");
    evp_config *c = evp_config_load(NULL, text, "schema", &r, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    evp_instance *old = evp_inbound_instance_new(&c->inbounds[0], err, sizeof err);
    ck_assert_msg(old != NULL, "%s", err);
    evp_module *old_mod = old->transports->layer[0].mod;
    install(src, dst); /* the file is replaced: the next reload loads it afresh */
    ck_assert_int_eq(evp_registry_reload_changed(&r, &fresh, err, sizeof err), 0);
    evp_registry_adopt(&r, &fresh);
    evp_config_free(c);
    c = evp_config_load(NULL, text, "schema", &r, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    evp_instance *now = evp_inbound_instance_new(&c->inbounds[0], err, sizeof err);
    ck_assert_msg(now != NULL, "%s", err);
    ck_assert_ptr_ne(now->transports->layer[0].mod, old_mod);
    ck_assert_ptr_ne(now->transports->layer[0].mod->handle, old_mod->handle);
    /* The old instance still holds its module: its layer sessions still run. */
    const evp_transport_ops *ops = evp_module_trops(old_mod);
    evp_addr peer = {0};
    void *sess = ops->session_new(old->transports->layer[0].inst, &peer);
    ck_assert_ptr_nonnull(sess);
    ops->session_free(sess);
    evp_instance_unref(old);
    evp_instance_unref(now);
    evp_config_free(c);
    evp_registry_free(&r);
    free(text);
    unlink(dst);
    rmdir(dir);
}
END_TEST

Suite *stream_settings_suite(void)
{
    Suite *s = suite_create("stream_settings");
    TCase *tc = tcase_create("mapping");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tls_under_ws_both_sides);
    tcase_add_test(tc, test_names_in_any_case);
    tcase_add_test(tc, test_plain_tcp_has_no_layers);
    tcase_add_test(tc, test_http_network_stacks_h2);
    tcase_add_test(tc, test_tls_alone_and_outbound_ignores_proxy_protocol);
    tcase_add_test(tc, test_proxy_protocol_is_built_in);
    tcase_add_test(tc, test_missing_layers_name_their_path);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_layer_instance_refusal_fails_the_inbound);
    tcase_add_test(tc, test_instances_own_their_layers);
    tcase_add_test(tc, test_a_layer_is_no_protocol);
    tcase_add_test(tc, test_changed_layer_is_hot_swapped);
    suite_add_tcase(s, tc);
    return s;
}
