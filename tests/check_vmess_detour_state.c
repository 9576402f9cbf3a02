/* Detour accounts outlive reloads and hot swaps (ABI 1.4 state store): a client switched by
 * inbound "main" to the detour target "dyn" keeps being accepted by dyn after dyn is rebuilt
 * (a reload) or after vmess.so is loaded afresh (a hot swap: a new copy with new statics),
 * and a client rebuilt with the same tag and settings keeps its switched account. Servers
 * run in copies loaded through the loader, on their modules' host tables; the client is the
 * copy linked into the test binary, on the test host. */
#include "../plugin/vmess/detour.h"
#include "module.h"
#include "vmess_wire.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define DYN_PORT 20000

/* Inbound tag (of module m) with settings json, listening on port. */
static void *server(evp_module *m, const char *tag, const char *json, uint16_t port)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), tag, json, port};
    void *in = m->desc->inbound->instance_new(&m->host.services, &a, err, sizeof(err));
    ck_assert_msg(in != NULL, "%s: %s", tag, err);
    return in;
}

/* "main" (tagged main_tag) with user email, detouring to dyn_tag. */
static void *main_server(evp_module *m, const char *main_tag, const char *dyn_tag,
                         const char *email)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"clients\":[{\"id\":\"" UUID1 "\",\"email\":\"%s\"}],"
             "\"detour\":{\"to\":\"%s\"}}",
             email, dyn_tag);
    return server(m, main_tag, json, 10086);
}

/* The detour target: no users of its own, accounts made with alterId 0. */
static void *dyn_server(evp_module *m, const char *tag)
{
    return server(m, tag, "{\"default\":{\"alterId\":0,\"level\":0}}", DYN_PORT);
}

/* A client (the linked-in copy) tagged tag, for UUID1 at 127.0.0.1:10086. */
static void *client(const char *tag)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), tag,
                           "{\"vnext\":[{\"address\":\"127.0.0.1\",\"port\":10086,\"users\":"
                           "[{\"id\":\"" UUID1 "\",\"alterId\":0}]}]}",
                           0};
    void *c = evp_plugin_entry()->outbound->instance_new(test_host_get(), &a, err, sizeof(err));
    ck_assert_msg(c != NULL, "client: %s", err);
    return c;
}

/* One connection from client cli to inbound in of module m. Returns the server's verdict
 * on the request (EVP_TARGET or EVP_ERR, the reason in why); once accepted, the server
 * answers and ends and the client reads the whole answer (a SwitchAccount in it is taken).
 * *dial: where the client dialled. */
static int connect_once(evp_module *m, void *in, void *cli, evp_addr *dial, char *why)
{
    const evp_outbound_ops *co = evp_plugin_entry()->outbound;
    const evp_inbound_ops *so = m->desc->inbound;
    evp_buf c2s = {0}, s2c = {0}, sink = {0};
    evp_addr target = {.type = EVP_ADDR_DOMAIN, .len = 11, .port = 443};
    memcpy(target.bytes, "example.com", 11);
    char err[128] = "";
    void *cs = co->session_new(cli, &target, EVP_NET_TCP, dial, err, sizeof(err));
    ck_assert_msg(cs != NULL, "client session: %s", err);
    evp_io io = {.in = (const uint8_t *)"hi", .in_len = 2, .out = &c2s, .back = &sink};
    ck_assert_int_eq(co->encode(cs, &io), EVP_OK);
    void *ss = so->session_new(in);
    ck_assert_ptr_nonnull(ss);
    io = (evp_io){.in = c2s.data, .in_len = c2s.len, .out = &sink, .back = &sink};
    int rc = so->decode(ss, &io);
    snprintf(why, 128, "%s", rc == EVP_ERR ? io.reason : "");
    if (rc == EVP_TARGET) {
        io = (evp_io){.in = (const uint8_t *)"ok", .in_len = 2, .in_eof = 1, .out = &s2c,
                      .back = &sink};
        ck_assert_int_eq(so->encode(ss, &io), EVP_OK);
        io = (evp_io){.in = s2c.data, .in_len = s2c.len, .out = &sink, .back = &sink};
        ck_assert_int_eq(co->decode(cs, &io), EVP_EOF);
    }
    so->session_free(ss);
    co->session_free(cs);
    test_buf_free(&c2s);
    test_buf_free(&s2c);
    test_buf_free(&sink);
    return rc;
}

/* The client's first session goes to main, which switches it to dyn. */
static void switch_once(evp_module *m, void *main_in, void *cli)
{
    evp_addr dial;
    char why[128];
    ck_assert_int_eq(connect_once(m, main_in, cli, &dial, why), EVP_TARGET);
    ck_assert_uint_eq(dial.port, 10086);
}

/* The client's next session dials dyn's port and is accepted there. */
static void accepted_on_dyn(evp_module *m, void *dyn_in, void *cli)
{
    evp_addr dial;
    char why[128];
    int rc = connect_once(m, dyn_in, cli, &dial, why);
    ck_assert_uint_eq(dial.port, DYN_PORT);
    ck_assert_msg(rc == EVP_TARGET, "the detour target refused the switched client: %s", why);
}

START_TEST(account_survives_hot_swap)
{
    evp_module *m1 = wire_load_vmess();
    void *main1 = main_server(m1, "main-hs", "dyn-hs", "hs@x");
    void *dyn1 = dyn_server(m1, "dyn-hs");
    void *cli = client("cli-hs");
    switch_once(m1, main1, cli);
    accepted_on_dyn(m1, dyn1, cli);
    m1->desc->inbound->instance_free(main1);
    m1->desc->inbound->instance_free(dyn1);
    evp_module_unref(m1); /* the old copy goes, its statics with it */
    evp_module *m2 = wire_load_vmess();
    void *main2 = main_server(m2, "main-hs", "dyn-hs", "hs@x");
    void *dyn2 = dyn_server(m2, "dyn-hs");
    accepted_on_dyn(m2, dyn2, cli);
    m2->desc->inbound->instance_free(main2);
    m2->desc->inbound->instance_free(dyn2);
    evp_module_unref(m2);
    evp_plugin_entry()->outbound->instance_free(cli);
}
END_TEST

START_TEST(account_survives_reload)
{
    evp_module *m = wire_load_vmess();
    void *main1 = main_server(m, "main-rl", "dyn-rl", "rl@x");
    void *dyn1 = dyn_server(m, "dyn-rl");
    void *cli = client("cli-rl");
    switch_once(m, main1, cli);
    /* A reload builds new instances, then frees the old ones. */
    void *main2 = main_server(m, "main-rl", "dyn-rl", "rl@x");
    void *dyn2 = dyn_server(m, "dyn-rl");
    m->desc->inbound->instance_free(main1);
    m->desc->inbound->instance_free(dyn1);
    accepted_on_dyn(m, dyn2, cli);
    /* main2 gives the same account again: the client stays on dyn. */
    m->desc->inbound->instance_free(dyn2);
    void *dyn3 = dyn_server(m, "dyn-rl");
    accepted_on_dyn(m, dyn3, cli);
    m->desc->inbound->instance_free(main2);
    m->desc->inbound->instance_free(dyn3);
    evp_module_unref(m);
    evp_plugin_entry()->outbound->instance_free(cli);
}
END_TEST

START_TEST(switched_client_survives_reload)
{
    evp_module *m = wire_load_vmess();
    void *main_in = main_server(m, "main-cl", "dyn-cl", "cl@x");
    void *dyn_in = dyn_server(m, "dyn-cl");
    void *cli = client("cli-cl");
    switch_once(m, main_in, cli);
    /* The client's own reload: the same outbound, rebuilt. */
    evp_plugin_entry()->outbound->instance_free(cli);
    cli = client("cli-cl");
    accepted_on_dyn(m, dyn_in, cli);
    /* Another outbound (another tag) was never switched. */
    void *other = client("cli-other");
    switch_once(m, main_in, other);
    evp_plugin_entry()->outbound->instance_free(other);
    m->desc->inbound->instance_free(main_in);
    m->desc->inbound->instance_free(dyn_in);
    evp_module_unref(m);
    evp_plugin_entry()->outbound->instance_free(cli);
}
END_TEST

/* Control: a detour to a tag that no inbound has sends no SwitchAccount. */
START_TEST(no_target_no_switch)
{
    evp_module *m = wire_load_vmess();
    void *main_in = main_server(m, "main-nt", "nosuch-nt", "nt@x");
    void *cli = client("cli-nt");
    switch_once(m, main_in, cli);
    switch_once(m, main_in, cli); /* still to main's port */
    m->desc->inbound->instance_free(main_in);
    evp_module_unref(m);
    evp_plugin_entry()->outbound->instance_free(cli);
}
END_TEST

/* The host announces dyn's dynamic ports (allocate "random", refresh 3 min, picked 70 s ago):
 * the SwitchAccount names one of them and the 2 minutes left (V2Ray: refresh minus whole
 * minutes since the pick), and the switched client dials it and is accepted there; an
 * announcement with no ports (none could be opened) means no switch. */
START_TEST(dynamic_ports_announced)
{
    evp_module *m = wire_load_vmess();
    void *main_in = main_server(m, "main-dp", "dyn-dp", "dp@x");
    void *dyn_in = dyn_server(m, "dyn-dp");
    vmess_switch_account sa;
    ck_assert_int_eq(vmess_detour_switch(test_host_get(), "dyn-dp", "dp@x", &sa), 0);
    ck_assert_uint_eq(sa.port, DYN_PORT); /* no ports announced: the fixed one */
    ck_assert_uint_eq(sa.valid_min, 255);
    uint64_t ms = (uint64_t)((test_host_get()->monotonic() - 70) * 1000);
    uint8_t v[1 + 4 + 8 + 2 + 4] = {1, 0, 0, 0, 3};
    for (int i = 0; i < 8; i++)
        v[5 + i] = (uint8_t)(ms >> (56 - 8 * i));
    v[14] = 2;
    v[15] = 21001 >> 8, v[16] = 21001 & 0xff, v[17] = 21002 >> 8, v[18] = 21002 & 0xff;
    ck_assert_int_eq(test_host_get()->state_put(EVP_STATE_NS_PORTS, "dyn-dp", 6, v, sizeof v,
                                                0, 0), 0);
    int seen[2] = {0};
    for (int k = 0; k < 64; k++) {
        ck_assert_int_eq(vmess_detour_switch(test_host_get(), "dyn-dp", "dp@x", &sa), 0);
        ck_assert_msg(sa.port == 21001 || sa.port == 21002, "port %u announced", sa.port);
        ck_assert_uint_eq(sa.valid_min, 2);
        seen[sa.port - 21001] = 1;
    }
    ck_assert(seen[0] && seen[1]);
    void *cli = client("cli-dp");
    switch_once(m, main_in, cli);
    evp_addr dial;
    char why[128];
    int rc = connect_once(m, dyn_in, cli, &dial, why);
    ck_assert_msg(dial.port == 21001 || dial.port == 21002, "dialled %u", dial.port);
    ck_assert_msg(rc == EVP_TARGET, "the detour target refused the switched client: %s", why);
    /* None of its ports could be opened: no switch (not the fixed port, which nothing may
     * serve). */
    v[14] = 0;
    ck_assert_int_eq(test_host_get()->state_put(EVP_STATE_NS_PORTS, "dyn-dp", 6, v, 15, 0, 0),
                     0);
    ck_assert_int_eq(vmess_detour_switch(test_host_get(), "dyn-dp", "dp@x", &sa), -1);
    test_host_get()->state_del(EVP_STATE_NS_PORTS, "dyn-dp", 6);
    m->desc->inbound->instance_free(main_in);
    m->desc->inbound->instance_free(dyn_in);
    evp_module_unref(m);
    evp_plugin_entry()->outbound->instance_free(cli);
}
END_TEST

Suite *vmess_detour_state_suite(void)
{
    Suite *s = suite_create("vmess_detour_state");
    TCase *tc = tcase_create("detour_state");
    tcase_set_timeout(tc, 30); /* each test loads vmess.so, slow under the sanitizers */
    tcase_add_test(tc, account_survives_hot_swap);
    tcase_add_test(tc, account_survives_reload);
    tcase_add_test(tc, switched_client_survives_reload);
    tcase_add_test(tc, no_target_no_switch);
    tcase_add_test(tc, dynamic_ports_announced);
    suite_add_tcase(s, tc);
    return s;
}
