/* A UDP relay beside a session is the session's companion (session.h): a SOCKS5 UDP
 * ASSOCIATE through a real session in a private loop gets the relay the runtime's
 * open_udp_relay makes, the reply names the relay's address, and the session's end closes
 * the relay, whatever the relay is: a stand-in here, SOCKS's own (udp_assoc.c) too. A
 * runtime without an opener refuses the request and the session ends. */
#include "session_fixture.h"
#include "session_int.h"
#include "udp_assoc.h"

#include <arpa/inet.h>
#include <check.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TURNS 200000 /* a bound on every wait: loop turns... */
#define MAX_SECONDS 20.0 /* ...and time, so a broken session fails instead of hanging */

static session_fixture fx;
static int client = -1;

/* The stand-in relay: counts opens and closes. */
typedef struct fake_relay {
    evp_companion companion;
    int closed;
} fake_relay;

static fake_relay fake;
static int opened;

static void fake_close(evp_companion *c)
{
    ((fake_relay *)c)->closed++;
}

static double fake_last_active(const evp_companion *c)
{
    return ev_now(fx.rt.loop);
}

static evp_companion *fake_open(evp_runtime *r, int tcp_fd, evp_instance *i, evp_router *ro,
                                evp_addr *bound)
{
    opened++;
    memset(bound, 0, sizeof *bound);
    bound->type = EVP_ADDR_IPV4;
    bound->len = 4;
    memcpy(bound->bytes, "\x7f\x00\x00\x01", 4);
    bound->port = 4242;
    fake.companion.close = fake_close;
    fake.companion.last_active = fake_last_active;
    return &fake.companion;
}

static void setup(void)
{
    fixture_start(&fx, "{\"inbounds\":[{\"tag\":\"s\",\"port\":1080,\"protocol\":\"socks\","
                       "\"settings\":{\"auth\":\"noauth\",\"udp\":true}}],"
                       "\"outbounds\":[{\"tag\":\"direct\",\"protocol\":\"freedom\"}]}");
    memset(&fake, 0, sizeof fake);
    opened = 0;
    client = -1;
}

static void teardown(void)
{
    fixture_stop(&fx);
    if (client != -1)
        close(client);
}

/* Runs the loop until done() holds; returns done(). Bounded, never a timed check. */
static int spin(int (*done)(void))
{
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        if (done())
            return 1;
        ev_run(fx.rt.loop, EVRUN_ONCE);
    }
    return done();
}

static int no_session(void)
{
    return fx.rt.n_sessions == 0;
}

static int fake_closed(void)
{
    return fake.closed > 0;
}

static int no_assoc(void)
{
    return fx.rt.n_assocs == 0;
}

/* Reads exactly n bytes from the client's end while the loop runs; 1 when they came. */
static int client_reads(uint8_t *buf, size_t n)
{
    size_t got = 0;
    double start = ev_time();
    for (int i = 0; got < n && i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        ssize_t r = recv(client, buf + got, n - got, MSG_DONTWAIT);
        if (r == 0)
            return 0;
        if (r > 0)
            got += (size_t)r;
        else
            ev_run(fx.rt.loop, EVRUN_ONCE);
    }
    return got == n;
}

/* A TCP session on loopback for the socks inbound, then its UDP ASSOCIATE request; the
 * server's reply to it (10 bytes for IPv4) in reply. */
static void associate(uint8_t reply[10])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    client = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(client, (struct sockaddr *)&a, sizeof a), 0);
    int sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ne(sfd, -1);
    close(lfd);
    ck_assert_ptr_nonnull(evp_session_tcp(&fx.rt, sfd, fx.in, fx.cfg->router));
    static const uint8_t hello[] = {5, 1, 0};
    static const uint8_t udp[] = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}; /* UDP ASSOCIATE 0.0.0.0:0 */
    uint8_t method[2];
    ck_assert_int_eq(send(client, hello, sizeof hello, 0), (ssize_t)sizeof hello);
    ck_assert(client_reads(method, 2));
    ck_assert_int_eq(method[1], 0);
    ck_assert_int_eq(send(client, udp, sizeof udp, 0), (ssize_t)sizeof udp);
    ck_assert(client_reads(reply, 10));
}

START_TEST(companion_ends_with_the_session)
{
    fx.rt.open_udp_relay = fake_open;
    uint8_t reply[10];
    associate(reply);
    ck_assert_int_eq(opened, 1);
    ck_assert_int_eq(reply[1], 0); /* succeeded */
    ck_assert_mem_eq(reply + 4, "\x7f\x00\x00\x01\x10\x92", 6); /* 127.0.0.1:4242 */
    ck_assert_int_eq(fx.rt.sessions->state, S_ASSOC);
    ck_assert_int_eq(fake.closed, 0);
    close(client); /* the control connection's end ends the relay */
    client = -1;
    ck_assert(spin(fake_closed));
    ck_assert_int_eq(fake.closed, 1);
    ck_assert(spin(no_session));
}
END_TEST

START_TEST(companion_closed_by_shutdown)
{
    fx.rt.open_udp_relay = fake_open;
    uint8_t reply[10];
    associate(reply);
    evp_session_close_all(&fx.rt);
    ck_assert_int_eq(fake.closed, 1);
}
END_TEST

START_TEST(no_opener_refuses)
{
    fx.rt.open_udp_relay = NULL;
    uint8_t reply[10];
    associate(reply);
    ck_assert_int_eq(opened, 0);
    ck_assert_int_eq(reply[1], 1); /* general failure */
    ck_assert(spin(no_session));
}
END_TEST

START_TEST(socks_relay_is_a_companion)
{
    fx.rt.open_udp_relay = evp_assoc_open;
    uint8_t reply[10];
    associate(reply);
    ck_assert_int_eq(reply[1], 0);
    ck_assert_uint_eq(fx.rt.n_assocs, 1);
    close(client);
    client = -1;
    ck_assert(spin(no_assoc));
    ck_assert(spin(no_session));
}
END_TEST

Suite *session_companion_suite(void)
{
    Suite *s = suite_create("session_companion");
    TCase *tc = tcase_create("companion");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* above spin's own bound, which fails with a reason */
    tcase_add_test(tc, companion_ends_with_the_session);
    tcase_add_test(tc, companion_closed_by_shutdown);
    tcase_add_test(tc, no_opener_refuses);
    tcase_add_test(tc, socks_relay_is_a_companion);
    suite_add_tcase(s, tc);
    return s;
}
