/* The TCP relay of a real session, driven in a private loop: a client socket -> a
 * dokodemo-door session -> freedom -> a target socket, all on loopback and all owned here.
 * Bytes pass both ways intact; a side that stops reading stops the relay reading the other
 * side once the session holds its level's bufferSize, and reading resumes below a quarter of it;
 * half-closes pass through; a target's reset after the client's end reaches the client as a
 * reset. With sniffing, a silent client's session goes on after the waits and an HTTP Host
 * redirects the dial. Looks inside the session (session_int.h) to see its buffers and
 * watchers. */
#include "buf.h"
#include "session_fixture.h"
#include "session_int.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_data_segs_in */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Socket buffers kept small (the kernel doubles them) so the session's own buffers, not the
 * kernel's, are what fills up. */
#define SOCK_BUF 16384
#define MIB (1024 * 1024)
#define MAX_TURNS 200000 /* a bound on every wait: loop turns... */
#define MAX_SECONDS 20.0 /* ...and time, so a broken relay fails instead of hanging */

static session_fixture fx;
static int target_listener;
static int client, target; /* the test's two ends */

static void set_buffers(int fd, int opt)
{
    int n = SOCK_BUF;
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, opt, &n, sizeof n), 0);
}

static void set_nonblocking(int fd)
{
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A listener on 127.0.0.1 with a kernel-chosen port; *port gets it. */
static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ne(fd, -1);
    set_buffers(fd, SO_RCVBUF); /* accepted sockets inherit it */
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static const char *doko_address = "127.0.0.1"; /* where dokodemo-door sends its sessions */

/* dokodemo-door -> the outbound that outbound_json writes for a target on port. */
static void setup_with(void (*outbound_json)(char *json, size_t n, uint16_t port),
                       const char *plugin_dir)
{
    char text[1024], outbound[512];
    uint16_t port;
    target_listener = listen_loopback(&port);
    outbound_json(outbound, sizeof outbound, port);
    snprintf(text, sizeof text,
             "{\"inbounds\":[{\"tag\":\"d\",\"port\":1081,\"protocol\":\"dokodemo-door\","
             "\"settings\":{\"address\":\"%s\",\"port\":%u,\"network\":\"tcp\"}}],"
             "\"outbounds\":[%s]}",
             doko_address, port, outbound);
    fixture_start_with(&fx, text, plugin_dir);
    client = target = -1;
}

static void freedom_json(char *json, size_t n, uint16_t port)
{
    snprintf(json, n, "{\"tag\":\"direct\",\"protocol\":\"freedom\"}");
}

static void setup(void)
{
    doko_address = "127.0.0.1";
    setup_with(freedom_json, "/nonexistent");
}

/* Sniffing HTTP; dokodemo-door's target is address (127.0.0.2: nobody listens there). */
static void setup_sniff_to(const char *address)
{
    doko_address = address;
    setup_with(freedom_json, "/nonexistent");
    fx.in->sniff = EVP_SNIFF_ON | EVP_SNIFF_HTTP;
}

static void setup_sniff(void)
{
    setup_sniff_to("127.0.0.1");
}

static void setup_sniff_elsewhere(void)
{
    setup_sniff_to("127.0.0.2");
}

/* The target plays a VMess server: it sees the client's request as it comes on the wire. */
static void vmess_json(char *json, size_t n, uint16_t port)
{
    snprintf(json, n,
             "{\"tag\":\"vm\",\"protocol\":\"vmess\",\"settings\":{\"vnext\":[{\"address\":"
             "\"127.0.0.1\",\"port\":%u,\"users\":[{\"id\":"
             "\"27848739-7e62-4138-9fd3-098a63964b6b\",\"alterId\":0,"
             "\"security\":\"aes-128-gcm\"}]}]}}",
             port);
}

static void setup_vmess(void)
{
    const char *build = getenv("EVP_BUILD");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/plugins", build ? build : "build");
    setup_with(vmess_json, dir);
}

static void teardown(void)
{
    fixture_stop(&fx);
    if (client != -1)
        close(client);
    if (target != -1)
        close(target);
    close(target_listener);
}

/* Runs the loop until done(arg) holds; returns done(arg). Bounded, never a timed check. */
static int spin(int (*done)(void *), void *arg)
{
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < MAX_SECONDS; i++) {
        if (done(arg))
            return 1;
        ev_run(fx.rt.loop, EVRUN_ONCE);
    }
    return done(arg);
}

static int target_accepted(void *unused)
{
    if (target == -1)
        target = accept(target_listener, NULL, NULL);
    return target != -1;
}

/* The one session of the test. */
static evp_session *session(void)
{
    ck_assert_uint_eq(fx.rt.n_sessions, 1);
    return fx.rt.sessions;
}

/* client -> session -> target, with every socket buffer small; the client sends first
 * (NULL: nothing) before the session runs. */
static void open_session_sending(const char *first)
{
    uint16_t port;
    int front = listen_loopback(&port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    client = socket(AF_INET, SOCK_STREAM, 0);
    set_buffers(client, SO_SNDBUF);
    ck_assert_int_eq(connect(client, (struct sockaddr *)&a, sizeof a), 0);
    if (first != NULL)
        ck_assert_int_eq(send(client, first, strlen(first), 0), (ssize_t)strlen(first));
    int accepted = accept(front, NULL, NULL);
    ck_assert_int_ne(accepted, -1);
    close(front);
    set_buffers(accepted, SO_SNDBUF);
    ck_assert_ptr_nonnull(evp_session_tcp(&fx.rt, accepted, fx.in, fx.cfg->router));
    set_nonblocking(target_listener);
    ck_assert_msg(spin(target_accepted, NULL), "the session never reached the target");
    set_nonblocking(client);
    set_nonblocking(target);
    set_buffers(target, SO_SNDBUF);
    set_buffers(session()->sv.fd, SO_SNDBUF);
    set_buffers(session()->sv.fd, SO_RCVBUF);
}

static void open_session(void)
{
    open_session_sending(NULL);
}

/* One direction of test data: a pattern of `total` bytes written to `from`, read and
 * checked at `to`. */
typedef struct stream {
    int from, to;
    size_t total, sent, received;
    int reading;   /* 0: the receiver does not read (it is "slow") */
    int sender_blocked; /* the last write found the socket full */
    size_t bad_at; /* first wrong byte + 1, 0 when all matched */
    int eof;       /* the receiver saw the end */
} stream;

static uint8_t pattern(size_t i, int seed)
{
    return (uint8_t)((i * 131u + (size_t)seed) ^ (i >> 13));
}

/* Writes what fits and reads what came, checking every byte. */
static void stream_step(stream *st)
{
    uint8_t chunk[65536];
    if (st->sent < st->total) {
        size_t n = st->total - st->sent < sizeof chunk ? st->total - st->sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(st->sent + i, st->from);
        ssize_t w = send(st->from, chunk, n, MSG_NOSIGNAL);
        st->sender_blocked = w == -1 && errno == EAGAIN;
        ck_assert_msg(w > 0 || st->sender_blocked, "send: %s", strerror(errno));
        if (w > 0)
            st->sent += (size_t)w;
    }
    while (st->reading && !st->eof) {
        ssize_t r = recv(st->to, chunk, sizeof chunk, 0);
        if (r == -1 && errno == EAGAIN)
            break;
        ck_assert_msg(r >= 0, "recv: %s", strerror(errno));
        if (r == 0)
            st->eof = 1;
        for (ssize_t i = 0; i < r && st->bad_at == 0; i++)
            if (chunk[i] != pattern(st->received + (size_t)i, st->from))
                st->bad_at = st->received + (size_t)i + 1;
        st->received += (size_t)r;
    }
}

typedef struct duplex {
    stream *a, *b;
} duplex;

static int both_delivered(void *arg)
{
    duplex *d = arg;
    stream_step(d->a);
    stream_step(d->b);
    return d->a->received >= d->a->total && d->b->received >= d->b->total;
}

static int stream_ended(void *arg)
{
    stream *st = arg;
    stream_step(st);
    return st->eof;
}

static int no_session(void *unused)
{
    return fx.rt.n_sessions == 0;
}

/* Once everything is delivered the session holds no data buffer at all. */
static int holds_no_buffer(void *unused)
{
    evp_session *s = session();
    return !s->cl.rbuf.b.data && !s->cl.wbuf.b.data && !s->sv.rbuf.b.data &&
           !s->sv.wbuf.b.data && !s->plain.b.data;
}

START_TEST(bytes_flow_both_ways_intact)
{
    unsigned long long m0 = evp_buf_moved_bytes();
    open_session();
    stream up = {.from = client, .to = target, .total = 3 * MIB, .reading = 1};
    stream down = {.from = target, .to = client, .total = 2 * MIB + 17, .reading = 1};
    duplex d = {&up, &down};
    ck_assert_msg(spin(both_delivered, &d), "up %zu/%zu, down %zu/%zu", up.received, up.total,
                  down.received, down.total);
    ck_assert_msg(up.bad_at == 0, "upstream byte %zu differs", up.bad_at - 1);
    ck_assert_msg(down.bad_at == 0, "downstream byte %zu differs", down.bad_at - 1);
    ck_assert_uint_eq(up.received, up.total);
    ck_assert_uint_eq(down.received, down.total);
    /* Bytes taken from a buffer are never moved; what waits moves to the front only when the
     * tail lacks room for a read (the old consume moved every leftover: 1.5 x the data). */
    unsigned long long moved = evp_buf_moved_bytes() - m0;
    ck_assert_msg(moved <= (up.total + down.total) / 8, "%llu bytes moved to relay %zu", moved,
                  up.total + down.total);
    ck_assert_msg(spin(holds_no_buffer, NULL), "an idle session still holds a buffer");
}
END_TEST

/* Backpressure watch: what the session holds for the slow side, and when it reads the other. */
typedef struct watch {
    stream *st;
    int down;              /* the client is the slow side (else the target) */
    size_t most_held;      /* the most the session held at once, over all turns */
    int blocked_turns;     /* turns in a row with the fast side blocked and not read */
    size_t held_at_resume; /* what it held for the target then */
} watch;

/* Bytes from the client that the session holds: not yet written to the target. */
static size_t held_up(evp_session *s)
{
    return evp_qbuf_len(&s->sv.wbuf) + evp_qbuf_len(&s->cl.rbuf) + evp_qbuf_len(&s->plain);
}

/* What it holds from the fast side for the slow one, and the fast side's reader. */
static size_t held(const watch *w, evp_session *s)
{
    if (!w->down)
        return held_up(s);
    return evp_qbuf_len(&s->cl.wbuf) + evp_qbuf_len(&s->sv.rbuf) + evp_qbuf_len(&s->plain);
}

static ev_io *fast_reader(const watch *w, evp_session *s)
{
    return w->down ? &s->sv.rio : &s->cl.rio;
}

static void observe(watch *w)
{
    evp_session *s = session();
    int was_reading = ev_is_active(fast_reader(w, s));
    stream_step(w->st);
    if (held(w, s) > w->most_held)
        w->most_held = held(w, s);
    if (!was_reading && w->st->sender_blocked)
        w->blocked_turns++;
    else
        w->blocked_turns = 0;
}

static int fast_side_stalled(void *arg)
{
    watch *w = arg;
    observe(w);
    return w->blocked_turns >= 20;
}

static int reading_resumed(void *arg)
{
    watch *w = arg;
    evp_session *s = session();
    if (ev_is_active(fast_reader(w, s))) { /* as the last turn left it */
        w->held_at_resume = evp_qbuf_len(w->down ? &s->cl.wbuf : &s->sv.wbuf);
        return 1;
    }
    observe(w);
    return 0;
}

static int all_delivered(void *arg)
{
    watch *w = arg;
    observe(w);
    return w->st->received >= w->st->sent;
}

/* The session's level and the bufferSize the runtime gives that level and level 0. */
static const struct {
    unsigned level;
    size_t level_cap, level0_cap;
    size_t want; /* the limit the relay must keep */
} caps[] = {
    {0, EVP_RELAY_BUFFER_DEFAULT, EVP_RELAY_BUFFER_DEFAULT, EVP_RELAY_BUFFER_DEFAULT},
    {3, 16 * 1024, EVP_RELAY_BUFFER_DEFAULT, 16 * 1024},
    {5, 0, EVP_RELAY_BUFFER_DEFAULT, 0}, /* nothing beyond one read */
    {0, 256 * 1024, 256 * 1024, 256 * 1024},
    {EVP_POLICY_LEVELS, 0, 16 * 1024, EVP_RELAY_BUFFER_DEFAULT}, /* a level not read */
};

#define N_CAPS (int)(sizeof caps / sizeof caps[0])

/* _i < N_CAPS: the target is slow, the session stops reading the client; from N_CAPS on the
 * client is slow and the target is not read. */
START_TEST(slow_side_stops_reading_the_other)
{
    unsigned long long m0 = evp_buf_moved_bytes();
    int down = _i >= N_CAPS;
    _i %= N_CAPS;
    if (caps[_i].level < EVP_POLICY_LEVELS)
        fx.rt.relay_buffer[caps[_i].level] = caps[_i].level_cap;
    fx.rt.relay_buffer[0] = caps[_i].level0_cap;
    open_session();
    session()->level = (uint8_t)caps[_i].level; /* as its user's, before any byte came */
    size_t cap = caps[_i].want;
    ck_assert_uint_eq(evp_runtime_buffer_cap(&fx.rt, caps[_i].level), cap);
    stream up = {.from = down ? target : client, .to = down ? client : target,
                 .total = 16 * MIB, .reading = 0};
    watch w = {.st = &up, .down = down};
    ck_assert_msg(spin(fast_side_stalled, &w),
                  "the fast side never stalled: sent %zu, the session holds %zu", up.sent,
                  held(&w, session()));
    evp_session *s = session();
    /* It stopped once its output reached the level's bufferSize, having read at most one
     * read (a block) more. */
    ck_assert_uint_ge(w.most_held, cap > 0 ? cap : 1);
    ck_assert_msg(w.most_held <= cap + EVP_BUF_BLOCK, "case %d: the session held %zu bytes",
                  _i, w.most_held);
    ck_assert(!ev_is_active(fast_reader(&w, s)));

    /* The slow side reads again: the session resumes reading only below a quarter of it. */
    up.total = up.sent; /* the fast side sends no more */
    up.reading = 1;
    ck_assert_msg(spin(reading_resumed, &w), "reading never resumed");
    ck_assert_msg(evp_sess_below(w.held_at_resume, cap / 4),
                  "resumed reading with %zu bytes pending", w.held_at_resume);
    ck_assert(spin(all_delivered, &w));
    ck_assert_uint_eq(up.received, up.sent);
    ck_assert_msg(up.bad_at == 0, "byte %zu differs", up.bad_at - 1);
    ck_assert_msg(w.most_held <= cap + EVP_BUF_BLOCK, "the session held %zu bytes",
                  w.most_held);
    /* A backed-up write buffer is sent from its offset, not moved after each partial send
     * (before: 4,014,080 bytes moved to relay 598,016, 6.7 x). What waits still moves when
     * the tail lacks room for a read, and how often depends on how the kernel takes the
     * partial sends: a loaded ASan run moved 483,328 to relay 622,592. So the bound is 1 x. */
    unsigned long long moved = evp_buf_moved_bytes() - m0;
    ck_assert_msg(moved <= up.sent, "case %d: %llu bytes moved to relay %zu", _i, moved,
                  up.sent);
}
END_TEST

/* One side ends its sending (SHUT_WR): the other side reads the end, and its own data keeps
 * flowing back until it ends too; then the session is gone. _i 0: the client ends first,
 * 1: the target does. */
START_TEST(half_close_carried_through)
{
    open_session();
    int first = _i == 0 ? client : target, second = _i == 0 ? target : client;
    stream ending = {.from = first, .to = second, .total = 100000, .reading = 1};
    stream going = {.from = second, .to = first, .total = 1 * MIB, .reading = 1};
    ck_assert(spin(both_delivered, &(duplex){&ending, &going}));
    ck_assert_int_eq(shutdown(first, SHUT_WR), 0);
    ck_assert_msg(spin(stream_ended, &ending), "the end never arrived");
    ck_assert_uint_eq(ending.received, ending.total);
    /* The other way is still open: a new megabyte goes through after the end. */
    going.total += 1 * MIB;
    ck_assert(spin(both_delivered, &(duplex){&ending, &going}));
    ck_assert_uint_eq(going.received, going.total);
    ck_assert_msg(going.bad_at == 0 && ending.bad_at == 0, "bytes differ");
    ck_assert_uint_eq(fx.rt.n_sessions, 1);
    ck_assert_int_eq(shutdown(second, SHUT_WR), 0);
    ck_assert_msg(spin(stream_ended, &going), "the second end never arrived");
    ck_assert_msg(spin(no_session, NULL), "the session outlived both ends");
}
END_TEST

/* The target takes the client's end, answers, then resets: the client reads the answer,
 * then a reset, not a clean end that would pass a cut answer off as complete. */
START_TEST(target_reset_after_client_end_resets_client)
{
    static const struct linger now = {.l_onoff = 1, .l_linger = 0};
    open_session();
    stream ending = {.from = client, .to = target, .total = 1000, .reading = 1};
    stream answer = {.from = target, .to = client, .total = 300000, .reading = 1};
    ck_assert(spin(both_delivered, &(duplex){&ending, &answer}));
    ck_assert_int_eq(shutdown(client, SHUT_WR), 0);
    ck_assert_msg(spin(stream_ended, &ending), "the client's end never arrived");
    ck_assert_int_eq(setsockopt(target, SOL_SOCKET, SO_LINGER, &now, sizeof now), 0);
    close(target);
    target = -1;
    ck_assert_msg(spin(no_session, NULL), "the session outlived the reset");
    uint8_t b;
    ssize_t r;
    for (int i = 0; i < MAX_TURNS && (r = recv(client, &b, 1, 0)) == -1 && errno == EAGAIN; i++)
        ev_run(fx.rt.loop, EVRUN_ONCE);
    ck_assert_msg(r == -1 && errno == ECONNRESET, "the client read %zd (%s), not a reset", r,
                  r == -1 ? strerror(errno) : "no error");
    ck_assert_uint_eq(answer.received, answer.total);
}
END_TEST

/* The inbound's session_idle (ABI 1.4), counted: how often, and what the session held then. */
static unsigned idle_calls;
static size_t held_when_told;

static void count_idle(void *sess)
{
    evp_session *s = session();
    idle_calls++;
    held_when_told += evp_qbuf_len(&s->cl.rbuf) + evp_qbuf_len(&s->cl.wbuf) +
                      evp_qbuf_len(&s->sv.rbuf) + evp_qbuf_len(&s->sv.wbuf) +
                      evp_qbuf_len(&s->plain);
}

static int told_idle(void *times)
{
    return idle_calls >= *(unsigned *)times;
}

/* A relaying session that goes quiet is told so once, with nothing queued; after more bytes
 * it is told again at the next quiet spell. */
START_TEST(quiet_session_told_once_per_spell)
{
    static evp_inbound_ops counting;
    open_session();
    evp_session *s = session();
    counting = *s->inops;
    counting.session_idle = count_idle;
    s->inops = &counting;
    idle_calls = 0;
    held_when_told = 0;
    stream up = {.from = client, .to = target, .total = 5000, .reading = 1};
    stream down = {.from = target, .to = client, .total = 7000, .reading = 1};
    ck_assert(spin(both_delivered, &(duplex){&up, &down}));
    unsigned times = 1;
    ck_assert_msg(spin(told_idle, &times), "a quiet session was never told");
    /* Still quiet for longer than it takes to be told: not told again (a slow machine only
     * makes this wait shorter in effect, never the count higher). */
    double start = ev_time();
    for (int i = 0; i < MAX_TURNS && ev_time() - start < 2.5; i++)
        ev_run(fx.rt.loop, EVRUN_ONCE);
    ck_assert_uint_eq(idle_calls, 1);
    /* More bytes end the spell; the next quiet spell is told again. */
    up.total += 3000;
    ck_assert(spin(both_delivered, &(duplex){&up, &down}));
    times = 2;
    ck_assert_msg(spin(told_idle, &times), "the second quiet spell was never told");
    ck_assert_uint_eq(idle_calls, 2);
    ck_assert_uint_eq(held_when_told, 0);
    ck_assert_msg(up.bad_at == 0 && down.bad_at == 0, "bytes differ");
}
END_TEST

/* All the client sent is written; nothing waits for the target. */
static int payload_written(void *arg)
{
    evp_session *s = session();
    return s->bytes_up == *(size_t *)arg && s->state == S_RELAY && !ev_is_active(&s->sv.wio);
}

/* Data segments the target's socket has received. */
static unsigned segments_in(void)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    ck_assert_int_eq(getsockopt(target, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti.tcpi_data_segs_in;
}

/* V2Ray's client sends the request header with the first payload (it waits up to 100 ms for
 * it): a client that speaks at once costs the server one segment, not two. */
START_TEST(first_payload_rides_with_the_header)
{
    open_session();
    size_t sent = 5;
    ck_assert_int_eq(send(client, "hello", sent, 0), (ssize_t)sent);
    ck_assert_msg(spin(payload_written, &sent), "the payload never went out");
    ck_assert_msg(segments_in() == 1, "header and payload came in %u segments", segments_in());
    uint8_t wire[4096];
    ssize_t n = recv(target, wire, sizeof wire, 0);
    ck_assert_int_gt(n, 16 + 2 + (ssize_t)sent); /* an AEAD header, then a sealed chunk */
    ck_assert_msg(spin(holds_no_buffer, NULL), "an idle session still holds a buffer");
}
END_TEST

static int target_got_bytes(void *unused)
{
    uint8_t b;
    return recv(target, &b, 1, MSG_PEEK) == 1;
}

/* A client that waits for the server to speak first (SMTP, SSH): the header goes alone once
 * the wait is over, so the server can answer. Bounded by the loop's count and time. */
START_TEST(silent_client_header_goes_alone)
{
    open_session();
    ck_assert_msg(spin(target_got_bytes, NULL), "the header never went without a payload");
    ck_assert_uint_eq(session()->bytes_up, 0);
    unsigned before = segments_in();
    size_t sent = 4;
    ck_assert_int_eq(send(client, "late", sent, 0), (ssize_t)sent);
    ck_assert_msg(spin(payload_written, &sent), "the payload never went out");
    ck_assert_uint_eq(segments_in(), before + 1);
}
END_TEST

/* The server ends its stream inside a record (here: a few bytes of a response header): the
 * rest never comes, so the session ends instead of waiting out the idle limit with the
 * client never told. Failed before: the session sat in S_RELAY. */
START_TEST(stream_cut_mid_record_ends_the_session)
{
    open_session();
    size_t sent = 5;
    ck_assert_int_eq(send(client, "hello", sent, 0), (ssize_t)sent);
    ck_assert_msg(spin(payload_written, &sent), "the payload never went out");
    ck_assert_int_eq(send(target, "\x01\x02\x03\x04\x05", 5, 0), 5);
    ck_assert_int_eq(shutdown(target, SHUT_WR), 0);
    ck_assert_msg(spin(no_session, NULL), "a stream cut mid-record held the session open");
}
END_TEST

static int client_got_banner(void *unused)
{
    char b[8];
    return recv(client, b, sizeof b, MSG_PEEK) == 3;
}

/* A client that sends nothing (the server speaks first): both reads of the sniff pass
 * empty, the session goes on to its target, and the server's first words reach the client. */
START_TEST(sniff_gives_up_on_a_silent_client)
{
    open_session();
    evp_session *s = session();
    ck_assert_uint_eq(s->sniff_reads, EVP_SNIFF_READS);
    ck_assert_ptr_null(s->sniffed_protocol);
    ck_assert_int_eq(send(target, "220", 3, 0), 3);
    ck_assert_msg(spin(client_got_banner, NULL), "the server's banner never came");
}
END_TEST

/* dokodemo-door names 127.0.0.2, where nobody listens; the Host names 127.0.0.1 (the
 * target's listener), port kept: only the sniffed address reaches it, with the request
 * intact and once. */
START_TEST(sniffed_host_is_dialled)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    open_session_sending(req);
    ck_assert_str_eq(session()->sniffed_protocol, "http1");
    ck_assert_ptr_nonnull(session()->access_to); /* the access log keeps 127.0.0.2 */
    size_t sent = sizeof req - 1;
    ck_assert_msg(spin(payload_written, &sent), "the request never went out");
    char got[sizeof req + 16];
    ck_assert_int_eq(recv(target, got, sizeof got, 0), (ssize_t)sent);
    ck_assert(memcmp(got, req, sent) == 0);
}
END_TEST

static TCase *sniff_case(Suite *s, const char *name, void (*setup_fn)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup_fn, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *session_relay_suite(void)
{
    Suite *s = suite_create("session_relay");
    TCase *tc = tcase_create("tcp relay");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bytes_flow_both_ways_intact);
    tcase_add_loop_test(tc, slow_side_stops_reading_the_other, 0, 2 * N_CAPS);
    tcase_add_loop_test(tc, half_close_carried_through, 0, 2);
    tcase_add_test(tc, target_reset_after_client_end_resets_client);
    tcase_add_test(tc, quiet_session_told_once_per_spell);
    suite_add_tcase(s, tc);
    TCase *vm = tcase_create("vmess client");
    tcase_add_checked_fixture(vm, setup_vmess, teardown);
    tcase_set_timeout(vm, 120);
    tcase_add_test(vm, first_payload_rides_with_the_header);
    tcase_add_test(vm, silent_client_header_goes_alone);
    tcase_add_test(vm, stream_cut_mid_record_ends_the_session);
    suite_add_tcase(s, vm);
    tcase_add_test(sniff_case(s, "sniffing", setup_sniff), sniff_gives_up_on_a_silent_client);
    tcase_add_test(sniff_case(s, "sniffing elsewhere", setup_sniff_elsewhere),
                   sniffed_host_is_dialled);
    return s;
}
