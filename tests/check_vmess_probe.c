/* Probe resistance of the VMess inbound, driven through the ABI like the host does: every
 * failed handshake must end at the same byte count, counted from the connection's first
 * byte, whatever failed and however the bytes arrived (vmess-protocol.md §10). */
#include <check.h>
#include <string.h>

#include "../plugin/vmess/inbound.h"
#include "../plugin/vmess/proto.h"
#include "evproxy/plugin.h"
#include "test_host.h"

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"
#define ROUNDS 64 /* sessions per case: each draws its own drain */

static const evp_inbound_ops *ops(void)
{
    return evp_plugin_entry()->inbound;
}

static void *server(void)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), "in", "{\"clients\":[{\"id\":\"" UUID1 "\"}]}", 0};
    void *inst = ops()->instance_new(test_host_get(), &a, err, sizeof(err));
    ck_assert_msg(inst != NULL, "inbound: %s", err);
    return inst;
}

/* What the host sees of one connection fed in pieces. */
typedef struct conn {
    void *sess;
    evp_buf pending; /* read, not consumed by the inbound */
    evp_buf out, back;
    size_t seen;    /* bytes read from the client so far */
    int rc;         /* the last decode result */
    uint32_t drain; /* EVP_ERR: how many more bytes the host reads before closing */
} conn;

/* Reads n more client bytes and runs the decoder, as core/session/session.c does. */
static int conn_feed(conn *c, const uint8_t *p, size_t n)
{
    uint8_t *d = test_host_buf_reserve(&c->pending, n);
    ck_assert_ptr_nonnull(d);
    memcpy(d, p, n);
    c->pending.len += n;
    c->seen += n;
    evp_io io = {0};
    io.in = c->pending.data;
    io.in_len = c->pending.len;
    io.out = &c->out;
    io.back = &c->back;
    c->rc = ops()->decode(c->sess, &io);
    ck_assert_uint_le(io.consumed, c->pending.len);
    test_buf_consume(&c->pending, io.consumed);
    c->drain = c->rc == EVP_ERR ? io.drain : 0;
    return c->rc;
}

static void conn_free(conn *c)
{
    ops()->session_free(c->sess);
    test_buf_free(&c->pending);
    test_buf_free(&c->out);
    test_buf_free(&c->back);
}

/* The handshake failed and the host closes where the instance's drain range says: at the
 * drained byte count, or at once when the client has already sent more. Never answered. */
static void assert_closes_in_range(void *inst, const conn *c, const char *what)
{
    uint32_t lo, hi;
    vmess_inbound_drain_range(inst, &lo, &hi);
    ck_assert_msg(c->rc == EVP_ERR, "%s: not rejected (%d)", what, c->rc);
    ck_assert_uint_eq(c->back.len, 0);
    size_t close_at = c->seen + c->drain;
    ck_assert_msg(close_at >= lo, "%s: closes after %zu bytes, drain range %u..%u", what,
                  close_at, lo, hi);
    ck_assert_msg(c->drain == 0 || close_at <= hi, "%s: closes after %zu bytes, drain range "
                  "%u..%u", what, close_at, lo, hi);
}

static void keys(uint8_t uuid[16], uint8_t cmd_key[16])
{
    vmess_uuid_parse(uuid, UUID1);
    vmess_cmd_key(cmd_key, uuid);
}

/* 16 bytes that pass authentication: a fresh AuthID, or a legacy auth for time t. */
static void valid_auth(uint8_t out[16], int legacy, int64_t t)
{
    uint8_t uuid[16], ck[16], rnd[4];
    keys(uuid, ck);
    randombytes_buf(rnd, sizeof(rnd));
    if (legacy)
        vmess_legacy_auth(out, uuid, t);
    else
        vmess_authid_make(out, ck, t, rnd);
}

/* A legacy request for time t whose header plaintext is h[0..len): auth ‖ CFB(h). */
static size_t legacy_request(uint8_t *out, int64_t t, const uint8_t *h, size_t len)
{
    uint8_t uuid[16], ck[16];
    keys(uuid, ck);
    return vmess_legacy_req_seal(out, uuid, ck, t, h, len);
}

/* A valid AuthID or legacy auth (or random bytes) first, then junk a moment later: the
 * close point must not move by the 16 bytes the inbound took before the junk came. */
START_TEST(test_drain_counts_from_first_byte)
{
    static const char *const kinds[] = {"random bytes", "valid AuthID + junk",
                                        "legacy auth + junk header"};
    void *inst = server();
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t wire[16 + 100];
        randombytes_buf(wire, sizeof(wire));
        if (_i == 1)
            valid_auth(wire, 0, test_host_unix_time());
        if (_i == 2) {
            uint8_t h[100];
            randombytes_buf(h, sizeof(h));
            h[37] = VMESS_CMD_TCP;
            h[40] = 9; /* no such address type: the header fails once 41 bytes are in */
            legacy_request(wire, test_host_unix_time(), h, sizeof(h));
        }
        conn c = {.sess = ops()->session_new(inst)};
        ck_assert_ptr_nonnull(c.sess);
        int rc = conn_feed(&c, wire, 16);
        ck_assert_int_eq(rc, _i == 0 ? EVP_ERR : EVP_OK);
        if (rc == EVP_OK)
            conn_feed(&c, wire + 16, sizeof(wire) - 16);
        assert_closes_in_range(inst, &c, kinds[_i]);
        conn_free(&c);
    }
    ops()->instance_free(inst);
}
END_TEST

/* A probe longer than the drain is closed as soon as it is read, whatever it holds. */
START_TEST(test_long_probe_closes_at_once)
{
    static const char *const kinds[] = {"random bytes", "valid AuthID + junk",
                                        "legacy auth + junk"};
    void *inst = server();
    uint32_t lo, hi;
    vmess_inbound_drain_range(inst, &lo, &hi);
    uint8_t wire[4096];
    ck_assert_uint_lt(hi, sizeof(wire));
    randombytes_buf(wire, sizeof(wire));
    if (_i > 0)
        valid_auth(wire, _i == 2, test_host_unix_time());
    conn c = {.sess = ops()->session_new(inst)};
    conn_feed(&c, wire, hi + 1);
    assert_closes_in_range(inst, &c, kinds[_i]);
    ck_assert_uint_eq(c.drain, 0);
    conn_free(&c);
    ops()->instance_free(inst);
}
END_TEST

/* A replayed legacy auth with a junk header that claims the longest address and padding
 * (332 bytes in all), a byte at a time: it must be complete, and rejected, before any
 * drain of the instance ends; were it held for more bytes after random bytes are
 * dropped, a prober could tell a legacy auth from random bytes. */
START_TEST(test_drain_covers_longest_legacy_header)
{
    enum { WIRE = 16 + VMESS_REQUEST_MAX };
    for (int round = 0; round < 100; round++) {
        void *inst = server();
        uint32_t lo, hi;
        vmess_inbound_drain_range(inst, &lo, &hi);
        uint8_t h[VMESS_REQUEST_MAX], wire[WIRE];
        randombytes_buf(h, sizeof(h));
        h[35] = 0xf0 | 3; /* 15 bytes of padding, aes-128-gcm */
        h[37] = VMESS_CMD_TCP;
        h[40] = EVP_ADDR_DOMAIN;
        h[41] = 255;
        ck_assert_uint_eq(legacy_request(wire, test_host_unix_time(), h, sizeof(h)), WIRE);
        conn c = {.sess = ops()->session_new(inst)};
        for (size_t i = 0; i < WIRE && conn_feed(&c, wire + i, 1) == EVP_OK; i++)
            ;
        assert_closes_in_range(inst, &c, "legacy auth + longest junk header");
        ck_assert_msg(c.seen <= lo, "the junk header was still read at %zu bytes, the drain "
                      "can end at %u", c.seen, lo);
        conn_free(&c);
        ops()->instance_free(inst);
    }
}
END_TEST

Suite *vmess_probe_suite(void)
{
    Suite *s = suite_create("vmess_probe");
    TCase *tc = tcase_create("probe");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_drain_counts_from_first_byte, 0, 3);
    tcase_add_loop_test(tc, test_long_probe_closes_at_once, 0, 3);
    tcase_add_test(tc, test_drain_covers_longest_legacy_header);
    suite_add_tcase(s, tc);
    return s;
}
