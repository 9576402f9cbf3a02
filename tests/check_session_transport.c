/* A real session with transport layers on both of its sides, on loopback: the test client
 * -> [tls, ws] -> dokodemo-door ... freedom -> [tls, ws] -> the test target, the layers
 * being tests/plugins' stand-ins (xor and a framing layer with a HELLO/OK handshake and
 * its own end marker). The test's two ends run their own stacks (transport_stack.c). Bytes
 * pass both ways in order (large, with small socket buffers), half-closes pass through each
 * layer's end marker, a client whose layer fails is drained, then closed, and a client
 * address a layer names (EVP_TARGET) becomes the session's peer (the access log's), and a
 * quiet session tells the layers of both its stacks (session_idle). */
#include "buf.h"
#include "module.h"
#include "session_fixture.h"
#include "session_int.h"
#include "test_layers.h"

#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TURNS 400000 /* a bound on every wait, with MAX_SECONDS: never a timed check */
#define MAX_SECONDS 30.0
#define BIG (2 * 1024 * 1024 + 5)
#define SS "{\"network\":\"ws\",\"security\":\"tls\"}"

/* One of the test's ends: a socket with its own stack and the protocol's view of it. */
typedef struct end {
    int fd;
    evp_tstack *st;
    evp_qbuf r, w;
    int w_eof;  /* nothing more to write: the stack writes its ends */
    int shut;   /* shutdown(SHUT_WR) done */
    int raw_eof;
} end;

static session_fixture fx;
static evp_transports *client_layers, *target_layers;
static end cl, tg;
static int target_listener;

static void set_nonblocking(int fd)
{
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void small_buffers(int fd)
{
    int n = 16384;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof n);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof n);
}

static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ne(fd, -1);
    small_buffers(fd);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static evp_transports *build(const evp_stream_conf *sc, int server)
{
    char err[256] = "";
    evp_transports *t = evp_stream_conf_build(sc, server, "t", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

static void setup(void)
{
    char text[1024], dir[512];
    uint16_t port;
    const char *b = getenv("EVP_BUILD");
    snprintf(dir, sizeof dir, "%s/tests/plugins", b ? b : "build");
    target_listener = listen_loopback(&port);
    snprintf(text, sizeof text,
             "{\"inbounds\":[{\"tag\":\"in\",\"port\":1081,\"protocol\":\"dokodemo-door\","
             "\"settings\":{\"address\":\"127.0.0.1\",\"port\":%u},\"streamSettings\":" SS "}],"
             "\"outbounds\":[{\"tag\":\"out\",\"protocol\":\"freedom\",\"streamSettings\":" SS
             "}]}",
             port);
    fixture_start_with(&fx, text, dir);
    /* The fixture makes bare instances: give them their layers as the server does. */
    fx.in->transports = build(&fx.cfg->inbounds[0].stream, 1);
    fx.out->transports = build(&fx.cfg->outbounds[0].stream, 0);
    client_layers = build(&fx.cfg->inbounds[0].stream, 0);
    target_layers = build(&fx.cfg->outbounds[0].stream, 1);
    memset(&cl, 0, sizeof cl);
    memset(&tg, 0, sizeof tg);
    cl.fd = tg.fd = -1;
}

static void end_free(end *e)
{
    if (e->fd != -1)
        close(e->fd);
    evp_tstack_free(e->st);
    evp_qbuf_free(&e->r);
    evp_qbuf_free(&e->w);
}

static void teardown(void)
{
    fixture_stop(&fx);
    end_free(&cl);
    end_free(&tg);
    evp_transports_free(client_layers);
    evp_transports_free(target_layers);
    close(target_listener);
}

static void put(evp_qbuf *q, const void *p, size_t n)
{
    uint8_t *dst = evp_qbuf_room(q, n);
    ck_assert_ptr_nonnull(dst);
    memcpy(dst, p, n);
    q->b.len += n;
}

/* Encodes and writes what fits, then reads and decodes what came. */
static void end_step(end *e)
{
    uint8_t buf[32768];
    ck_assert_int_eq(evp_tstack_encode(e->st, &e->w, e->w_eof), EVP_OK);
    evp_qbuf *out = evp_tstack_raw_out(e->st);
    while (evp_qbuf_len(out) > 0) {
        ssize_t n = send(e->fd, evp_qbuf_head(out), evp_qbuf_len(out), MSG_NOSIGNAL);
        if (n <= 0)
            break;
        evp_qbuf_take(out, (size_t)n);
    }
    if (!e->shut && evp_qbuf_len(out) == 0 && evp_tstack_down_ended(e->st)) {
        shutdown(e->fd, SHUT_WR);
        e->shut = 1;
    }
    for (int i = 0; i < 4 && !e->raw_eof; i++) {
        ssize_t n = recv(e->fd, buf, sizeof buf, 0);
        if (n == -1)
            break;
        if (n == 0) {
            e->raw_eof = 1;
            evp_tstack_raw_eof(e->st);
        } else {
            put(evp_tstack_raw_in(e->st), buf, (size_t)n);
        }
    }
    ck_assert_int_eq(evp_tstack_decode(e->st, &e->r, &e->w, e->w_eof), EVP_OK);
}

static void turn(void)
{
    ev_run(fx.rt.loop, EVRUN_NOWAIT);
    if (cl.st)
        end_step(&cl);
    if (tg.fd == -1)
        tg.fd = accept(target_listener, NULL, NULL);
    if (tg.fd != -1 && tg.st == NULL) {
        set_nonblocking(tg.fd);
        small_buffers(tg.fd);
        evp_addr none = {0};
        tg.st = evp_tstack_new(target_layers, &none);
        ck_assert_ptr_nonnull(tg.st);
    }
    if (tg.st)
        end_step(&tg);
    ev_run(fx.rt.loop, EVRUN_ONCE);
}

/* The test client connected to a new session (whose socket is small-buffered). */
static void open_session(void)
{
    uint16_t port;
    int front = listen_loopback(&port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cl.fd = socket(AF_INET, SOCK_STREAM, 0);
    small_buffers(cl.fd);
    ck_assert_int_eq(connect(cl.fd, (struct sockaddr *)&a, sizeof a), 0);
    int accepted = accept(front, NULL, NULL);
    ck_assert_int_ne(accepted, -1);
    close(front);
    small_buffers(accepted);
    set_nonblocking(cl.fd);
    set_nonblocking(target_listener);
    ck_assert_ptr_nonnull(evp_session_tcp(&fx.rt, accepted, fx.in, fx.cfg->router));
    evp_addr none = {0};
    cl.st = evp_tstack_new(client_layers, &none);
    ck_assert_ptr_nonnull(cl.st);
}

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 131u + (size_t)seed) ^ (i >> 11));
}

/* Feeds up to total bytes of e's pattern into its wbuf (a little at a time); takes and
 * checks what e received from the other side's pattern. */
static void feed_and_check(end *e, size_t *fed, size_t *got, int seed_out, int seed_in)
{
    uint8_t chunk[16384];
    if (*fed < BIG && evp_qbuf_len(&e->w) < 65536) {
        size_t n = BIG - *fed < sizeof chunk ? BIG - *fed : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(*fed + i, seed_out);
        put(&e->w, chunk, n);
        *fed += n;
    }
    const uint8_t *p = evp_qbuf_head(&e->r);
    for (size_t i = 0; i < evp_qbuf_len(&e->r); i++)
        ck_assert_msg(p[i] == pattern(*got + i, seed_in), "byte %zu differs", *got + i);
    *got += evp_qbuf_len(&e->r);
    evp_qbuf_take(&e->r, evp_qbuf_len(&e->r));
}

START_TEST(test_both_ways_through_both_stacks)
{
    open_session();
    ck_assert_int_eq(evp_tstack_start(cl.st), EVP_OK);
    size_t up_fed = 0, up_got = 0, down_fed = 0, down_got = 0;
    int saw_stacks = 0;
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        feed_and_check(&cl, &up_fed, &down_got, 1, 2);
        if (tg.st)
            feed_and_check(&tg, &down_fed, &up_got, 2, 1);
        if (fx.rt.sessions && fx.rt.sessions->cl.stack && fx.rt.sessions->sv.stack)
            saw_stacks = 1;
        /* Half-close each way once its data is in: each layer's end marker goes through. */
        cl.w_eof = up_fed == BIG;
        tg.w_eof = down_fed == BIG && evp_tstack_top_eof(tg.st);
        if (up_got == BIG && down_got == BIG && evp_tstack_top_eof(cl.st) &&
            fx.rt.sessions == NULL)
            break;
        turn();
    }
    ck_assert(saw_stacks);
    ck_assert_uint_eq(up_got, BIG);
    ck_assert_uint_eq(down_got, BIG);
    ck_assert_msg(evp_tstack_top_eof(tg.st), "the target never saw the client's end");
    ck_assert_msg(evp_tstack_top_eof(cl.st), "the client never saw the target's end");
    ck_assert_msg(fx.rt.sessions == NULL, "the session did not end after both ends");
}
END_TEST

START_TEST(test_failing_client_layer_is_drained_then_closed)
{
    open_session();
    /* A wrong greeting through the xor layer: the frame layer fails, asking to drain 7. */
    const char bad[] = {'H' ^ 0x5A, 'E' ^ 0x5A, 'L' ^ 0x5A, 'P' ^ 0x5A};
    ck_assert_int_eq(send(cl.fd, bad, sizeof bad, 0), (ssize_t)sizeof bad);
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        if (fx.rt.sessions == NULL || fx.rt.sessions->state == S_DRAIN)
            break;
        ev_run(fx.rt.loop, EVRUN_ONCE);
    }
    ck_assert_ptr_nonnull(fx.rt.sessions);
    ck_assert_int_eq(fx.rt.sessions->state, S_DRAIN);
    ck_assert_uint_eq(fx.rt.sessions->drain_left, 7);
    ck_assert_int_eq(send(cl.fd, "1234567", 7, 0), 7);
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS && fx.rt.sessions; i++)
        ev_run(fx.rt.loop, EVRUN_ONCE);
    ck_assert_msg(fx.rt.sessions == NULL, "the drained session was not closed");
}
END_TEST

TL_OPS(addr_ops, tl_addr_decode, tl_copy);
TL_PLUGIN(addr_desc, "addr", addr_ops);

START_TEST(test_client_address_from_a_layer_is_the_sessions_peer)
{
    /* The inbound's layers become [addr, tls, ws]: addr reads 'P' + IPv4 + port, as a PROXY
     * protocol front's header, and names that address. */
    char err[256] = "";
    evp_module *addr = evp_module_builtin(&addr_desc, err, sizeof err);
    ck_assert_msg(addr != NULL, "%s", err);
    const evp_stream_conf *sc = &fx.cfg->inbounds[0].stream;
    evp_layer_conf lc[3] = {{.name = "addr", .where = "sockopt", .settings_json = (char *)"{}",
                             .mod = addr},
                            sc->layers[0], sc->layers[1]};
    evp_transports_free(fx.in->transports);
    fx.in->transports = evp_transports_new(lc, 3, 1, "in", "{}", err, sizeof err);
    ck_assert_msg(fx.in->transports != NULL, "%s", err);
    evp_module_unref(addr);
    open_session();
    const uint8_t header[] = {'P', 192, 0, 2, 7, 0x11, 0xD7};
    ck_assert_int_eq(send(cl.fd, header, sizeof header, 0), (ssize_t)sizeof header);
    ck_assert_int_eq(evp_tstack_start(cl.st), EVP_OK);
    put(&cl.w, "ping", 4);
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        if (tg.st && evp_qbuf_len(&tg.r) >= 4)
            break;
        turn();
    }
    ck_assert_msg(tg.st && evp_qbuf_len(&tg.r) == 4, "ping never reached the target");
    ck_assert_int_eq(memcmp(evp_qbuf_head(&tg.r), "ping", 4), 0);
    evp_session *s = fx.rt.sessions;
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->peer_len, sizeof(struct sockaddr_in));
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &s->peer.in4.sin_addr, ip, sizeof ip);
    ck_assert_str_eq(ip, "192.0.2.7");
    ck_assert_uint_eq(ntohs(s->peer.in4.sin_port), 4567);
}
END_TEST

/* The stand-in tls.so's session_idle counters (tests/plugins/tls.c): the inbound's bottom
 * layer's module is that .so (a private copy of it). */
static unsigned *idle_counter(const char *name)
{
    const evp_module *tls = fx.in->transports->layer[0].mod;
    ck_assert_str_eq(tls->desc->name, "tls");
    ck_assert_ptr_nonnull(tls->handle);
    unsigned *n = dlsym(tls->handle, name);
    ck_assert_msg(n != NULL, "%s", dlerror());
    return n;
}

/* A quiet session with layers tells them so (session_idle), on both of its stacks, once
 * bytes have passed and nothing is queued. Waits for the quiet spell (bounded by count and
 * time; no timed assertion). */
START_TEST(test_quiet_session_tells_its_layers)
{
    unsigned *srv_told = idle_counter("evp_test_idle_server");
    unsigned *cli_told = idle_counter("evp_test_idle_client");
    *srv_told = *cli_told = 0;
    open_session();
    ck_assert_int_eq(evp_tstack_start(cl.st), EVP_OK);
    put(&cl.w, "ping", 4);
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        if (tg.st && evp_qbuf_len(&tg.r) >= 4 && *srv_told > 0 && *cli_told > 0)
            break;
        turn();
    }
    ck_assert_msg(tg.st && evp_qbuf_len(&tg.r) == 4, "ping never reached the target");
    ck_assert_ptr_nonnull(fx.rt.sessions);
    ck_assert_msg(*srv_told == 1, "the inbound's layer was told %u times", *srv_told);
    ck_assert_msg(*cli_told == 1, "the outbound's layer was told %u times", *cli_told);
}
END_TEST

Suite *session_transport_suite(void)
{
    Suite *s = suite_create("session_transport");
    TCase *tc = tcase_create("loopback");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_both_ways_through_both_stacks);
    tcase_add_test(tc, test_failing_client_layer_is_drained_then_closed);
    tcase_add_test(tc, test_client_address_from_a_layer_is_the_sessions_peer);
    tcase_add_test(tc, test_quiet_session_tells_its_layers);
    suite_add_tcase(s, tc);
    return s;
}
