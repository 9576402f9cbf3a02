/* VMess sessions: the plugin's inbound and outbound driven against each other in memory
 * (no sockets) through the ABI descriptor, for every security in both header modes, plus
 * the ways a handshake must fail, detour SwitchAccount and user-table updates. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugin/vmess/inbound.h"
#include "../plugin/vmess/mem.h"
#include "../plugin/vmess/proto.h"
#include "../plugin/vmess/settings.h"
#include "evproxy/plugin.h"
#include "test_host.h"

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define UUID2 "b831381d-6324-4d53-ad4f-8cda48b30811"
#define UUID3 "0b1f2a3c-4d5e-4f60-8a7b-9c8d7e6f5a4b"
#define MIB (1024 * 1024)

static const evp_inbound_ops *in_ops(void)
{
    return evp_plugin_entry()->inbound;
}

static const evp_outbound_ops *out_ops(void)
{
    return evp_plugin_entry()->outbound;
}

static void *make_in(const char *tag, const char *json)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), tag, json, 0};
    void *inst = in_ops()->instance_new(test_host_get(), &a, err, sizeof(err));
    ck_assert_msg(inst != NULL, "inbound: %s", err);
    return inst;
}

static void *make_out(const char *json)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), "out", json, 0};
    void *inst = out_ops()->instance_new(test_host_get(), &a, err, sizeof(err));
    ck_assert_msg(inst != NULL, "outbound: %s", err);
    return inst;
}

/* Outbound settings for one server on port 10086 with one user. */
static void *make_out_user(const char *uuid, int alter_id, const char *security)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"vnext\":[{\"address\":\"127.0.0.1\",\"port\":10086,\"users\":"
             "[{\"id\":\"%s\",\"alterId\":%d,\"security\":\"%s\",\"level\":0}]}]}",
             uuid, alter_id, security);
    return make_out(json);
}

static void fill_random(uint8_t *p, size_t n)
{
    randombytes_buf(p, n);
}

static void buf_append(evp_buf *b, const uint8_t *p, size_t n)
{
    uint8_t *d = test_host_buf_reserve(b, n);
    ck_assert_ptr_nonnull(d);
    if (n)
        memcpy(d, p, n);
    b->len += n;
}

/* One connection: an outbound session (client) and an inbound session (server), joined by
 * two in-memory wires. Wire bytes are delivered in pieces of up to `step` bytes. */
typedef struct link {
    void *in_inst;
    void *out_inst;
    void *cli; /* outbound session */
    void *srv; /* inbound session */
    evp_addr dial;
    evp_buf c2s;       /* client -> server bytes not yet consumed by the server */
    evp_buf s2c;       /* server -> client bytes not yet consumed by the client */
    evp_buf at_target; /* what the server decoded */
    evp_buf at_client; /* what the client decoded */
    evp_buf back;      /* bytes the server wanted to send back while decoding (none) */
    size_t step;
    int target_seen;
    evp_addr target;
    uint8_t network;
    int srv_status; /* last decode status at the server */
    int cli_status;
    uint32_t drain;
    size_t to_server; /* bytes delivered to the server so far */
    int idle;         /* both sessions are told they are idle around every step */
    char reason[128];
} link;

/* The host's quiet-session call, on both ends (expanded ciphers dropped). */
static void link_idle(link *l)
{
    if (l->idle) {
        in_ops()->session_idle(l->srv);
        out_ops()->session_idle(l->cli);
    }
}

static void link_open(link *l, void *in_inst, void *out_inst, const evp_addr *target,
                      uint8_t network)
{
    memset(l, 0, sizeof(*l));
    l->in_inst = in_inst;
    l->out_inst = out_inst;
    l->step = 1 << 20;
    char err[128] = "";
    l->cli = out_ops()->session_new(out_inst, target, network, &l->dial, err, sizeof(err));
    ck_assert_msg(l->cli != NULL, "session_new: %s", err);
    l->srv = in_ops()->session_new(in_inst);
    ck_assert_ptr_nonnull(l->srv);
    /* The host calls decode once at accept with nothing. */
    evp_io io = {0};
    io.out = &l->at_target;
    io.back = &l->back;
    ck_assert_int_eq(in_ops()->decode(l->srv, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 0);
}

static void link_close(link *l)
{
    out_ops()->session_free(l->cli);
    in_ops()->session_free(l->srv);
    test_buf_free(&l->c2s);
    test_buf_free(&l->s2c);
    test_buf_free(&l->at_target);
    test_buf_free(&l->at_client);
    test_buf_free(&l->back);
}

/* Runs the server's decoder over what it has; eof: the client's side has closed. */
static int server_pump(link *l, int eof)
{
    for (;;) {
        evp_io io = {0};
        io.in = l->c2s.data;
        io.in_len = l->c2s.len;
        io.in_eof = eof;
        io.out = &l->at_target;
        io.back = &l->back;
        int rc = in_ops()->decode(l->srv, &io);
        ck_assert_uint_le(io.consumed, l->c2s.len);
        test_buf_consume(&l->c2s, io.consumed);
        l->srv_status = rc;
        if (rc == EVP_TARGET) {
            ck_assert(!l->target_seen);
            l->target_seen = 1;
            l->target = io.target;
            l->network = io.network;
            continue;
        }
        if (rc == EVP_ERR) {
            l->drain = io.drain;
            memcpy(l->reason, io.reason, sizeof(l->reason));
        }
        if (rc != EVP_OK || io.consumed == 0 || l->c2s.len == 0)
            return rc;
    }
}

static int client_pump(link *l, int eof)
{
    for (;;) {
        evp_io io = {0};
        io.in = l->s2c.data;
        io.in_len = l->s2c.len;
        io.in_eof = eof;
        io.out = &l->at_client;
        evp_buf back = {0};
        io.back = &back;
        int rc = out_ops()->decode(l->cli, &io);
        ck_assert_uint_eq(back.len, 0);
        test_buf_free(&back);
        ck_assert_uint_le(io.consumed, l->s2c.len);
        test_buf_consume(&l->s2c, io.consumed);
        l->cli_status = rc;
        if (rc == EVP_ERR)
            memcpy(l->reason, io.reason, sizeof(l->reason));
        if (rc != EVP_OK || io.consumed == 0 || l->s2c.len == 0)
            return rc;
    }
}

/* Moves wire bytes to a receiver in pieces of up to l->step, pumping after each. */
static int deliver(link *l, const evp_buf *wire, int to_server)
{
    int rc = EVP_OK;
    for (size_t off = 0; off < wire->len;) {
        size_t n = wire->len - off < l->step ? wire->len - off : l->step;
        buf_append(to_server ? &l->c2s : &l->s2c, wire->data + off, n);
        off += n;
        l->to_server += to_server ? n : 0;
        rc = to_server ? server_pump(l, 0) : client_pump(l, 0);
        link_idle(l);
        if (rc == EVP_ERR || rc == EVP_EOF)
            break;
    }
    return rc;
}

/* One side encodes data (eof: then its end marker) and the bytes go to the other side; after
 * its end marker the sender's host half-closes, so the receiver sees EOF too. */
static int side_send(link *l, int from_client, const uint8_t *data, size_t len, int eof)
{
    evp_buf wire = {0}, back = {0};
    evp_io io = {0};
    io.in = data;
    io.in_len = len;
    io.in_eof = eof;
    io.out = &wire;
    io.back = &back;
    link_idle(l);
    int enc = from_client ? out_ops()->encode(l->cli, &io) : in_ops()->encode(l->srv, &io);
    ck_assert_int_eq(enc, EVP_OK);
    ck_assert_uint_eq(io.consumed, len);
    int rc = deliver(l, &wire, from_client);
    if (eof && rc == EVP_OK)
        rc = from_client ? server_pump(l, 1) : client_pump(l, 1);
    test_buf_free(&wire);
    test_buf_free(&back);
    return rc;
}

/* The client encodes data; the bytes go to the server. */
static int client_send(link *l, const uint8_t *data, size_t len, int eof)
{
    return side_send(l, 1, data, len, eof);
}

/* The server encodes response data; the bytes go to the client. */
static int server_send(link *l, const uint8_t *data, size_t len, int eof)
{
    return side_send(l, 0, data, len, eof);
}

static evp_addr domain_target(const char *name, uint16_t port)
{
    evp_addr a;
    memset(&a, 0, sizeof(a));
    a.type = EVP_ADDR_DOMAIN;
    a.len = (uint8_t)strlen(name);
    memcpy(a.bytes, name, a.len);
    a.port = port;
    return a;
}

/* Does the handshake (header + a first piece of data) and checks the target. */
static void handshake(link *l, const evp_addr *target)
{
    uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
    int rc = client_send(l, hello, sizeof(hello), 0);
    ck_assert_msg(rc == EVP_OK, "server said %d: %s", rc, l->reason);
    ck_assert(l->target_seen);
    ck_assert_int_eq(l->network, EVP_NET_TCP);
    ck_assert_int_eq(l->target.type, target->type);
    ck_assert_uint_eq(l->target.port, target->port);
    ck_assert_uint_eq(l->target.len, target->len);
    ck_assert_mem_eq(l->target.bytes, target->bytes, target->len);
    ck_assert_uint_eq(l->at_target.len, 5);
    ck_assert_mem_eq(l->at_target.data, "hello", 5);
    test_buf_consume(&l->at_target, 5);
}

/* ---- round trips: every security x {AEAD, legacy} ------------------------------------- */

typedef struct combo {
    const char *security;
    int alter_id; /* 0: AEAD header; > 0: legacy header with an alternative id */
} combo;

static const combo combos[] = {
    {"aes-128-gcm", 0}, {"chacha20-poly1305", 0}, {"none", 0},
    {"zero", 0},        {"aes-128-cfb", 0},       {"auto", 0},
    {"aes-128-gcm", 4}, {"chacha20-poly1305", 4}, {"none", 4},
    {"zero", 4},        {"aes-128-cfb", 4},       {"auto", 4},
};

/* 1 MiB each way in uneven pieces, then the end marker each way. */
static void transfer(link *l, size_t step)
{
    size_t total = MIB;
    uint8_t *up = malloc(total), *down = malloc(total);
    ck_assert_ptr_nonnull(up);
    ck_assert_ptr_nonnull(down);
    fill_random(up, total);
    fill_random(down, total);
    l->step = step;
    size_t piece[4] = {1, 1000, 16384, 70001};
    size_t off = 0;
    for (int i = 0; off < total; i++) {
        size_t n = piece[i % 4];
        if (n > total - off)
            n = total - off;
        ck_assert_int_eq(client_send(l, up + off, n, 0), EVP_OK);
        ck_assert_int_eq(server_send(l, down + off, n, 0), EVP_OK);
        off += n;
    }
    ck_assert_int_eq(client_send(l, NULL, 0, 1), EVP_EOF);
    ck_assert_int_eq(server_send(l, NULL, 0, 1), EVP_EOF);
    ck_assert_uint_eq(l->at_target.len, total);
    ck_assert_uint_eq(l->at_client.len, total);
    ck_assert(memcmp(l->at_target.data, up, total) == 0);
    ck_assert(memcmp(l->at_client.data, down, total) == 0);
    free(up);
    free(down);
}

START_TEST(test_round_trip)
{
    const combo *c = &combos[_i];
    char json[512];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d,\"email\":\"a@b\"}]}",
             UUID1, c->alter_id);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, c->alter_id, c->security);
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(l.dial.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(l.dial.port, 10086);
    handshake(&l, &target);
    ck_assert_str_eq(in_ops()->session_user(l.srv), "a@b");
    /* Wire pieces of 7 bytes for a while would be slow over 2 MiB; the header path is
     * covered byte by byte in test_byte_at_a_time. */
    transfer(&l, 4093);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* As test_round_trip, with both sessions told they are idle before every send and after
 * every wire piece (mid-chunk too): what went idle resumes exactly where it was. */
START_TEST(test_round_trip_idle)
{
    const combo *c = &combos[_i];
    char json[512];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1,
             c->alter_id);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, c->alter_id, c->security);
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    l.idle = 1;
    handshake(&l, &target);
    transfer(&l, 1000);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* The client's header arrives one byte at a time, for both header modes. */
START_TEST(test_byte_at_a_time)
{
    int alter = _i ? 2 : 0;
    char json[256];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1, alter);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, alter, _i ? "aes-128-cfb" : "aes-128-gcm");
    evp_addr target = domain_target("a.example", 80);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    l.step = 1;
    handshake(&l, &target);
    uint8_t msg[3000];
    fill_random(msg, sizeof(msg));
    ck_assert_int_eq(server_send(&l, msg, sizeof(msg), 1), EVP_EOF);
    ck_assert_uint_eq(l.at_client.len, sizeof(msg));
    ck_assert_mem_eq(l.at_client.data, msg, sizeof(msg));
    ck_assert_ptr_null(in_ops()->session_user(l.srv)); /* no email configured */
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* V2RAY_VMESS_AEAD_DISABLED=true: a legacy header with the primary id (alterId 0). */
START_TEST(test_aead_disabled_env)
{
    setenv("V2RAY_VMESS_AEAD_DISABLED", "true", 1);
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    unsetenv("V2RAY_VMESS_AEAD_DISABLED");
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    /* Capture the first 16 wire bytes: they must be the legacy HMAC-MD5 auth of the
     * primary id at some t within now +- 30 (independent of the AEAD AuthID). */
    evp_buf wire = {0};
    evp_io io = {0};
    io.out = &wire;
    evp_buf back = {0};
    io.back = &back;
    int64_t now = test_host_unix_time();
    ck_assert_int_eq(out_ops()->encode(l.cli, &io), EVP_OK);
    ck_assert_uint_gt(wire.len, 16);
    uint8_t id[16];
    ck_assert_int_eq(vmess_uuid_parse(id, UUID1), 0);
    int found = 0;
    for (int64_t t = now - 31; t <= now + 31 && !found; t++) {
        uint8_t auth[16];
        vmess_legacy_auth(auth, id, t);
        found = memcmp(auth, wire.data, 16) == 0;
    }
    ck_assert_msg(found, "not a legacy auth of the primary id");
    ck_assert_int_eq(deliver(&l, &wire, 1), EVP_OK);
    ck_assert(l.target_seen);
    ck_assert_int_eq(server_send(&l, (const uint8_t *)"ok", 2, 1), EVP_EOF);
    ck_assert_mem_eq(l.at_client.data, "ok", 2);
    test_buf_free(&wire);
    test_buf_free(&back);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* Option bytes as 4.34's client sends them: open the AEAD header with the user's key. */
START_TEST(test_option_bytes)
{
    static const struct {
        const char *sec;
        uint8_t option, security;
    } want[] = {
        {"aes-128-gcm", 0x0d, 3}, {"chacha20-poly1305", 0x0d, 4}, {"none", 0x05, 5},
        {"zero", 0x00, 5},        {"aes-128-cfb", 0x01, 1},
    };
    void *out = make_out_user(UUID1, 0, want[_i].sec);
    evp_addr target = domain_target("example.com", 443);
    evp_addr dial;
    char err[64];
    void *cli = out_ops()->session_new(out, &target, EVP_NET_TCP, &dial, err, sizeof(err));
    ck_assert_ptr_nonnull(cli);
    evp_buf wire = {0}, back = {0};
    evp_io io = {0};
    io.out = &wire;
    io.back = &back;
    ck_assert_int_eq(out_ops()->encode(cli, &io), EVP_OK);
    uint8_t id[16], cmd_key[16], plain[VMESS_REQUEST_MAX + 16];
    uint16_t len;
    vmess_uuid_parse(id, UUID1);
    vmess_cmd_key(cmd_key, id);
    ck_assert_int_eq(
        vmess_aead_req_open_len(cmd_key, wire.data, wire.data + 34, wire.data + 16, &len), 0);
    ck_assert_uint_eq(wire.len, VMESS_AEAD_REQ_SIZE(len));
    ck_assert_int_eq(vmess_aead_req_open(cmd_key, wire.data, wire.data + 34, wire.data + 42,
                                         (size_t)len + 16, plain),
                     0);
    ck_assert_uint_eq(plain[0], 1);
    ck_assert_uint_eq(plain[34], want[_i].option);
    ck_assert_uint_eq(plain[35] & 0x0f, want[_i].security);
    ck_assert_uint_eq(plain[37], 1); /* TCP */
    out_ops()->session_free(cli);
    out_ops()->instance_free(out);
    test_buf_free(&wire);
    test_buf_free(&back);
}
END_TEST

/* UDP: each record is one datagram, both ways, for AEAD gcm and legacy cfb. */
START_TEST(test_udp)
{
    int alter = _i ? 3 : 0;
    char json[256];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1, alter);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, alter, _i ? "aes-128-cfb" : "aes-128-gcm");
    evp_addr target;
    memset(&target, 0, sizeof(target));
    target.type = EVP_ADDR_IPV4;
    target.len = 4;
    memcpy(target.bytes, "\x7f\x00\x00\x01", 4);
    target.port = 53;
    link l;
    link_open(&l, in, out, &target, EVP_NET_UDP);
    /* Records: BE16 length then the datagram. */
    uint8_t rec[2 + 3 + 2 + 1000 + 2 + 1];
    size_t n = 0;
    size_t sizes[3] = {3, 1000, 1};
    uint8_t payload[1000];
    fill_random(payload, sizeof(payload));
    for (int i = 0; i < 3; i++) {
        rec[n++] = (uint8_t)(sizes[i] >> 8);
        rec[n++] = (uint8_t)sizes[i];
        memcpy(rec + n, payload, sizes[i]);
        n += sizes[i];
    }
    ck_assert_int_eq(client_send(&l, rec, n, 0), EVP_OK);
    ck_assert(l.target_seen);
    ck_assert_int_eq(l.network, EVP_NET_UDP);
    ck_assert_int_eq(l.target.type, EVP_ADDR_IPV4);
    ck_assert_uint_eq(l.target.port, 53);
    ck_assert_uint_eq(l.at_target.len, n);
    ck_assert_mem_eq(l.at_target.data, rec, n);
    ck_assert_int_eq(server_send(&l, rec, n, 0), EVP_OK);
    ck_assert_uint_eq(l.at_client.len, n);
    ck_assert_mem_eq(l.at_client.data, rec, n);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* A response that stops after whole chunks with a bare close is a clean end (§8.6); one
 * that stops inside a chunk is an error. */
START_TEST(test_bare_close)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    handshake(&l, &target);
    ck_assert_int_eq(server_send(&l, (const uint8_t *)"abc", 3, 0), EVP_OK);
    ck_assert_int_eq(client_pump(&l, 1), EVP_EOF);
    ck_assert_uint_eq(l.at_client.len, 3);
    link_close(&l);

    link_open(&l, in, out, &target, EVP_NET_TCP);
    handshake(&l, &target);
    /* Keep the last byte of the chunk back, then close. */
    evp_buf wire = {0}, back = {0};
    evp_io io = {0};
    io.in = (const uint8_t *)"abc";
    io.in_len = 3;
    io.out = &wire;
    io.back = &back;
    ck_assert_int_eq(in_ops()->encode(l.srv, &io), EVP_OK);
    wire.len--;
    ck_assert_int_eq(deliver(&l, &wire, 0), EVP_OK);
    ck_assert_int_eq(client_pump(&l, 1), EVP_ERR);
    test_buf_free(&wire);
    test_buf_free(&back);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* A header accepted by one instance is a replay for the instance a reload builds to replace
 * it (and for any other inbound): the AuthID filter is shared by the module. */
/* Sends a first request ("hi") from l's client, checks the server accepts it, and leaves its
 * wire bytes in *wire (caller frees) for replaying. */
static void accepted_request(link *l, evp_buf *wire)
{
    evp_buf back = {0};
    evp_io io = {0};
    io.in = (const uint8_t *)"hi";
    io.in_len = 2;
    io.out = wire;
    io.back = &back;
    ck_assert_int_eq(out_ops()->encode(l->cli, &io), EVP_OK);
    ck_assert_int_eq(deliver(l, wire, 1), EVP_OK);
    ck_assert(l->target_seen);
    test_buf_free(&back);
}

START_TEST(test_replay_across_instances)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    evp_buf wire = {0};
    accepted_request(&l, &wire);
    link_close(&l);
    void *reloaded = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    in_ops()->instance_free(in); /* the old instance goes, as after a reload */
    link_open(&l, reloaded, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(deliver(&l, &wire, 1), EVP_ERR);
    ck_assert(!l.target_seen);
    ck_assert_ptr_nonnull(strstr(l.reason, "replay"));
    link_close(&l);
    test_buf_free(&wire);
    in_ops()->instance_free(reloaded);
    out_ops()->instance_free(out);
}
END_TEST

/* ---- handshakes that must fail -------------------------------------------------------- */

/* The host closes once the connection brought l->drain more bytes: the drain counts from
 * the first byte, so that close point is in the instance's range (or, past it, now). */
static void assert_drain(link *l)
{
    uint32_t lo, hi;
    vmess_inbound_drain_range(l->in_inst, &lo, &hi);
    ck_assert_uint_ge(lo, 54);
    ck_assert_uint_le(hi, 3400);
    size_t close_at = l->to_server + l->drain;
    ck_assert_uint_ge(close_at, lo);
    if (l->drain > 0) /* 0: past the drain already, closed at once */
        ck_assert_uint_le(close_at, hi);
}

/* An unknown UUID: rejected with a drain, in both header modes. */
START_TEST(test_wrong_uuid)
{
    int alter = _i ? 4 : 0;
    char json[256];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1, alter);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID2, alter, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(client_send(&l, (const uint8_t *)"x", 1, 0), EVP_ERR);
    ck_assert(!l.target_seen);
    ck_assert_uint_eq(l.at_target.len, 0);
    ck_assert_ptr_nonnull(strstr(l.reason, "invalid user"));
    assert_drain(&l);
    size_t first = l.to_server + l.drain;
    link_close(&l);
    /* The drain is stable per instance: a second failure lands in the same range. */
    link_open(&l, in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(client_send(&l, (const uint8_t *)"x", 1, 0), EVP_ERR);
    assert_drain(&l);
    size_t second = l.to_server + l.drain;
    ck_assert_uint_lt(second > first ? second - first : first - second, 64);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* The same AEAD header presented twice: the second is a replay. */
START_TEST(test_replay)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    evp_buf wire = {0};
    accepted_request(&l, &wire);
    link_close(&l);
    link_open(&l, in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(deliver(&l, &wire, 1), EVP_ERR);
    ck_assert(!l.target_seen);
    ck_assert_ptr_nonnull(strstr(l.reason, "replay"));
    assert_drain(&l);
    link_close(&l);
    test_buf_free(&wire);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* The client's clock is off by `skew` seconds from the server's. */
static int skewed_handshake(int alter, int64_t skew)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1, alter);
    int64_t now = 1700000000;
    *test_host_clock() = now;
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, alter, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    evp_buf wire = {0}, back = {0};
    evp_io io = {0};
    io.out = &wire;
    io.back = &back;
    *test_host_clock() = now + skew;
    ck_assert_int_eq(out_ops()->encode(l.cli, &io), EVP_OK);
    *test_host_clock() = now;
    int rc = deliver(&l, &wire, 1);
    test_buf_free(&wire);
    test_buf_free(&back);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
    *test_host_clock() = 0;
    return rc;
}

START_TEST(test_time_skew)
{
    /* AEAD: a strict +-120 s window. */
    ck_assert_int_eq(skewed_handshake(0, 121), EVP_ERR);
    ck_assert_int_eq(skewed_handshake(0, -121), EVP_ERR);
    ck_assert_int_eq(skewed_handshake(0, 119), EVP_OK);
    ck_assert_int_eq(skewed_handshake(0, -119), EVP_OK);
    /* Legacy: the client jitters by [-30, +29] s, so test well outside and inside. */
    ck_assert_int_eq(skewed_handshake(4, 200), EVP_ERR);
    ck_assert_int_eq(skewed_handshake(4, -200), EVP_ERR);
    ck_assert_int_eq(skewed_handshake(4, 60), EVP_OK);
}
END_TEST

/* disableInsecureEncryption rejects none, zero and cfb, and accepts gcm and chacha. */
START_TEST(test_disable_insecure)
{
    static const struct {
        const char *sec;
        int ok;
    } cases[] = {
        {"none", 0}, {"zero", 0}, {"aes-128-cfb", 0}, {"aes-128-gcm", 1}, {"chacha20-poly1305", 1},
    };
    int alter = _i ? 2 : 0;
    char json[256];
    snprintf(json, sizeof(json),
             "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}],\"disableInsecureEncryption\":true}",
             UUID1, alter);
    void *in = make_in("in", json);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        void *out = make_out_user(UUID1, alter, cases[k].sec);
        evp_addr target = domain_target("example.com", 443);
        link l;
        link_open(&l, in, out, &target, EVP_NET_TCP);
        int rc = client_send(&l, (const uint8_t *)"x", 1, 0);
        if (cases[k].ok) {
            ck_assert_msg(rc == EVP_OK, "%s rejected: %s", cases[k].sec, l.reason);
        } else {
            ck_assert_msg(rc == EVP_ERR, "%s accepted", cases[k].sec);
            ck_assert_ptr_nonnull(strstr(l.reason, "insecure"));
            assert_drain(&l);
        }
        link_close(&l);
        out_ops()->instance_free(out);
    }
    in_ops()->instance_free(in);
}
END_TEST

/* A Mux request (command 3), built with the header primitives, names V2Ray's Mux.Cool
 * target (v1.mux.cool, port 0), which the host hands to its multiplexer. */
START_TEST(test_mux_names_mux_cool)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    vmess_request r;
    memset(&r, 0, sizeof(r));
    r.version = 1;
    fill_random(r.iv, 16);
    fill_random(r.key, 16);
    r.option = VMESS_OPT_CHUNK_STREAM;
    r.security = 3;
    r.command = VMESS_CMD_MUX;
    uint8_t plain[VMESS_REQUEST_MAX], pad[16] = {0};
    int n = vmess_request_encode(&r, pad, plain, sizeof(plain));
    ck_assert_int_gt(n, 0);
    uint8_t id[16], cmd_key[16], authid[16], rnd[4] = {1, 2, 3, 4}, nonce[8] = {0};
    vmess_uuid_parse(id, UUID1);
    vmess_cmd_key(cmd_key, id);
    vmess_authid_make(authid, cmd_key, test_host_unix_time(), rnd);
    evp_buf wire = {0};
    uint8_t *dst = test_host_buf_reserve(&wire, VMESS_AEAD_REQ_SIZE((size_t)n));
    wire.len = vmess_aead_req_seal(dst, cmd_key, authid, nonce, plain, (size_t)n);
    link l;
    memset(&l, 0, sizeof(l));
    l.in_inst = in;
    l.step = 1 << 20;
    l.srv = in_ops()->session_new(in);
    ck_assert_int_eq(deliver(&l, &wire, 1), EVP_OK);
    ck_assert(l.target_seen);
    ck_assert_int_eq(l.target.type, EVP_ADDR_DOMAIN);
    ck_assert_uint_eq(l.target.len, 11);
    ck_assert_mem_eq(l.target.bytes, "v1.mux.cool", 11);
    ck_assert_uint_eq(l.target.port, 0);
    in_ops()->session_free(l.srv);
    test_buf_free(&l.c2s);
    test_buf_free(&wire);
    in_ops()->instance_free(in);
}
END_TEST

/* The outbound asked for V2Ray's Mux.Cool target (any port, as a Mux client asks for
 * v1.mux.cool:9527) sends command 3 with no address: the server reads v1.mux.cool:0. */
START_TEST(test_outbound_mux_target_sends_command_3)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}");
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    evp_addr target = domain_target("v1.mux.cool", 9527);
    link l;
    link_open(&l, in, out, &target, EVP_NET_TCP);
    uint8_t frame[] = {0, 4, 0, 0, 4, 0}; /* a KeepAlive frame, as payload */
    ck_assert_int_eq(client_send(&l, frame, sizeof frame, 0), EVP_OK);
    ck_assert(l.target_seen);
    ck_assert_int_eq(l.target.type, EVP_ADDR_DOMAIN);
    ck_assert_uint_eq(l.target.len, 11);
    ck_assert_mem_eq(l.target.bytes, "v1.mux.cool", 11);
    ck_assert_uint_eq(l.target.port, 0); /* no address went: command 3 */
    ck_assert_uint_eq(l.at_target.len, sizeof frame);
    link_close(&l);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* A response meant for another session fails the client's header check. */
START_TEST(test_foreign_response)
{
    int alter = _i ? 2 : 0;
    char json[256];
    snprintf(json, sizeof(json), "{\"clients\":[{\"id\":\"%s\",\"alterId\":%d}]}", UUID1, alter);
    void *in = make_in("in", json);
    void *out = make_out_user(UUID1, alter, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link a, b;
    link_open(&a, in, out, &target, EVP_NET_TCP);
    link_open(&b, in, out, &target, EVP_NET_TCP);
    handshake(&a, &target);
    handshake(&b, &target);
    /* Swap: the client of b reads a's response. */
    void *tmp = a.cli;
    a.cli = b.cli;
    b.cli = tmp;
    /* Legacy response headers are not authenticated: the client may wait for a CmdLen
     * that garbage announced, so end the stream to force a verdict. */
    ck_assert_int_eq(server_send(&a, (const uint8_t *)"data", 4, 1), EVP_ERR);
    ck_assert_uint_eq(a.at_client.len, 0);
    link_close(&a);
    link_close(&b);
    in_ops()->instance_free(in);
    out_ops()->instance_free(out);
}
END_TEST

/* ---- detour and reload ---------------------------------------------------------------- */

/* Inbound "main" detours to "dyn" (port 20000); the client gets SwitchAccount and its next
 * session uses the detour account (legacy body, dyn's default alterId) on dyn's port. */
START_TEST(test_detour)
{
    void *main_in = make_in("main", "{\"clients\":[{\"id\":\"" UUID1 "\",\"email\":\"u@x\"}],"
                                    "\"detour\":{\"to\":\"dyn\"}}");
    void *dyn_in = make_in("dyn", "{\"default\":{\"alterId\":2,\"level\":1},\"port\":20000}");
    void *out = make_out_user(UUID1, 0, "aes-128-gcm");
    evp_addr target = domain_target("example.com", 443);
    link l;
    link_open(&l, main_in, out, &target, EVP_NET_TCP);
    ck_assert_uint_eq(l.dial.port, 10086);
    handshake(&l, &target);
    ck_assert_int_eq(server_send(&l, (const uint8_t *)"first", 5, 1), EVP_EOF);
    ck_assert_mem_eq(l.at_client.data, "first", 5);
    link_close(&l);

    /* Next session: to dyn's port, authenticated by dyn's auto-created user "u@x". */
    link_open(&l, dyn_in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(l.dial.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(l.dial.bytes, "\x7f\x00\x00\x01", 4);
    ck_assert_uint_eq(l.dial.port, 20000);
    handshake(&l, &target);
    ck_assert_str_eq(in_ops()->session_user(l.srv), "u@x");
    ck_assert_int_eq(server_send(&l, (const uint8_t *)"second", 6, 1), EVP_EOF);
    ck_assert_mem_eq(l.at_client.data, "second", 6);
    link_close(&l);

    /* The main inbound no longer knows the session's account: the switch really happened. */
    link_open(&l, main_in, out, &target, EVP_NET_TCP);
    ck_assert_int_eq(client_send(&l, (const uint8_t *)"x", 1, 0), EVP_ERR);
    link_close(&l);

    /* After ValidMin (255 minutes) the client goes back to its configured server. */
    *test_host_mono_skew() = 256 * 60;
    link_open(&l, main_in, out, &target, EVP_NET_TCP);
    *test_host_mono_skew() = 0;
    ck_assert_uint_eq(l.dial.port, 10086);
    handshake(&l, &target);
    link_close(&l);

    in_ops()->instance_free(main_in);
    in_ops()->instance_free(dyn_in);
    out_ops()->instance_free(out);
}
END_TEST

/* instance_update swaps users: a running session continues, a removed user is refused, an
 * added one is accepted. */
START_TEST(test_update_users)
{
    void *in = make_in("in", "{\"clients\":[{\"id\":\"" UUID1 "\",\"email\":\"one\"}]}");
    void *out1 = make_out_user(UUID1, 0, "chacha20-poly1305");
    void *out3 = make_out_user(UUID3, 0, "chacha20-poly1305");
    evp_addr target = domain_target("example.com", 443);
    link running;
    link_open(&running, in, out1, &target, EVP_NET_TCP);
    handshake(&running, &target);

    char err[128] = "";
    evp_instance_args bad = {sizeof(bad), "in", "{\"clients\":[{\"id\":\"nope\"}]}", 0};
    ck_assert_int_eq(in_ops()->instance_update(in, &bad, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "clients[0].id"));
    evp_instance_args a = {sizeof(a), "in",
                           "{\"clients\":[{\"id\":\"" UUID3 "\",\"email\":\"three\"}]}", 0};
    ck_assert_int_eq(in_ops()->instance_update(in, &a, err, sizeof(err)), 0);

    ck_assert_int_eq(client_send(&running, (const uint8_t *)"more", 4, 1), EVP_EOF);
    ck_assert_mem_eq(running.at_target.data, "more", 4);
    ck_assert_int_eq(server_send(&running, (const uint8_t *)"reply", 5, 0), EVP_OK);
    ck_assert_str_eq(in_ops()->session_user(running.srv), "one");

    link l;
    link_open(&l, in, out1, &target, EVP_NET_TCP);
    ck_assert_int_eq(client_send(&l, (const uint8_t *)"x", 1, 0), EVP_ERR);
    link_close(&l);
    link_open(&l, in, out3, &target, EVP_NET_TCP);
    handshake(&l, &target);
    ck_assert_str_eq(in_ops()->session_user(l.srv), "three");
    link_close(&l);

    /* The host may free the instance before its last session ends. */
    in_ops()->instance_free(in);
    ck_assert_int_eq(server_send(&running, NULL, 0, 1), EVP_EOF);
    ck_assert_uint_eq(running.at_client.len, 5);
    ck_assert_mem_eq(running.at_client.data, "reply", 5);
    link_close(&running);
    out_ops()->instance_free(out1);
    out_ops()->instance_free(out3);
}
END_TEST

/* ---- settings ------------------------------------------------------------------------- */

START_TEST(test_settings)
{
    vmess_outbound_cfg o;
    char err[160];
    ck_assert_int_eq(vmess_outbound_cfg_parse(
                         "{\"vnext\":[{\"address\":\"example.org\",\"port\":443,\"users\":["
                         "{\"id\":\"" UUID1 "\",\"security\":\"ZERO\"},"
                         "{\"id\":\"" UUID2 "\",\"alterId\":7,\"level\":3,\"security\":\"x\"}]},"
                         "{\"address\":\"::1\",\"port\":1,\"users\":[{\"id\":\"" UUID3 "\","
                         "\"security\":\"aes-128-cfb\"}]}]}",
                         &o, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(o.n_servers, 2);
    ck_assert_int_eq(o.servers[0].addr.type, EVP_ADDR_DOMAIN);
    ck_assert_str_eq((const char *)o.servers[0].addr.bytes, "example.org");
    ck_assert_uint_eq(o.servers[0].addr.port, 443);
    ck_assert_uint_eq(o.servers[0].n_users, 2);
    ck_assert_uint_eq(o.servers[0].users[0].alter_id, 0); /* missing alterId = 0 */
    ck_assert_uint_eq(o.servers[0].users[0].security, VMESS_CFG_ZERO);
    ck_assert_uint_eq(o.servers[0].users[1].alter_id, 7);
    ck_assert_uint_eq(o.servers[0].users[1].level, 3);
    ck_assert_uint_eq(o.servers[0].users[1].security, vmess_security_auto());
    ck_assert_uint_eq(o.servers[0].users[0].id[0], 0x27);
    ck_assert_uint_eq(o.servers[0].users[0].id[15], 0x6b);
    ck_assert_int_eq(o.servers[1].addr.type, EVP_ADDR_IPV6);
    ck_assert_uint_eq(o.servers[1].addr.bytes[15], 1);
    ck_assert_uint_eq(o.servers[1].users[0].security, VMESS_SEC_LEGACY);
    vmess_outbound_cfg_free(&o);
#if defined(__x86_64__)
    ck_assert_uint_eq(vmess_security_parse("auto"), VMESS_SEC_GCM);
#endif
    ck_assert_uint_eq(vmess_security_parse("Chacha20-Poly1305"), VMESS_SEC_CHACHA);
    ck_assert_uint_eq(vmess_security_parse("none"), VMESS_SEC_NONE);
    ck_assert_uint_eq(vmess_security_parse(NULL), vmess_security_auto());

    ck_assert_int_eq(vmess_outbound_cfg_parse("{\"vnext\":[]}", &o, err, sizeof(err)), -1);
    ck_assert_int_eq(vmess_outbound_cfg_parse("{\"vnext\":[{\"address\":\"a\",\"port\":70000,"
                                              "\"users\":[{\"id\":\"" UUID1 "\"}]}]}",
                                              &o, err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "port"));

    vmess_inbound_cfg in;
    ck_assert_int_eq(
        vmess_inbound_cfg_parse("{\"clients\":[{\"id\":\"" UUID1 "\",\"level\":2,\"alterId\":9,"
                                "\"email\":\"E@x\"}],\"default\":{\"level\":1,\"alterId\":5},"
                                "\"detour\":{\"to\":\"t\"},\"disableInsecureEncryption\":true}",
                                &in, err, sizeof(err)),
        0);
    ck_assert_uint_eq(in.n_clients, 1);
    ck_assert_uint_eq(in.clients[0].level, 2);
    ck_assert_uint_eq(in.clients[0].alter_id, 9);
    ck_assert_str_eq(in.clients[0].email, "E@x");
    ck_assert_uint_eq(in.default_level, 1);
    ck_assert_uint_eq(in.default_alter_id, 5);
    ck_assert_str_eq(in.detour_to, "t");
    ck_assert_uint_eq(in.disable_insecure, 1);
    vmess_inbound_cfg_free(&in);

    ck_assert_int_eq(vmess_inbound_cfg_parse("{}", &in, err, sizeof(err)), 0);
    ck_assert_uint_eq(in.n_clients, 0);
    ck_assert_uint_eq(in.default_alter_id, 0);
    ck_assert_ptr_null(in.detour_to);
    ck_assert_uint_eq(in.disable_insecure, 0);
    vmess_inbound_cfg_free(&in);
    /* Emails are unique, case-insensitively, as V2Ray's AddUser requires. */
    ck_assert_int_eq(vmess_inbound_cfg_parse("{\"clients\":[{\"id\":\"" UUID1 "\",\"email\":"
                                             "\"a@b\"},{\"id\":\"" UUID2 "\",\"email\":\"A@B\"}]}",
                                             &in, err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "already exists"));
}
END_TEST

START_TEST(test_descriptor)
{
    const evp_plugin *p = evp_plugin_entry();
    ck_assert_uint_eq(p->abi_major, EVP_ABI_MAJOR);
    ck_assert_uint_eq(p->size, sizeof(evp_plugin));
    ck_assert_str_eq(p->name, "vmess");
    ck_assert_str_eq(p->version, "0.1.0");
    ck_assert_str_eq(p->inbound_schema, "vmess-inbound");
    ck_assert_str_eq(p->outbound_schema, "vmess-outbound");
    ck_assert_ptr_nonnull(p->inbound->session_user);
    ck_assert_ptr_nonnull(p->inbound->instance_update);
    ck_assert_int_eq(p->init(test_host_get()), 0);
    char err[128] = "";
    evp_instance_args a = {sizeof(a), "x", "{\"vnext\":[]}", 0};
    ck_assert_ptr_null(p->outbound->instance_new(test_host_get(), &a, err, sizeof(err)));
    ck_assert_str_ne(err, "");
}
END_TEST

Suite *vmess_session_suite(void)
{
    Suite *s = suite_create("vmess_session");
    vmess_mem_adopt(test_host_get()); /* these tests call the plugin's internals directly */
    TCase *tc = tcase_create("session");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_descriptor);
    tcase_add_test(tc, test_settings);
    tcase_add_loop_test(tc, test_round_trip, 0, (int)(sizeof(combos) / sizeof(combos[0])));
    tcase_add_loop_test(tc, test_round_trip_idle, 0, (int)(sizeof(combos) / sizeof(combos[0])));
    tcase_add_loop_test(tc, test_byte_at_a_time, 0, 2);
    tcase_add_test(tc, test_aead_disabled_env);
    tcase_add_loop_test(tc, test_option_bytes, 0, 5);
    tcase_add_loop_test(tc, test_udp, 0, 2);
    tcase_add_test(tc, test_bare_close);
    tcase_add_loop_test(tc, test_wrong_uuid, 0, 2);
    tcase_add_test(tc, test_replay);
    tcase_add_test(tc, test_replay_across_instances);
    tcase_add_test(tc, test_time_skew);
    tcase_add_loop_test(tc, test_disable_insecure, 0, 2);
    tcase_add_test(tc, test_mux_names_mux_cool);
    tcase_add_test(tc, test_outbound_mux_target_sends_command_3);
    tcase_add_loop_test(tc, test_foreign_response, 0, 2);
    tcase_add_test(tc, test_detour);
    tcase_add_test(tc, test_update_users);
    suite_add_tcase(s, tc);
    return s;
}
