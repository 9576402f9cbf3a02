/* The sniffers (core/sniff/): HTTP Host and TLS SNI read as V2Ray 4.34 reads them, on valid
 * requests, on every prefix of one (truncated) and on garbage; the sniffers together across
 * reads; and the "sniffing" settings. ClientHellos are built here by hand from RFC 8446 §4.1.2
 * and RFC 6066 §3. */
#include "sniff.h"
#include "sniff_conf.h"

#include <check.h>
#include <string.h>

static int http(const char *req, evp_sniffed *f)
{
    return evp_sniff_http((const uint8_t *)req, strlen(req), f);
}

START_TEST(http_valid)
{
    evp_sniffed f;
    ck_assert_int_eq(http("GET / HTTP/1.1\r\nHost: Example.TEST\r\nAccept: */*\r\n\r\n", &f),
                     EVP_SNIFF_FOUND);
    ck_assert_str_eq(f.domain, "example.test");
    ck_assert_uint_eq(f.len, 12);
    ck_assert_str_eq(f.protocol, "http1");
    ck_assert_uint_eq(f.override_bit, EVP_SNIFF_HTTP);
    static const struct {
        const char *req, *domain;
    } cases[] = {
        {"post /x HTTP/1.0\r\nhost: a.b:8080\r\n\r\n", "a.b"},
        {"OPTIONS * HTTP/1.1\r\nHOST:\tc.d \r\n\r\n", "c.d"},
        {"CONNECT e.f:443 HTTP/1.1\r\nHost: e.f:443\r\n\r\n", "e.f"},
        {"PUT / HTTP/1.1\nHost: [::1]:80\n\n", "::1"},
        {"DELETE / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "[::1]"},
        {"HEAD / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", "10.0.0.1"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "b"},      /* the last one */
        {"GET / HTTP/1.1\r\nHost: h:0x50\r\n\r\n", "h"},             /* Go's ParseUint base 0 */
        {"GET / HTTP/1.1\r\nHost: h:8_0\r\n\r\n", "h"},
        {"GET / HTTP/1.1\r\nHost: h:\r\n\r\n", "h"},                 /* an empty port */
        {"GET / HTTP/1.1\r\nHost: h :80\r\n\r\n", "h"},              /* ParseAddress trims */
        /* V2Ray splits at '\n' only: a CRLF's blank line is "\r", so lines after it count */
        {"GET / HTTP/1.1\r\n\r\nHost: body.test\r\n", "body.test"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(http(cases[i].req, &f) == EVP_SNIFF_FOUND, "case %zu", i);
        ck_assert_str_eq(f.domain, cases[i].domain);
    }
}
END_TEST

START_TEST(http_truncated)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
    const char *value = strstr(req, "example");
    evp_sniffed f;
    for (size_t k = 0; k < sizeof req - 1; k++) {
        int r = evp_sniff_http((const uint8_t *)req, k, &f);
        if (k <= (size_t)(value - req)) {
            ck_assert_msg(r == EVP_SNIFF_NO_CLUE, "prefix %zu: %d", k, r);
            continue;
        }
        /* As in V2Ray, a last line with no '\n' yet is read too: a prefix of the name. */
        ck_assert_msg(r == EVP_SNIFF_FOUND, "prefix %zu: %d", k, r);
        size_t n = k - (size_t)(value - req);
        ck_assert_uint_eq(f.len, n < 12 ? n : 12);
        ck_assert(strncmp(f.domain, "example.test", f.len) == 0);
    }
    /* No Host at all, or one emptied by a later line: more bytes might still bring one. */
    ck_assert_int_eq(http("GET / HTTP/1.1\r\nAccept: */*\r\n", &f), EVP_SNIFF_NO_CLUE);
    ck_assert_int_eq(http("GET / HTTP/1.1\r\nHost: a\r\nHost: \r\n", &f), EVP_SNIFF_NO_CLUE);
    /* The first empty line ends the headers. */
    ck_assert_int_eq(http("GET / HTTP/1.1\n\nHost: a\n", &f), EVP_SNIFF_NO_CLUE);
    /* V2Ray's method check: no clue at the first method longer than what came. */
    ck_assert_int_eq(http("PO", &f), EVP_SNIFF_NO_CLUE);
    ck_assert_int_eq(http("XXXX", &f), EVP_SNIFF_NO_CLUE); /* "delete" is longer */
}
END_TEST

START_TEST(http_garbage)
{
#define BYTES(s) {s, sizeof s - 1}
    static const struct {
        const char *p;
        size_t n;
    } not_http[] = {
        BYTES("SSH-2.0-OpenSSH_9.2\r\n"),
        BYTES("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        BYTES("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n"), /* too many colons */
        BYTES("GET / HTTP/1.1\r\nHost: a:port\r\n\r\n"), /* not a number */
        BYTES("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: a:_80\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: a:8__0\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: a]:80\r\n\r\n"),
        BYTES("GET / HTTP/1.1\r\nHost: [a]:1]:80\r\n\r\n"),
        /* a NUL would cut the name short for the resolver: routed as one name, dialled as
         * another (found by fuzz_sniff) */
        BYTES("GET / HTTP/1.1\r\nHost: evil.test\0.example.test\r\n\r\n"),
    };
#undef BYTES
    evp_sniffed f;
    for (size_t i = 0; i < sizeof not_http / sizeof not_http[0]; i++)
        ck_assert_msg(evp_sniff_http((const uint8_t *)not_http[i].p, not_http[i].n, &f) ==
                          EVP_SNIFF_NOT,
                      "case %zu", i);
    /* "Host :" is another header; a name longer than any address carries tells nothing. */
    ck_assert_int_eq(http("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &f), EVP_SNIFF_NO_CLUE);
    char longer[400] = "GET / HTTP/1.1\r\nHost: ";
    memset(longer + strlen(longer), 'a', 300);
    ck_assert_int_eq(http(longer, &f), EVP_SNIFF_NOT);
}
END_TEST

/* ---- TLS -------------------------------------------------------------------------------- */

static size_t put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* One server_name entry: type, then name[0..len). */
static size_t sni_entry(uint8_t *p, uint8_t type, const char *name, size_t len)
{
    p[0] = type;
    put16(p + 1, len);
    memcpy(p + 3, name, len);
    return 3 + len;
}

/* A server_name extension (type 0) listing (type, name) pairs. */
static size_t sni_ext(uint8_t *p, const uint8_t *types, const char *const *names, size_t n)
{
    size_t k = 6;
    for (size_t i = 0; i < n; i++)
        k += sni_entry(p + k, types[i], names[i], strlen(names[i]));
    put16(p, 0);
    put16(p + 2, k - 4);
    put16(p + 4, k - 6);
    return k;
}

/* A TLS 1.2-framed record holding a ClientHello with a session id of sid bytes and the
 * extensions ext[0..elen). */
static size_t hello(uint8_t *out, size_t sid, const uint8_t *ext, size_t elen)
{
    uint8_t body[1024];
    size_t k = 0;
    body[k++] = 1; /* client_hello */
    k += 3;        /* its length, below */
    body[k++] = 3;
    body[k++] = 3;
    memset(body + k, 0xAB, 32); /* random */
    k += 32;
    body[k++] = (uint8_t)sid;
    memset(body + k, 0xCD, sid);
    k += sid;
    k += put16(body + k, 4);
    k += put16(body + k, 0x1301);
    k += put16(body + k, 0xC02F);
    body[k++] = 1; /* compression methods: null */
    body[k++] = 0;
    k += put16(body + k, elen);
    memcpy(body + k, ext, elen);
    k += elen;
    body[1] = 0;
    put16(body + 2, k - 4);
    out[0] = 0x16;
    out[1] = 3;
    out[2] = 1;
    put16(out + 3, k);
    memcpy(out + 5, body, k);
    return 5 + k;
}

/* A ClientHello with a supported_versions extension, then SNI name. */
static size_t hello_named(uint8_t *out, const char *name)
{
    static const uint8_t versions[] = {0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04};
    static const uint8_t host_name = 0;
    uint8_t ext[512];
    memcpy(ext, versions, sizeof versions);
    size_t n = sizeof versions + sni_ext(ext + sizeof versions, &host_name, &name, 1);
    return hello(out, 32, ext, n);
}

START_TEST(tls_valid)
{
    uint8_t rec[1200];
    evp_sniffed f;
    size_t n = hello_named(rec, "example.test");
    ck_assert_int_eq(evp_sniff_tls(rec, n, &f), EVP_SNIFF_FOUND);
    ck_assert_str_eq(f.domain, "example.test");
    ck_assert_str_eq(f.protocol, "tls");
    ck_assert_uint_eq(f.override_bit, EVP_SNIFF_TLS);
    /* Bytes after the record (the next one) do not matter; no session id is fine. */
    memset(rec + n, 0x17, 40);
    ck_assert_int_eq(evp_sniff_tls(rec, n + 40, &f), EVP_SNIFF_FOUND);
    /* The first host_name entry wins, after an entry of another type. */
    static const uint8_t types[] = {7, 0, 0};
    static const char *const names[] = {"skip.me", "first.test", "second.test"};
    uint8_t ext[256];
    n = hello(rec, 0, ext, sni_ext(ext, types, names, 3));
    ck_assert_int_eq(evp_sniff_tls(rec, n, &f), EVP_SNIFF_FOUND);
    ck_assert_str_eq(f.domain, "first.test");
}
END_TEST

START_TEST(tls_truncated)
{
    uint8_t rec[1200];
    evp_sniffed f;
    size_t n = hello_named(rec, "example.test");
    for (size_t k = 0; k < n; k++) /* the record is not whole yet */
        ck_assert_msg(evp_sniff_tls(rec, k, &f) == EVP_SNIFF_NO_CLUE, "prefix %zu", k);
    /* A whole record shorter than a ClientHello's fixed part, or a session id cut short:
     * V2Ray has no clue either. */
    static const uint8_t tiny[] = {0x16, 3, 1, 0, 4, 1, 0, 0, 0};
    ck_assert_int_eq(evp_sniff_tls(tiny, sizeof tiny, &f), EVP_SNIFF_NO_CLUE);
    rec[4] = 39 + 4 + 10; /* the record now ends inside the 32-byte session id */
    rec[3] = 0;
    ck_assert_int_eq(evp_sniff_tls(rec, n, &f), EVP_SNIFF_NO_CLUE);
}
END_TEST

START_TEST(tls_garbage)
{
    uint8_t rec[1200], bad[1200];
    evp_sniffed f;
    size_t n = hello_named(rec, "example.test");
    struct {
        size_t at;
        uint8_t v;
    } flips[] = {
        {0, 0x17},     /* not a handshake record */
        {1, 2},        /* SSL 2 */
        {5 + 38, 33},  /* a session id longer than 32: no clue (V2Ray's), see below */
        {5 + 39 + 32 + 1, 3}, /* an odd cipher-suites length */
    };
    int want[] = {EVP_SNIFF_NOT, EVP_SNIFF_NOT, EVP_SNIFF_NO_CLUE, EVP_SNIFF_NOT};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, rec, n);
        bad[flips[i].at] = flips[i].v;
        ck_assert_msg(evp_sniff_tls(bad, n, &f) == want[i], "flip %zu", i);
    }
    /* The extensions must fill the record exactly. */
    memcpy(bad, rec, n);
    bad[4]++;
    bad[n] = 0;
    ck_assert_int_eq(evp_sniff_tls(bad, n + 1, &f), EVP_SNIFF_NOT);
    /* A trailing dot, a NUL inside (it would cut the name short), no SNI: no domain. */
    n = hello_named(bad, "example.test.");
    ck_assert_int_eq(evp_sniff_tls(bad, n, &f), EVP_SNIFF_NOT);
    static const char nul_name[] = "evil.test\0.example.test";
    uint8_t ext[64];
    size_t e = 6 + sni_entry(ext + 6, 0, nul_name, sizeof nul_name - 1);
    put16(ext, 0);
    put16(ext + 2, e - 4);
    put16(ext + 4, e - 6);
    n = hello(bad, 0, ext, e);
    ck_assert_int_eq(evp_sniff_tls(bad, n, &f), EVP_SNIFF_NOT);
    static const uint8_t only_other = 1;
    static const char *const other[] = {"x.test"};
    n = hello(bad, 0, ext, sni_ext(ext, &only_other, other, 1));
    ck_assert_int_eq(evp_sniff_tls(bad, n, &f), EVP_SNIFF_NOT);
    n = hello(bad, 0, ext, 0);
    ck_assert_int_eq(evp_sniff_tls(bad, n, &f), EVP_SNIFF_NOT);
}
END_TEST

/* ---- the sniffers together, and the settings ----------------------------------------- */

START_TEST(sniffer_reads)
{
    evp_sniffer sn = {0};
    evp_sniffed f;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    /* "GE": HTTP and BitTorrent may still match; TLS is ruled out and not asked again. */
    ck_assert_int_eq(evp_sniffer_run(&sn, (const uint8_t *)req, 2, &f), EVP_SNIFF_NO_CLUE);
    ck_assert_int_eq(evp_sniffer_run(&sn, (const uint8_t *)req, sizeof req - 1, &f),
                     EVP_SNIFF_FOUND);
    ck_assert_str_eq(f.protocol, "http1");
    ck_assert_str_eq(f.domain, "a.test");

    static const char bt[] = "\x13" "BitTorrent protocol" "\0\0\0\0\0\0\0\0";
    memset(&sn, 0, sizeof sn);
    ck_assert_int_eq(evp_sniffer_run(&sn, (const uint8_t *)bt, sizeof bt - 1, &f),
                     EVP_SNIFF_FOUND);
    ck_assert_str_eq(f.protocol, "bittorrent");
    ck_assert_uint_eq(f.override_bit, 0); /* it names no domain: nothing to override */

    /* A server-first protocol's client line: unknown once 20 bytes came, not before. */
    static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian\r\n";
    memset(&sn, 0, sizeof sn);
    ck_assert_int_eq(evp_sniffer_run(&sn, (const uint8_t *)ssh, 3, &f), EVP_SNIFF_NO_CLUE);
    ck_assert_int_eq(evp_sniffer_run(&sn, (const uint8_t *)ssh, sizeof ssh - 1, &f),
                     EVP_SNIFF_NOT);
    ck_assert_uint_eq(sn.ruled_out, 7);
}
END_TEST

static int conf(const char *json, uint8_t *bits, char *err)
{
    json_t *in = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(in);
    int r = evp_sniff_conf(in, "inbounds[0]", bits, err, 256);
    json_decref(in);
    return r;
}

START_TEST(settings)
{
    uint8_t b;
    char err[256] = "";
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": [\"http\", "
                          "\"TLS\"]}}", &b, err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON | EVP_SNIFF_HTTP | EVP_SNIFF_TLS);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": \"ssl\"}}", &b,
                          err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON | EVP_SNIFF_TLS);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": \"http,https\"}}",
                          &b, err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON | EVP_SNIFF_HTTP | EVP_SNIFF_TLS);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true}}", &b, err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON); /* sniffed, nothing overridden */
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": false, \"destOverride\": [\"http\"]}}",
                          &b, err), 0);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": [\"fakedns\", "
                          "\"quic\", \"http\"]}}", &b, err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON | EVP_SNIFF_HTTP);
    ck_assert_int_eq(conf("{\"domainOverride\": [\"tls\"]}", &b, err), 0);
    ck_assert_uint_eq(b, EVP_SNIFF_ON | EVP_SNIFF_TLS);
    ck_assert_int_eq(conf("{}", &b, err), 0);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": [\"smtp\"]}}",
                          &b, err), -1);
    ck_assert_str_eq(err, "inbounds[0].sniffing.destOverride: unknown protocol \"smtp\" "
                          "(http, tls, https, ssl)");
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": \"http,\"}}",
                          &b, err), -1);
    ck_assert_int_eq(conf("{\"sniffing\": {\"enabled\": true, \"destOverride\": [1]}}", &b,
                          err), -1);
    ck_assert_str_eq(err, "inbounds[0].sniffing.destOverride[0]: not a string");
}
END_TEST

Suite *sniff_suite(void)
{
    Suite *s = suite_create("sniff");
    TCase *tc = tcase_create("sniff");
    tcase_add_test(tc, http_valid);
    tcase_add_test(tc, http_truncated);
    tcase_add_test(tc, http_garbage);
    tcase_add_test(tc, tls_valid);
    tcase_add_test(tc, tls_truncated);
    tcase_add_test(tc, tls_garbage);
    tcase_add_test(tc, sniffer_reads);
    tcase_add_test(tc, settings);
    suite_add_tcase(s, tc);
    return s;
}
