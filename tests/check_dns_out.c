/* The dns outbound (issue 14): the question parser and reply builder (core/builtin/
 * dns_msg.c) on good and hostile queries, the outbound's settings and the header its session
 * writes, and the core's answerer (core/server/dns_answerer.c) answering an A query from
 * dns.hosts and refusing a header without its secret. */
#include <arpa/inet.h>
#include <check.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builtin/builtin.h"
#include "builtin/dns_msg.h"
#include "builtin/dns_out.h"
#include "dns_answerer.h"
#include "dns_hosts.h"
#include "errlist.h"
#include "resolver.h"
#include "test_host.h"

/* A query for name (dotted) of type qtype, id 0xBEEF, one question, class IN. */
static size_t query(uint8_t *out, const char *name, uint16_t qtype)
{
    static const uint8_t head[12] = {0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(out, head, sizeof head);
    size_t n = sizeof head;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        out[n++] = (uint8_t)l;
        memcpy(out + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    out[n++] = 0;
    out[n++] = (uint8_t)(qtype >> 8);
    out[n++] = (uint8_t)qtype;
    out[n++] = 0;
    out[n++] = 1;
    return n;
}

START_TEST(parses_a_and_aaaa_questions)
{
    uint8_t m[300];
    evp_dns_query q;
    size_t n = query(m, "www.Example.test", EVP_DNS_TYPE_A);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 1);
    ck_assert_str_eq(q.name, "www.Example.test"); /* the query's spelling is kept */
    ck_assert_uint_eq(q.id, 0xBEEF);
    ck_assert_uint_eq(q.qtype, EVP_DNS_TYPE_A);
    n = query(m, "v6.test", EVP_DNS_TYPE_AAAA);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 1);
    ck_assert_uint_eq(q.qtype, EVP_DNS_TYPE_AAAA);
    n = query(m, "mail.test", 15); /* MX: forwarded */
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    n = query(m, "txt.test", 16);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
}
END_TEST

/* Everything that is not one plain A/AAAA question of class IN is "not an IP query". */
START_TEST(hostile_queries_are_not_ip_queries)
{
    uint8_t m[600];
    evp_dns_query q;
    size_t n = query(m, "a.test", EVP_DNS_TYPE_A);
    for (size_t cut = 0; cut < n; cut++) /* every truncation */
        ck_assert_int_eq(evp_dns_parse_ip_query(m, cut, &q), 0);
    ck_assert_int_eq(evp_dns_parse_ip_query(NULL, 0, &q), 0);
    m[5] = 2; /* qdcount 2 */
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    m[5] = 0; /* qdcount 0 */
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    m[5] = 1;
    m[n - 1] = 3; /* class CHAOS */
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    m[n - 1] = 1;
    m[2] |= 0x80; /* a response, not a query */
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    m[2] = 0x01;
    /* A compression pointer to itself, and one forwards: loops and jumps are refused. */
    uint8_t loop[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
    ck_assert_int_eq(evp_dns_parse_ip_query(loop, sizeof loop, &q), 0);
    uint8_t fwd[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 16, 0, 1, 0, 1, 1, 'a', 0};
    ck_assert_int_eq(evp_dns_parse_ip_query(fwd, sizeof fwd, &q), 0);
    /* A label running past the end, a reserved label type, a name over 255 bytes. */
    uint8_t past[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 40, 'a', 'b', 0, 0, 1, 0, 1};
    ck_assert_int_eq(evp_dns_parse_ip_query(past, sizeof past, &q), 0);
    uint8_t reserved[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1};
    ck_assert_int_eq(evp_dns_parse_ip_query(reserved, sizeof reserved, &q), 0);
    memcpy(m, loop, 12);
    n = 12;
    for (int i = 0; i < 5; i++) { /* 5 labels of 63: 320 bytes */
        m[n++] = 63;
        memset(m + n, 'x', 63);
        n += 63;
    }
    m[n++] = 0;
    memcpy(m + n, "\0\1\0\1", 4);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n + 4, &q), 0);
    /* The root, and a label holding a dot or a NUL: nothing a resolver could be asked. */
    n = query(m, "", EVP_DNS_TYPE_A);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    n = query(m, "a_b.test", EVP_DNS_TYPE_A);
    m[13] = '.';
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
    m[13] = 0;
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 0);
}
END_TEST

/* A pointer back into the header (its last byte, 0: the root) ends the name, as Go's
 * parser reads it; a pointer back to the name itself repeats it until the hop bound. */
START_TEST(backward_pointers_are_bounded)
{
    uint8_t ok[] = {0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'w', 0xC0, 11, 0, 1, 0, 1};
    evp_dns_query q;
    ck_assert_int_eq(evp_dns_parse_ip_query(ok, sizeof ok, &q), 1);
    ck_assert_str_eq(q.name, "w");
    uint8_t self[] = {0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'w', 0xC0, 12, 0, 1, 0, 1};
    ck_assert_int_eq(evp_dns_parse_ip_query(self, sizeof self, &q), 0);
}
END_TEST

START_TEST(reply_carries_id_question_and_addresses)
{
    uint8_t m[300], r[EVP_DNS_MSG_MAX];
    evp_dns_query q;
    size_t n = query(m, "two.test", EVP_DNS_TYPE_A);
    ck_assert_int_eq(evp_dns_parse_ip_query(m, n, &q), 1);
    evp_addr ips[3] = {{.type = EVP_ADDR_IPV4, .len = 4, .bytes = {10, 0, 0, 1}},
                       {.type = EVP_ADDR_IPV6, .len = 16, .bytes = {0x20, 1}},
                       {.type = EVP_ADDR_IPV4, .len = 4, .bytes = {10, 0, 0, 2}}};
    size_t len = evp_dns_build_reply(&q, 0, ips, 3, r, sizeof r);
    ck_assert_uint_eq(len, n + 2 * 16);
    ck_assert_uint_eq(r[0] << 8 | r[1], 0xBEEF);
    ck_assert_uint_eq(r[2], 0x81);            /* QR, RD */
    ck_assert_uint_eq(r[3], 0x80);            /* RA, NOERROR */
    ck_assert_uint_eq(r[7], 2);               /* two A answers: the IPv6 address is skipped */
    ck_assert_mem_eq(r + 12, m + 12, n - 12); /* the question as asked */
    const uint8_t a1[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 10, 0, 0, 1};
    ck_assert_mem_eq(r + n, a1, sizeof a1); /* TTL 600, as V2Ray */
    ck_assert_uint_eq(r[n + 31], 2);
    /* NXDOMAIN: no answers, rcode 3; a buffer too small: 0. */
    len = evp_dns_build_reply(&q, EVP_DNS_RCODE_NXDOMAIN, NULL, 0, r, sizeof r);
    ck_assert_uint_eq(len, n);
    ck_assert_uint_eq(r[3], 0x83);
    ck_assert_uint_eq(r[7], 0);
    ck_assert_uint_eq(evp_dns_build_reply(&q, 0, ips, 3, r, n + 16), 0);
}
END_TEST

static void *out_new(const char *settings, char *err, size_t errlen)
{
    evp_instance_args a = {.size = sizeof a, .tag = "dns-out", .settings_json = settings};
    return evp_builtin_dns()->outbound->instance_new(test_host_get(), &a, err, errlen);
}

START_TEST(settings_as_v2ray_reads_them)
{
    char err[256] = "";
    const evp_outbound_ops *ops = evp_builtin_dns()->outbound;
    ck_assert_ptr_null(out_new("{\"address\": \"not an address\"}", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "settings.address"));
    ck_assert_ptr_null(out_new("{\"port\": 65536}", err, sizeof err));
    void *in = out_new("{\"network\": \"tcp\", \"address\": \"127.0.0.9\", \"port\": 5353}", err,
                       sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    evp_addr target = {.type = EVP_ADDR_IPV4, .len = 4, .port = 53, .bytes = {8, 8, 8, 8}};
    evp_addr dial;
    /* No answerer announced: a clear reason, no session. */
    evp_host_state_del(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY, strlen(EVP_DNS_OUT_STATE_KEY));
    ck_assert_ptr_null(ops->session_new(in, &target, EVP_NET_UDP, &dial, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "answerer is not running"));
    uint8_t v[2 + EVP_DNS_OUT_SECRET];
    memset(v, 0xA5, sizeof v);
    v[0] = 0x12;
    v[1] = 0x34;
    ck_assert_int_eq(evp_host_state_put(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY,
                                        strlen(EVP_DNS_OUT_STATE_KEY), v, sizeof v, 0, 0),
                     0);
    void *s = ops->session_new(in, &target, EVP_NET_UDP, &dial, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_uint_eq(dial.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(dial.port, 0x1234);
    ck_assert_uint_eq(dial.bytes[0], 127);
    /* The first encode: the header (secret, tcp as overridden, 127.0.0.9:5353), then the
     * records unchanged. */
    evp_buf out = {0}, back = {0};
    const uint8_t rec[] = {0, 3, 'a', 'b', 'c'};
    evp_io io = {.in = rec, .in_len = sizeof rec, .out = &out, .back = &back};
    ck_assert_int_eq(ops->encode(s, &io), EVP_OK);
    ck_assert_uint_eq(out.len, EVP_DNS_OUT_HEADER_FIXED + 4 + sizeof rec);
    ck_assert_uint_eq(out.data[0], 0xA5);
    const uint8_t h[] = {EVP_NET_TCP, EVP_ADDR_IPV4, 4, 0x14, 0xE9, 127, 0, 0, 9};
    ck_assert_mem_eq(out.data + EVP_DNS_OUT_SECRET, h, sizeof h);
    ck_assert_mem_eq(out.data + EVP_DNS_OUT_HEADER_FIXED + 4, rec, sizeof rec);
    /* decode passes whole messages only: a split one waits for its rest. */
    out.len = 0;
    const uint8_t down[] = {0, 2, 'o', 'k', 0, 5, 'x'};
    io = (evp_io){.in = down, .in_len = sizeof down, .out = &out, .back = &back};
    ck_assert_int_eq(ops->decode(s, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 4);
    ck_assert_uint_eq(out.len, 4);
    ops->session_free(s);
    ops->instance_free(in);
    /* A network V2Ray does not know ("sctp", read as unset) keeps the session's; a name
     * is sent as a name (the answerer resolves it). */
    in = out_new("{\"network\": \"sctp\", \"address\": \"dns.example\"}", err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    s = ops->session_new(in, &target, EVP_NET_UDP, &dial, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    out.len = 0;
    io = (evp_io){.out = &out, .back = &back};
    ck_assert_int_eq(ops->encode(s, &io), EVP_OK);
    const uint8_t named[] = {EVP_NET_UDP, EVP_ADDR_DOMAIN, 11, 0, 53, 'd', 'n', 's', '.', 'e'};
    ck_assert_mem_eq(out.data + EVP_DNS_OUT_SECRET, named, sizeof named);
    ck_assert_uint_eq(out.len, EVP_DNS_OUT_HEADER_FIXED + 11);
    ops->session_free(s);
    ops->instance_free(in);
    evp_host_state_del(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY, strlen(EVP_DNS_OUT_STATE_KEY));
    free(out.data);
    free(back.data);
}
END_TEST

/* ---- the answerer, on a loop of its own ---- */

static int connect_answerer(uint8_t *secret)
{
    uint8_t v[2 + EVP_DNS_OUT_SECRET];
    ck_assert_int_eq(evp_host_state_get(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY,
                                        strlen(EVP_DNS_OUT_STATE_KEY), v, sizeof v),
                     (long)sizeof v);
    memcpy(secret, v + 2, EVP_DNS_OUT_SECRET);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(v[0] << 8 | v[1]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Runs loop until fd has n bytes to read or closes (bounded by turns); bytes read. */
static ssize_t read_reply(struct ev_loop *loop, int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (int i = 0; i < 2000; i++) {
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n == 0)
            return (ssize_t)got;
        if (n > 0)
            got += (size_t)n;
        if (got >= 2 && got >= 2 + (size_t)(buf[0] << 8 | buf[1]))
            return (ssize_t)got;
        usleep(1000);
    }
    return (ssize_t)got;
}

START_TEST(answerer_answers_from_hosts_and_checks_its_secret)
{
    json_error_t jerr;
    json_t *hj =
        json_loads("{\"mapped.test\": \"10.9.8.7\", \"resp.test\": \"127.0.0.1\"}", 0, &jerr);
    evp_errlist errs = {0};
    evp_dns_hosts *h = NULL;
    ck_assert_int_eq(evp_dns_hosts_parse(hj, &h, &errs), 0);
    json_decref(hj);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evp_resolver *r = evp_resolver_new(loop);
    evp_limits l = evp_limits_default();
    json_t *closed = json_loads("[{\"address\": \"127.0.0.1\", \"port\": 9}]", 0, NULL);
    evp_dns_servers *servers = NULL; /* a closed port: nothing leaves the machine */
    ck_assert_int_eq(evp_dns_servers_parse(closed, &servers, &errs), 0);
    json_decref(closed);
    evp_resolver_configure(r, &l, servers, h);
    evp_dns_servers_unref(servers);
    evp_dns_hosts_unref(h);
    ck_assert_int_eq(evp_dns_answerer_start(loop, r), 0);

    uint8_t secret[EVP_DNS_OUT_SECRET], msg[600], rep[2048];
    int fd = connect_answerer(secret);
    size_t n = 0;
    memcpy(msg, secret, sizeof secret);
    n = sizeof secret;
    const uint8_t dest[] = {EVP_NET_UDP, EVP_ADDR_IPV4, 4, 0, 9, 127, 0, 0, 1};
    memcpy(msg + n, dest, sizeof dest);
    n += sizeof dest;
    size_t q = query(msg + n + 2, "mapped.test", EVP_DNS_TYPE_A);
    msg[n] = 0;
    msg[n + 1] = (uint8_t)q;
    n += 2 + q;
    ck_assert_int_eq(send(fd, msg, n, 0), (ssize_t)n);
    ssize_t got = read_reply(loop, fd, rep, sizeof rep);
    ck_assert_int_eq(got, 2 + q + 16);
    ck_assert_uint_eq(rep[2] << 8 | rep[3], 0xBEEF);
    const uint8_t ip[] = {10, 9, 8, 7};
    ck_assert_mem_eq(rep + got - 4, ip, 4);
    close(fd);

    /* A TXT query to a destination given by name (dns.hosts maps it to our UDP socket):
     * resolved, sent there as a datagram, and the reply comes back framed. */
    int up = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    ck_assert_int_eq(bind(up, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(getsockname(up, (struct sockaddr *)&sin, &sl), 0);
    fcntl(up, F_SETFL, O_NONBLOCK);
    fd = connect_answerer(secret);
    n = sizeof secret;
    const uint8_t named[] = {EVP_NET_UDP, EVP_ADDR_DOMAIN, 9};
    memcpy(msg + n, named, sizeof named);
    n += sizeof named;
    msg[n++] = (uint8_t)(ntohs(sin.sin_port) >> 8);
    msg[n++] = (uint8_t)ntohs(sin.sin_port);
    memcpy(msg + n, "resp.test", 9);
    n += 9;
    q = query(msg + n + 2, "txt.test", 16);
    msg[n] = 0;
    msg[n + 1] = (uint8_t)q;
    n += 2 + q;
    ck_assert_int_eq(send(fd, msg, n, 0), (ssize_t)n);
    ssize_t seen = -1;
    struct sockaddr_in from;
    for (int i = 0; i < 2000 && seen < 0; i++) {
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
        sl = sizeof from;
        seen = recvfrom(up, rep, sizeof rep, 0, (struct sockaddr *)&from, &sl);
        if (seen < 0)
            usleep(1000);
    }
    ck_assert_int_eq(seen, (ssize_t)q);
    ck_assert_mem_eq(rep, msg + n - q, q); /* the query unchanged */
    rep[2] |= 0x80;
    ck_assert_int_eq(sendto(up, rep, q, 0, (struct sockaddr *)&from, sl), (ssize_t)q);
    got = read_reply(loop, fd, rep, sizeof rep);
    ck_assert_int_eq(got, 2 + q);
    ck_assert_uint_eq(rep[4] & 0x80, 0x80); /* our "reply", relayed */
    close(fd);
    close(up);

    /* A wrong secret: the connection is closed unanswered. */
    fd = connect_answerer(secret);
    memcpy(msg, secret, sizeof secret);
    msg[0] ^= 1;
    ck_assert_int_eq(send(fd, msg, n, 0), (ssize_t)n);
    ck_assert_int_eq(read_reply(loop, fd, rep, sizeof rep), 0);
    close(fd);

    evp_dns_answerer_stop();
    long gone = evp_host_state_get(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY,
                                   strlen(EVP_DNS_OUT_STATE_KEY), rep, sizeof rep);
    ck_assert_int_eq(gone, -1);
    evp_resolver_free(r);
    ev_loop_destroy(loop);
    free(evp_errlist_take(&errs));
}
END_TEST

Suite *dns_out_suite(void)
{
    Suite *s = suite_create("dns_out");
    TCase *t = tcase_create("dns_out");
    tcase_add_test(t, parses_a_and_aaaa_questions);
    tcase_add_test(t, hostile_queries_are_not_ip_queries);
    tcase_add_test(t, backward_pointers_are_bounded);
    tcase_add_test(t, reply_carries_id_question_and_addresses);
    tcase_add_test(t, settings_as_v2ray_reads_them);
    tcase_add_test(t, answerer_answers_from_hosts_and_checks_its_secret);
    suite_add_tcase(s, t);
    return s;
}
