/* The "proxy-protocol" transport (core/builtin/proxy_protocol.c): PROXY protocol v1 and v2
 * headers as haproxy's doc/proxy-protocol.txt writes them, built here by hand from the spec,
 * delivered whole and byte by byte; the client's bytes after the header pass intact. */
#include "builtin/builtin.h"
#include "test_host.h"
#include "transport_drive.h"

#include <check.h>
#include <string.h>

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char payload[] = "\x16\x03\x01 client bytes, \r\n\r\n PROXY and all";

/* A v2 header: the signature, ver_cmd, fam, the BE16 length of block, then block. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *block, size_t n)
{
    memcpy(out, v2_sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)n;
    if (n > 0) /* block may be NULL then */
        memcpy(out + 16, block, n);
    return 16 + n;
}

typedef struct pp_case {
    const char *name;
    uint8_t wire[400];
    size_t len; /* header bytes; payload follows */
    int has_source;
    uint8_t type;
    uint8_t addr[16];
    uint16_t port;
} pp_case;

static size_t text(uint8_t *out, const char *s)
{
    memcpy(out, s, strlen(s));
    return strlen(s);
}

/* Valid headers: the spec's v1 examples and v2 blocks laid out per section 2.2. */
static size_t make_cases(pp_case *c)
{
    size_t n = 0;
    c[n] = (pp_case){.name = "v1 TCP4",
                     .has_source = 1,
                     .type = EVP_ADDR_IPV4,
                     .addr = {192, 168, 0, 1},
                     .port = 56324};
    c[n].len = text(c[n].wire, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    n++;
    c[n] = (pp_case){.name = "v1 TCP6",
                     .has_source = 1,
                     .type = EVP_ADDR_IPV6,
                     .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1},
                     .port = 0};
    c[n].len = text(c[n].wire, "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
    n++;
    /* The longest v1 line the spec shows (104 bytes). */
    c[n] = (pp_case){.name = "v1 TCP6 longest",
                     .has_source = 1,
                     .type = EVP_ADDR_IPV6,
                     .addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0xff},
                     .port = 65535};
    c[n].len = text(c[n].wire, "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
    n++;
    c[n] = (pp_case){.name = "v1 UNKNOWN"};
    c[n].len = text(c[n].wire, "PROXY UNKNOWN\r\n");
    n++;
    /* UNKNOWN with anything after it, up to the 107-byte limit. */
    c[n] = (pp_case){.name = "v1 UNKNOWN 107 bytes"};
    c[n].len = text(c[n].wire, "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
    ck_assert_uint_eq(c[n].len, 107);
    n++;
    static const uint8_t inet[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0xd2, 0x01, 0xbb};
    c[n] = (pp_case){.name = "v2 PROXY TCP4",
                     .has_source = 1,
                     .type = EVP_ADDR_IPV4,
                     .addr = {10, 0, 0, 1},
                     .port = 1234};
    c[n].len = v2(c[n].wire, 0x21, 0x11, inet, sizeof inet);
    n++;
    /* TCP6 with two TLVs after the addresses: PP2_TYPE_ALPN "h2" and a NOOP of 3 bytes. */
    uint8_t inet6[36 + 5 + 6] = {
        0x20,        0x01,     0x0d,        0xb8,        [15] = 7, [16] = 0xfe,
        [17] = 0x80, [31] = 1, [32] = 0xc3, [33] = 0x50, [34] = 0, [35] = 80,
        0x01,        0,        2,           'h',         '2',      0x04,
        0,           3,        0,           0,           0};
    c[n] = (pp_case){.name = "v2 PROXY TCP6 + TLVs",
                     .has_source = 1,
                     .type = EVP_ADDR_IPV6,
                     .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 7},
                     .port = 50000};
    c[n].len = v2(c[n].wire, 0x21, 0x21, inet6, sizeof inet6);
    n++;
    c[n] = (pp_case){.name = "v2 LOCAL"};
    c[n].len = v2(c[n].wire, 0x20, 0x00, NULL, 0);
    n++;
    /* LOCAL ignores the family and the block, whatever they hold. */
    c[n] = (pp_case){.name = "v2 LOCAL with a block"};
    c[n].len = v2(c[n].wire, 0x20, 0xff, inet, sizeof inet);
    n++;
    c[n] = (pp_case){.name = "v2 PROXY UNSPEC"};
    c[n].len = v2(c[n].wire, 0x21, 0x00, NULL, 0);
    n++;
    uint8_t unix_block[216] = {'/', 't', 'm', 'p'};
    c[n] = (pp_case){.name = "v2 PROXY UNIX"};
    c[n].len = v2(c[n].wire, 0x21, 0x31, unix_block, sizeof unix_block);
    n++;
    return n;
}

static void *instance(void)
{
    return tdrive_instance(&evp_builtin_proxy_protocol, 1, "{}");
}

/* Each valid header, in chunks of 1, 2, 5 bytes and whole, then the payload and the end. */
START_TEST(valid_headers)
{
    static const size_t chunks[] = {1, 2, 5, 0};
    pp_case cases[16];
    size_t ncases = make_cases(cases);
    void *inst = instance();
    for (size_t i = 0; i < ncases; i++) {
        const pp_case *c = &cases[i];
        uint8_t wire[512];
        memcpy(wire, c->wire, c->len);
        memcpy(wire + c->len, payload, sizeof payload - 1);
        size_t total = c->len + sizeof payload - 1;
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            tdrive d;
            tdrive_open(&d, evp_builtin_proxy_protocol.transport, inst, NULL);
            int r = tdrive_feed(&d, 1, wire, total, chunks[k], 1);
            ck_assert_msg(r == EVP_EOF, "%s chunk %zu: status %d (%s)", c->name, chunks[k], r,
                          d.up.reason);
            ck_assert_msg(d.targets == c->has_source, "%s: %d targets", c->name, d.targets);
            if (c->has_source) {
                ck_assert_int_eq(d.target.type, c->type);
                ck_assert_int_eq(d.target.len, c->type == EVP_ADDR_IPV4 ? 4 : 16);
                ck_assert_mem_eq(d.target.bytes, c->addr, d.target.len);
                ck_assert_uint_eq(d.target.port, c->port);
            }
            ck_assert_msg(d.up.out.len == sizeof payload - 1, "%s chunk %zu: %zu bytes up", c->name,
                          chunks[k], d.up.out.len);
            ck_assert_mem_eq(d.up.out.data, payload, sizeof payload - 1);
            ck_assert_uint_eq(d.up.back.len, 0);
            ck_assert_uint_eq(d.up.pending.len, 0);
            tdrive_close(&d);
        }
    }
    evp_builtin_proxy_protocol.transport->instance_free(inst);
}
END_TEST

/* A header cut short by the end of the connection is refused, at every cut. */
START_TEST(truncated)
{
    pp_case cases[16];
    size_t ncases = make_cases(cases);
    void *inst = instance();
    for (size_t i = 0; i < ncases; i++) {
        for (size_t cut = 0; cut < cases[i].len; cut++) {
            tdrive d;
            tdrive_open(&d, evp_builtin_proxy_protocol.transport, inst, NULL);
            /* Byte by byte: no verdict before the end (a v2 address may be told before its
             * TLVs have come)... */
            ck_assert_int_eq(tdrive_feed(&d, 1, cases[i].wire, cut, 1, 0), EVP_OK);
            ck_assert_int_le(d.targets, cut >= 16 + 36 ? 1 : 0);
            ck_assert_uint_eq(d.up.out.len, 0);
            /* ...then the end: refused, nothing passed up. */
            int r = tdrive_feed(&d, 1, NULL, 0, 0, 1);
            ck_assert_msg(r == EVP_ERR, "%s cut at %zu: status %d", cases[i].name, cut, r);
            ck_assert_msg(strstr(d.up.reason, "ended") != NULL, "%s", d.up.reason);
            ck_assert_uint_eq(d.up.out.len, 0);
            tdrive_close(&d);
        }
    }
    evp_builtin_proxy_protocol.transport->instance_free(inst);
}
END_TEST

static const struct bad_case {
    const char *wire;
    size_t len;      /* 0: strlen */
    const char *why; /* in the reason */
} bad_cases[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "does not start with a PROXY header"},
    {"\x16\x03\x01\x02\x00", 0, "does not start with a PROXY header"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, "CRLF"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", 0, "port"},
    {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 0, "not IPv4"},
    {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 0, "not IPv4"},
    {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 0, "not IPv6"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 0, "port"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 0, "port"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", 0, "4 fields"},
    {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 0, "4 fields"},
    {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, "4 fields"},
    {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 0, "TCP4, TCP6 or UNKNOWN"},
    {"PROXY UNKNOWNX\r\n", 0, "TCP4, TCP6 or UNKNOWN"},
    {"PROXY \r\n", 0, "TCP4, TCP6 or UNKNOWN"},
    {"PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33, "NUL"},
    /* v2: version 1, command 2, family 4, transport 3, a block too short for INET. */
    {"\r\n\r\n\0\r\nQUIT\n\x11\x11\0\x0c", 16, "version"},
    {"\r\n\r\n\0\r\nQUIT\n\x22\x11\0\x0c", 16, "command"},
    {"\r\n\r\n\0\r\nQUIT\n\x21\x41\0\x0c", 16, "family"},
    {"\r\n\r\n\0\r\nQUIT\n\x21\x13\0\x0c", 16, "transport"},
    {"\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x04", 16, "shorter"},
    {"\r\n\r\n\0\r\nQUIT\n\x21\x21\0\x0c", 16, "shorter"},
    {"\r\n\r\n\0\r\nQUIX", 12, "does not start with a PROXY header"},
};

/* Garbage is refused with its reason, as soon as it is garbage, and nothing passes up. */
START_TEST(garbage_refused)
{
    const struct bad_case *c = &bad_cases[_i];
    size_t len = c->len ? c->len : strlen(c->wire);
    void *inst = instance();
    tdrive d;
    tdrive_open(&d, evp_builtin_proxy_protocol.transport, inst, NULL);
    int r = tdrive_feed(&d, 1, c->wire, len, 1, 0);
    ck_assert_msg(r == EVP_ERR, "case %d accepted (status %d)", _i, r);
    ck_assert_msg(strstr(d.up.reason, c->why) != NULL, "case %d: reason \"%s\" lacks \"%s\"", _i,
                  d.up.reason, c->why);
    ck_assert_msg(strncmp(d.up.reason, "PROXY protocol: ", 16) == 0, "%s", d.up.reason);
    ck_assert_uint_eq(d.up.out.len, 0);
    ck_assert_int_eq(d.targets, 0);
    tdrive_close(&d);
    evp_builtin_proxy_protocol.transport->instance_free(inst);
}
END_TEST

/* A v1 line is looked at for 107 bytes at most: the verdict comes at byte 107, not later. */
START_TEST(v1_bounded)
{
    char line[300] = "PROXY UNKNOWN ";
    memset(line + 14, 'a', sizeof line - 15);
    void *inst = instance();
    tdrive d;
    tdrive_open(&d, evp_builtin_proxy_protocol.transport, inst, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, line, 106, 1, 0), EVP_OK);
    ck_assert_int_eq(tdrive_feed(&d, 1, line + 106, 1, 1, 0), EVP_ERR);
    ck_assert_msg(strstr(d.up.reason, "longer than 107") != NULL, "%s", d.up.reason);
    tdrive_close(&d);
    evp_builtin_proxy_protocol.transport->instance_free(inst);
}
END_TEST

/* A v2 header with 60 KiB of TLVs, then 256 KiB of payload: the TLVs are skipped as they
 * stream (never held), the payload arrives whole, and encode passes bytes unchanged. */
START_TEST(large_tlvs_and_payload)
{
    size_t tlv = 60 * 1024, body = 256 * 1024;
    uint8_t *wire = calloc(1, 16 + 12 + tlv + body);
    ck_assert_ptr_nonnull(wire);
    uint8_t block[12] = {127, 0, 0, 9, 127, 0, 0, 1, 0xff, 0xfe, 0, 80};
    size_t h = v2(wire, 0x21, 0x11, block, sizeof block);
    wire[14] = (uint8_t)((12 + tlv) >> 8);
    wire[15] = (uint8_t)(12 + tlv);
    memset(wire + h, 0x04, tlv);
    randombytes_buf(wire + h + tlv, body);
    void *inst = instance();
    tdrive d;
    tdrive_open(&d, evp_builtin_proxy_protocol.transport, inst, NULL);
    ck_assert_int_eq(tdrive_feed(&d, 1, wire, h + tlv + body, 4093, 1), EVP_EOF);
    ck_assert_int_eq(d.targets, 1);
    ck_assert_uint_eq(d.target.port, 65534);
    ck_assert_uint_eq(d.up.out.len, body);
    ck_assert_mem_eq(d.up.out.data, wire + h + tlv, body);
    ck_assert_int_eq(tdrive_feed(&d, 0, "answer", 6, 0, 0), EVP_OK);
    ck_assert_uint_eq(d.down.out.len, 6);
    ck_assert_mem_eq(d.down.out.data, "answer", 6);
    ck_assert_uint_eq(d.down.back.len, 0);
    tdrive_close(&d);
    evp_builtin_proxy_protocol.transport->instance_free(inst);
    free(wire);
}
END_TEST

START_TEST(server_side_only)
{
    const evp_plugin *p = &evp_builtin_proxy_protocol;
    ck_assert_str_eq(p->name, "proxy-protocol");
    ck_assert_ptr_nonnull(p->transport);
    ck_assert_ptr_null(p->inbound);
    ck_assert_ptr_null(p->outbound);
    ck_assert_uint_eq(p->size, sizeof(evp_plugin));
    char err[256] = "";
    evp_transport_args a = {
        .size = sizeof a, .server = 0, .tag = "out", .settings_json = "{}", .stream_json = "{}"};
    ck_assert_ptr_null(p->transport->instance_new(test_host_get(), &a, err, sizeof err));
    ck_assert_msg(strstr(err, "outbound") != NULL, "%s", err);
}
END_TEST

Suite *proxy_protocol_suite(void)
{
    Suite *s = suite_create("proxy_protocol");
    TCase *tc = tcase_create("proxy_protocol");
    tcase_add_test(tc, valid_headers);
    tcase_add_test(tc, truncated);
    tcase_add_loop_test(tc, garbage_refused, 0, sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(tc, v1_bounded);
    tcase_add_test(tc, large_tlvs_and_payload);
    tcase_add_test(tc, server_side_only);
    suite_add_tcase(s, tc);
    return s;
}
