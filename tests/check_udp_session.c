/* UDP sessions and the tables that own them: a session that ends while handling its first
 * datagram (connect refused, routed to blackhole) must leave its owner's table, and a session
 * the owner lets go of ends exactly once. */
#include "config.h"
#include "registry.h"
#include "session.h"

#include <arpa/inet.h>
#include <check.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* socks (UDP) and a dokodemo-door to the broadcast address; 127.0.0.2 goes to blackhole. */
static const char *config_text =
    "{\"inbounds\":["
    "{\"tag\":\"s\",\"port\":1080,\"protocol\":\"socks\",\"settings\":{\"udp\":true}},"
    "{\"tag\":\"d\",\"port\":1081,\"protocol\":\"dokodemo-door\","
    "\"settings\":{\"address\":\"255.255.255.255\",\"port\":9,\"network\":\"udp\"}}],"
    "\"outbounds\":[{\"tag\":\"direct\",\"protocol\":\"freedom\"},"
    "{\"tag\":\"block\",\"protocol\":\"blackhole\"}],"
    "\"routing\":{\"rules\":[{\"type\":\"field\",\"ip\":[\"127.0.0.2\"],"
    "\"outboundTag\":\"block\"}]}}";

/* An owner with a table, as udp_assoc.c and the UDP listeners keep. */
typedef struct table_owner {
    evp_udp_owner o;
    evp_session *sessions[4];
    size_t n;
    int forgotten;
} table_owner;

static evp_registry reg;
static evp_config *cfg;
static evp_instance *ins[2], *outs[2];
static evp_runtime rt;
static table_owner owner;
static struct sockaddr_in peer;

static void forget(evp_udp_owner *o, evp_session *s)
{
    table_owner *t = (table_owner *)o;
    t->forgotten++;
    for (size_t i = 0; i < t->n; i++)
        if (t->sessions[i] == s) {
            t->sessions[i] = t->sessions[--t->n];
            return;
        }
}

static void setup(void)
{
    char *errors = NULL, err[256];
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
    cfg = evp_config_load(NULL, config_text, "schema", &reg, &errors);
    ck_assert_msg(cfg != NULL, "%s", errors ? errors : "");
    for (size_t i = 0; i < 2; i++) {
        evp_inbound_conf *ic = &cfg->inbounds[i];
        evp_outbound_conf *oc = &cfg->outbounds[i];
        ins[i] = evp_instance_new(ic->mod, 1, ic->tag, ic->settings_json, ic->port, err,
                                  sizeof err);
        outs[i] = evp_instance_new(oc->mod, 0, oc->tag, oc->settings_json, 0, err, sizeof err);
        ck_assert_msg(ins[i] && outs[i], "%s", err);
    }
    evp_router_set_outbounds(cfg->router, outs, 2);
    memset(&rt, 0, sizeof rt);
    rt.loop = ev_loop_new(EVFLAG_AUTO);
    rt.resolver = evp_resolver_new(rt.loop);
    rt.handshake_timeout = rt.connect_timeout = rt.idle_timeout = rt.udp_timeout = 5;
    rt.limits = evp_limits_default();
    memset(&owner, 0, sizeof owner);
    owner.o.fd = socket(AF_INET, SOCK_DGRAM, 0);
    owner.o.forget = forget;
    peer.sin_family = AF_INET;
    peer.sin_port = htons(5353);
    inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
}

static void teardown(void)
{
    evp_session_close_all(&rt);
    ev_run(rt.loop, EVRUN_NOWAIT); /* frees what was closed */
    evp_resolver_free(rt.resolver);
    ev_loop_destroy(rt.loop);
    close(owner.o.fd);
    for (size_t i = 0; i < 2; i++) {
        evp_instance_unref(ins[i]);
        evp_instance_unref(outs[i]);
    }
    evp_config_free(cfg);
    evp_registry_free(&reg);
}

/* Files s in the owner's table and feeds it one datagram, as the owners do. */
static void file_and_feed(evp_session *s)
{
    ck_assert_ptr_nonnull(s);
    owner.sessions[owner.n++] = s;
    evp_session_udp_input(s, (const uint8_t *)"query", 5);
}

static evp_addr ip4(const char *text, uint16_t port)
{
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4, .port = port};
    inet_pton(AF_INET, text, a.bytes);
    return a;
}

/* A SOCKS UDP destination whose session ends on its first datagram. */
static const char *doomed[] = {"255.255.255.255", "127.0.0.2"};

START_TEST(socks_destination_that_fails_is_forgotten)
{
    evp_addr target = ip4(doomed[_i], 9);
    file_and_feed(evp_session_udp_fixed(&rt, &owner.o, (struct sockaddr *)&peer, sizeof peer,
                                        &target, ins[0], cfg->router));
    ck_assert_msg(owner.n == 0, "%s: the ended session is still in its owner's table",
                  doomed[_i]);
    ck_assert_int_eq(owner.forgotten, 1);
    ck_assert_uint_eq(rt.n_sessions, 0);
}
END_TEST

START_TEST(dokodemo_peer_that_fails_is_forgotten)
{
    file_and_feed(evp_session_udp(&rt, &owner.o, (struct sockaddr *)&peer, sizeof peer, ins[1],
                                  cfg->router));
    ck_assert_msg(owner.n == 0, "the ended session is still in its owner's table");
    ck_assert_int_eq(owner.forgotten, 1);
    ck_assert_uint_eq(rt.n_sessions, 0);
}
END_TEST

START_TEST(orphaned_session_ends_once)
{
    evp_addr target = ip4("127.0.0.1", 9);
    evp_session *s = evp_session_udp_fixed(&rt, &owner.o, (struct sockaddr *)&peer, sizeof peer,
                                           &target, ins[0], cfg->router);
    file_and_feed(s);
    ck_assert_uint_eq(owner.n, 1); /* relaying: it stays */
    ck_assert_uint_eq(rt.n_sessions, 1);
    owner.n = 0;
    evp_session_udp_orphan(s);
    evp_session_udp_orphan(s); /* a second teardown before the memory goes is harmless */
    ck_assert_int_eq(owner.forgotten, 0);
    ck_assert_uint_eq(rt.n_sessions, 0);
}
END_TEST

Suite *udp_session_suite(void)
{
    Suite *s = suite_create("udp_session");
    TCase *tc = tcase_create("owner tables");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, socks_destination_that_fails_is_forgotten, 0, 2);
    tcase_add_test(tc, dokodemo_peer_that_fails_is_forgotten);
    tcase_add_test(tc, orphaned_session_ends_once);
    suite_add_tcase(s, tc);
    return s;
}
