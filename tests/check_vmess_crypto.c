/* VMess primitives: KDF, ids, request header, AEAD and legacy headers, response commands.
 * Vectors: vmess-protocol.md §11 (#1-#22, #28) and extra ones computed with python3
 * hashlib/hmac/zlib (script: see each comment), independently of this C code. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../plugin/vmess/command.h"
#include "../plugin/vmess/header_aead.h"
#include "../plugin/vmess/header_legacy.h"
#include "../plugin/vmess/kdf.h"
#include "../plugin/vmess/request.h"
#include "../plugin/vmess/user_id.h"

#define T0 1700000000
#define UUID_STR "27848739-7e62-4138-9fd3-098a63964b6b"

static size_t unhex(uint8_t *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

#define ck_assert_hex(buf, len, hex)                                                               \
    do {                                                                                           \
        uint8_t want_[512];                                                                        \
        size_t wn_ = unhex(want_, hex);                                                            \
        ck_assert_uint_eq((len), wn_);                                                             \
        ck_assert_mem_eq((buf), want_, wn_);                                                       \
    } while (0)

static void uuid16(uint8_t out[16])
{
    ck_assert_int_eq(vmess_uuid_parse(out, UUID_STR), 0);
}

static void cmd_key(uint8_t out[16])
{
    uint8_t u[16];
    uuid16(u);
    vmess_cmd_key(out, u);
}

static void seq(uint8_t *p, uint8_t start, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

/* The §11 request: V 0x5a, Opt 0x0D, P 0, Sec 3, TCP, example.com:443. */
static void vector_request(vmess_request *r)
{
    memset(r, 0, sizeof *r);
    r->version = 1;
    seq(r->iv, 0x10, 16);
    seq(r->key, 0x20, 16);
    r->v = 0x5a;
    r->option = 0x0d;
    r->security = VMESS_SEC_AES128_GCM;
    r->command = VMESS_CMD_TCP;
    r->target.type = EVP_ADDR_DOMAIN;
    r->target.len = 11;
    memcpy(r->target.bytes, "example.com", 12);
    r->target.port = 443;
}

#define V12                                                                                        \
    "01101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f5a0d03000101bb020b"         \
    "6578616d706c652e636f6d880654e7"

/* ---- KDF ---- */

START_TEST(kdf_demo_vector)
{
    /* Independent cross-check vector quoted in §11. */
    const char *k = "Demo Key for KDF Value Test";
    const char *p1 = "Demo Path for KDF Value Test", *p2 = "Demo Path for KDF Value Test2",
               *p3 = "Demo Path for KDF Value Test3";
    vmess_kdf_path path[3] = {{(const uint8_t *)p1, strlen(p1)},
                              {(const uint8_t *)p2, strlen(p2)},
                              {(const uint8_t *)p3, strlen(p3)}};
    uint8_t out[32];
    vmess_kdf(out, (const uint8_t *)k, strlen(k), path, 3);
    ck_assert_hex(out, 32, "53e9d7e1bd7bd25022b71ead07d8a596efc8a845c7888652fd684b4903dc8892");
}
END_TEST

START_TEST(kdf_python_vectors)
{
    /* python3: the nested-HMAC kdf() of /tmp/vprim/vec.py (hmac + hashlib.sha256). */
    uint8_t out[32], key[16], p1[10], p2[63];
    vmess_kdf(out, (const uint8_t *)"abc", 3, NULL, 0);
    ck_assert_hex(out, 32, "83cf1e7c1c28dca6204690dcf31159a5890926a4ceb3598782f1aeef9c786661");
    seq(key, 0, 16);
    for (size_t i = 0; i < sizeof p1; i++)
        p1[i] = i % 2 ? 0xff : 0x00;
    seq(p2, 0, 63);
    vmess_kdf_path path[4] = {{p1, 10}, {p2, 63}, {(const uint8_t *)"x", 1}, {p2, 0}};
    vmess_kdf(out, key, 16, path, 4);
    ck_assert_hex(out, 32, "a5d19506eccccda869f3680e1066441a8a60ac2e6f94b35487983e8400309ccc");
    uint8_t k16[16];
    vmess_kdf16(k16, key, 16, path, 4);
    ck_assert_mem_eq(k16, out, 16);
}
END_TEST

START_TEST(kdf_vector_7_and_28)
{
    uint8_t ck[16], out[16], full[32], req_key[16];
    cmd_key(ck);
    vmess_kdf16_str(out, ck, 16, "AES Auth ID Encryption");
    ck_assert_hex(out, 16, "1d3a02ab9f56cff3ec46c641e6b89716");
    vmess_kdf_path p = {(const uint8_t *)"AES Auth ID Encryption", 22};
    vmess_kdf(full, ck, 16, &p, 1);
    ck_assert_hex(full + 16, 16, "0d6fd5eeab938ccaca9b6c4baaa2d95b");
    vmess_authid_key(out, ck);
    ck_assert_hex(out, 16, "1d3a02ab9f56cff3ec46c641e6b89716");
    seq(req_key, 0x20, 16);
    vmess_kdf16_str(out, req_key, 16, "auth_len"); /* #28 */
    ck_assert_hex(out, 16, "b5aa9ae1cde5868ebebf49f8fc314664");
    seq(req_key, 0x40, 16); /* python: kdf(bytes(range(0x40,0x50)), b"auth_len") */
    vmess_kdf16_str(out, req_key, 16, "auth_len");
    ck_assert_hex(out, 16, "f1f11feec17002903e2c26cad4f2d9eb");
}
END_TEST

/* ---- ids ---- */

START_TEST(uuid_parse_format)
{
    uint8_t u[16];
    char s[VMESS_UUID_STR_LEN + 1];
    uuid16(u);
    ck_assert_hex(u, 16, "278487397e6241389fd3098a63964b6b");
    vmess_uuid_format(s, u);
    ck_assert_str_eq(s, UUID_STR);
    uint8_t v[16];
    ck_assert_int_eq(vmess_uuid_parse(v, "278487397E6241389FD3098A63964B6B"), 0);
    ck_assert_mem_eq(u, v, 16);
    memset(v, 0xaa, 16);
    ck_assert_int_eq(vmess_uuid_parse(v, "27848739-7e62-4138-9fd3-098a63964b6"), -1);
    ck_assert_int_eq(vmess_uuid_parse(v, "27848739-7e62-4138-9fd3-098a63964b6g"), -1);
    ck_assert_int_eq(vmess_uuid_parse(v, "278487397-e62-4138-9fd3-098a63964b6b"), -1);
    ck_assert_int_eq(vmess_uuid_parse(v, ""), -1);
    ck_assert_int_eq(vmess_uuid_parse(v, "27848739-7e62-4138-9fd3-098a63964b6b0"), -1);
    ck_assert_uint_eq(v[0], 0xaa); /* untouched on failure */
}
END_TEST

START_TEST(cmd_key_vectors)
{
    uint8_t ck[16], u[16];
    cmd_key(ck);
    ck_assert_hex(ck, 16, "6f87e1b19f8da25df715d655ae9a1764"); /* #1 */
    /* python: hashlib.md5(uuid.UUID(s).bytes + b"c48619fe-...-edf763e17e21") */
    ck_assert_int_eq(vmess_uuid_parse(u, "450bae28-b9da-67d0-16bc-4918dc8d79b5"), 0);
    vmess_cmd_key(ck, u);
    ck_assert_hex(ck, 16, "da8b7df4396329ebe7a74afc62a9e7c8");
    ck_assert_int_eq(vmess_uuid_parse(u, "b831381d-6324-4d53-ad4f-8cda48b30811"), 0);
    vmess_cmd_key(ck, u);
    ck_assert_hex(ck, 16, "b50d916ac0cec067981af8e5f38a758f");
    ck_assert_int_eq(vmess_uuid_parse(u, "00000000-0000-0000-0000-000000000000"), 0);
    vmess_cmd_key(ck, u);
    ck_assert_hex(ck, 16, "5e20f3239545e3f48e0ff445aa7c4c3b");
}
END_TEST

START_TEST(alter_id_vectors)
{
    uint8_t u[16], alt[64][16], ck[16];
    char s[VMESS_UUID_STR_LEN + 1];
    uuid16(u);
    vmess_alter_ids(alt, u, 2);
    vmess_uuid_format(s, alt[0]);
    ck_assert_str_eq(s, "2bbd2628-154d-0411-51a5-488b24b9fc33"); /* #2 */
    vmess_cmd_key(ck, alt[0]);
    ck_assert_hex(ck, 16, "5050d1c501ad14b2c9223832dbdc84e1");
    vmess_uuid_format(s, alt[1]);
    ck_assert_str_eq(s, "e82cc960-15dd-537c-497c-67916bd8c4b9"); /* #3 */
    vmess_cmd_key(ck, alt[1]);
    ck_assert_hex(ck, 16, "f8b4f4efd1a815965a5da24deddcf9dd");
    /* python: alters() of vec.py, an MD5 chain with hashlib copy() as Go's Sum(). */
    ck_assert_int_eq(vmess_uuid_parse(u, "b831381d-6324-4d53-ad4f-8cda48b30811"), 0);
    vmess_alter_ids(alt, u, 64);
    vmess_uuid_format(s, alt[0]);
    ck_assert_str_eq(s, "5a071834-12d5-980a-72ac-845d5568d17d");
    vmess_uuid_format(s, alt[2]);
    ck_assert_str_eq(s, "92942ba8-087f-bc0a-e89a-0d235a76ccff");
    vmess_uuid_format(s, alt[4]);
    ck_assert_str_eq(s, "37c455a0-35e5-b8d3-61cc-734891a42d14");
    ck_assert_hex(alt[63], 16, "358bc9f8c3983a03b4b458138a181140");
}
END_TEST

/* ---- request header plaintext ---- */

START_TEST(request_encode_vector)
{
    vmess_request r;
    uint8_t out[VMESS_REQUEST_MAX];
    vector_request(&r);
    int n = vmess_request_encode(&r, NULL, out, sizeof out);
    ck_assert_int_eq(n, 57);
    ck_assert_hex(out, (size_t)n, V12); /* #12 */
    ck_assert_uint_eq(vmess_request_length(out, 10), 38);
    ck_assert_uint_eq(vmess_request_length(out, 38), 41);
    ck_assert_uint_eq(vmess_request_length(out, 41), 42);
    ck_assert_uint_eq(vmess_request_length(out, 42), 57);
    ck_assert_int_eq(vmess_request_encode(&r, NULL, out, 56), VMESS_REQ_TOO_LONG);
}
END_TEST

START_TEST(request_decode_vector)
{
    uint8_t in[64];
    vmess_request r;
    size_t n = unhex(in, V12);
    ck_assert_int_eq(vmess_request_decode(&r, in, n), VMESS_REQ_OK);
    ck_assert_uint_eq(r.version, 1);
    ck_assert_uint_eq(r.iv[0], 0x10);
    ck_assert_uint_eq(r.key[15], 0x2f);
    ck_assert_uint_eq(r.v, 0x5a);
    ck_assert_uint_eq(r.option, 0x0d);
    ck_assert_uint_eq(r.padding_len, 0);
    ck_assert_uint_eq(r.security, 3);
    ck_assert_uint_eq(r.command, VMESS_CMD_TCP);
    ck_assert_uint_eq(r.target.type, EVP_ADDR_DOMAIN);
    ck_assert_uint_eq(r.target.port, 443);
    ck_assert_str_eq((const char *)r.target.bytes, "example.com");
    ck_assert_int_eq(vmess_request_decode(&r, in, n - 1), VMESS_REQ_SHORT);
    in[50] ^= 1;
    ck_assert_int_eq(vmess_request_decode(&r, in, n), VMESS_REQ_BAD_CHECKSUM);
}
END_TEST

/* Encodes r with pad, decodes it and returns the result (and the decoded header). */
static int round_trip(const vmess_request *r, vmess_request *got)
{
    uint8_t buf[VMESS_REQUEST_MAX], pad[15];
    memset(pad, 0xa5, sizeof pad);
    int n = vmess_request_encode(r, pad, buf, sizeof buf);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(vmess_request_length(buf, (size_t)n), (size_t)n);
    for (int i = 0; i < n; i++) /* incremental length always asks for more until complete */
        ck_assert_uint_gt(vmess_request_length(buf, (size_t)i), (size_t)i);
    return vmess_request_decode(got, buf, (size_t)n);
}

START_TEST(request_round_trips)
{
    vmess_request r, got;
    vector_request(&r);
    r.padding_len = 15;
    r.security = VMESS_SEC_CHACHA20_POLY1305;
    r.command = VMESS_CMD_UDP;
    r.target.type = EVP_ADDR_IPV4;
    r.target.len = 4;
    memcpy(r.target.bytes, "\x7f\x00\x00\x01", 4);
    r.target.port = 53;
    ck_assert_int_eq(round_trip(&r, &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.padding_len, 15);
    ck_assert_uint_eq(got.command, VMESS_CMD_UDP);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(got.target.bytes, "\x7f\x00\x00\x01", 4);
    ck_assert_uint_eq(got.target.port, 53);

    r.target.type = EVP_ADDR_IPV6;
    r.target.len = 16;
    memset(r.target.bytes, 0, 16);
    r.target.bytes[15] = 1;
    r.security = VMESS_SEC_NONE;
    r.padding_len = 3;
    ck_assert_int_eq(round_trip(&r, &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_IPV6);
    ck_assert_mem_eq(got.target.bytes, r.target.bytes, 16);
    ck_assert_uint_eq(got.security, VMESS_SEC_NONE);

    /* Mux: no address on the wire, target v1.mux.cool:0. */
    r.command = VMESS_CMD_MUX;
    r.security = VMESS_SEC_UNKNOWN; /* decoded as legacy */
    ck_assert_int_eq(round_trip(&r, &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.security, VMESS_SEC_LEGACY);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_DOMAIN);
    ck_assert_str_eq((const char *)got.target.bytes, "v1.mux.cool");
    ck_assert_uint_eq(got.target.port, 0);
    uint8_t buf[VMESS_REQUEST_MAX];
    ck_assert_int_eq(vmess_request_encode(&r, (const uint8_t *)"abc", buf, sizeof buf),
                     VMESS_REQUEST_FIXED + 3 + 4);

    /* A 255-byte domain is the longest header. */
    r.command = VMESS_CMD_TCP;
    r.padding_len = 15;
    r.target.type = EVP_ADDR_DOMAIN;
    r.target.len = 255;
    memset(r.target.bytes, 'a', 255);
    r.target.bytes[255] = '\0';
    ck_assert_int_eq(vmess_request_encode(&r, (const uint8_t *)"0123456789abcde", buf, sizeof buf),
                     VMESS_REQUEST_MAX);
    ck_assert_int_eq(round_trip(&r, &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.len, 255);
    ck_assert_uint_eq(strlen((const char *)got.target.bytes), 255);
}
END_TEST

/* Builds a plaintext header by hand with a domain d and a fresh FNV, then decodes it. */
static int decode_domain(const char *d, vmess_request *got)
{
    vmess_request r;
    vector_request(&r);
    r.target.len = (uint8_t)strlen(d);
    memcpy(r.target.bytes, d, strlen(d) + 1);
    return round_trip(&r, got);
}

START_TEST(request_domain_rules)
{
    vmess_request got;
    ck_assert_int_eq(decode_domain("a-b_c.D9", &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_DOMAIN);
    ck_assert_int_eq(decode_domain("bad domain", &got), VMESS_REQ_BAD_DOMAIN);
    ck_assert_int_eq(decode_domain("ex/ample", &got), VMESS_REQ_BAD_DOMAIN);
    ck_assert_int_eq(decode_domain("\xc3\xa9t\xc3\xa9", &got), VMESS_REQ_BAD_DOMAIN);
    /* IP literals become IP targets. */
    ck_assert_int_eq(decode_domain("10.1.2.3", &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(got.target.bytes, "\x0a\x01\x02\x03", 4);
    ck_assert_int_eq(decode_domain("[::1]", &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_IPV6);
    ck_assert_uint_eq(got.target.bytes[15], 1);
    ck_assert_int_eq(decode_domain("[::ffff:1.2.3.4]", &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(got.target.bytes, "\x01\x02\x03\x04", 4);
    /* Starts with a digit but is no IP: an ordinary domain. */
    ck_assert_int_eq(decode_domain("1example.com", &got), VMESS_REQ_OK);
    ck_assert_uint_eq(got.target.type, EVP_ADDR_DOMAIN);
    ck_assert_int_eq(decode_domain("[nope]", &got), VMESS_REQ_BAD_DOMAIN);
}
END_TEST

/* Re-stamps the FNV of a hand-edited header h[0..n). */
static void restamp(uint8_t *h, size_t n)
{
    uint32_t f = 0x811c9dc5u; /* FNV-1a written out here, not the code under test */
    for (size_t i = 0; i < n - 4; i++) {
        f ^= h[i];
        f *= 0x01000193u;
    }
    h[n - 4] = (uint8_t)(f >> 24);
    h[n - 3] = (uint8_t)(f >> 16);
    h[n - 2] = (uint8_t)(f >> 8);
    h[n - 1] = (uint8_t)f;
}

START_TEST(request_bad_fields)
{
    uint8_t h[64];
    vmess_request got;
    size_t n = unhex(h, V12);
    uint8_t save[64];
    memcpy(save, h, n);
    h[40] = 4; /* address type */
    ck_assert_uint_eq(vmess_request_length(h, n), 0);
    ck_assert_int_eq(vmess_request_decode(&got, h, n), VMESS_REQ_BAD_ADDR_TYPE);
    memcpy(h, save, n);
    h[37] = 4; /* command */
    restamp(h, n);
    ck_assert_int_eq(vmess_request_decode(&got, h, n), VMESS_REQ_BAD_COMMAND);
    static const uint8_t bad_sec[] = {2, 6, 7, 15};
    for (size_t i = 0; i < sizeof bad_sec; i++) {
        memcpy(h, save, n);
        h[35] = bad_sec[i];
        restamp(h, n);
        ck_assert_int_eq(vmess_request_decode(&got, h, n), VMESS_REQ_BAD_SECURITY);
    }
    memcpy(h, save, n);
    h[34] = 0x09; /* padding without masking */
    restamp(h, n);
    ck_assert_int_eq(vmess_request_decode(&got, h, n), VMESS_REQ_BAD_OPTION);
    memcpy(h, save, n);
    h[34] = 0x1d;
    restamp(h, n);
    ck_assert_int_eq(vmess_request_decode(&got, h, n), VMESS_REQ_OK);
    ck_assert_uint_eq(got.option, 0x1d);
    memcpy(h, save, n);
    h[41] = 0; /* empty domain: header ends with the FNV right after the length byte */
    ck_assert_uint_eq(vmess_request_length(h, 42), 46);
    restamp(h, 46);
    ck_assert_int_eq(vmess_request_decode(&got, h, 46), VMESS_REQ_BAD_DOMAIN);
    ck_assert_str_ne(vmess_request_strerror(VMESS_REQ_BAD_DOMAIN), "");
}
END_TEST

/* ---- AEAD header ---- */

START_TEST(crc32_vectors)
{
    /* python: "%08x" % zlib.crc32(d) */
    ck_assert_uint_eq(vmess_crc32(NULL, 0), 0);
    ck_assert_uint_eq(vmess_crc32((const uint8_t *)"a", 1), 0xe8b7be43u);
    ck_assert_uint_eq(vmess_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
    uint8_t b[12];
    seq(b, 0, 12);
    ck_assert_uint_eq(vmess_crc32(b, 12), 0x9270c965u);
}
END_TEST

START_TEST(authid_vector)
{
    uint8_t ck[16], authid[16];
    struct aes128_ctx dec;
    int64_t t = 0;
    cmd_key(ck);
    vmess_authid_make(authid, ck, T0, (const uint8_t *)"\x01\x02\x03\x04");
    ck_assert_hex(authid, 16, "6868c12572a3ce177baac5f08cc54ec3"); /* #8, #9 */
    vmess_authid_dec_init(&dec, ck);
    uint8_t p[16];
    aes128_decrypt(&dec, 16, p, authid);
    ck_assert_hex(p, 16, "000000006553f10001020304b85575f7"); /* #8 */
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0, &t), 0);
    ck_assert_int_eq(t, T0);
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0 + 120, NULL), 0);
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0 - 120, NULL), 0);
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0 + 121, NULL), -1);
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0 - 121, NULL), -1);
    authid[3] ^= 0x40;
    ck_assert_int_eq(vmess_authid_check(&dec, authid, T0, NULL), -1);
}
END_TEST

START_TEST(aead_request_vector)
{
    uint8_t ck[16], authid[16], nonce[8], h[64], out[VMESS_AEAD_REQ_SIZE(64)], plain[64];
    cmd_key(ck);
    unhex(authid, "6868c12572a3ce177baac5f08cc54ec3");
    unhex(nonce, "a1a2a3a4a5a6a7a8");
    size_t n = unhex(h, V12);
    size_t w = vmess_aead_req_seal(out, ck, authid, nonce, h, n);
    ck_assert_uint_eq(w, 16 + 18 + 8 + 57 + 16);
    /* #15 = #9 || #13 || nonce || #14 */
    ck_assert_hex(out, 16, "6868c12572a3ce177baac5f08cc54ec3");
    ck_assert_hex(out + 16, 18, "226f93f15d51ed2dd9cdffb4673683d628fe");
    ck_assert_hex(out + 34, 8, "a1a2a3a4a5a6a7a8");
    ck_assert_hex(out + 42, 73,
                  "cba628a18d91cedf47f65b37c3a7ac98438e85e5d0127a463c1ff6cc42dcc94be3762f9c01925c"
                  "61d62f6f35b0ce004f9eac20168772e4d4af3f68204cc8301a0f66da0010cab699b9");
    uint16_t len = 0;
    ck_assert_int_eq(vmess_aead_req_open_len(ck, out, out + 34, out + 16, &len), 0);
    ck_assert_uint_eq(len, 57);
    ck_assert_int_eq(vmess_aead_req_open(ck, out, out + 34, out + 42, len + 16u, plain), 0);
    ck_assert_mem_eq(plain, h, n);
    /* In place, then tampering: ciphertext, tag, AuthID (aad), nonce. */
    uint8_t copy[sizeof out];
    memcpy(copy, out, w);
    ck_assert_int_eq(vmess_aead_req_open(ck, copy, copy + 34, copy + 42, 73, copy + 42), 0);
    ck_assert_mem_eq(copy + 42, h, n);
    memcpy(copy, out, w);
    copy[50] ^= 1;
    ck_assert_int_eq(vmess_aead_req_open(ck, copy, copy + 34, copy + 42, 73, plain), -1);
    memcpy(copy, out, w);
    copy[w - 1] ^= 1;
    ck_assert_int_eq(vmess_aead_req_open(ck, copy, copy + 34, copy + 42, 73, plain), -1);
    memcpy(copy, out, w);
    copy[0] ^= 1;
    ck_assert_int_eq(vmess_aead_req_open_len(ck, copy, copy + 34, copy + 16, &len), -1);
    ck_assert_int_eq(vmess_aead_req_open(ck, copy, copy + 34, copy + 42, 73, plain), -1);
    memcpy(copy, out, w);
    copy[34] ^= 1;
    ck_assert_int_eq(vmess_aead_req_open_len(ck, copy, copy + 34, copy + 16, &len), -1);
    ck_assert_int_eq(vmess_aead_req_open(ck, out, out + 34, out + 42, 15, plain), -1);
}
END_TEST

START_TEST(response_keys)
{
    uint8_t rk[16], ri[16], k[16], iv[16];
    seq(rk, 0x20, 16);
    seq(ri, 0x10, 16);
    vmess_resp_keys_aead(k, iv, rk, ri);
    ck_assert_hex(k, 16, "36db1adc807ac50e4c85bd86a174b4aa"); /* #17 */
    ck_assert_hex(iv, 16, "fc2e2c73072bfa2bda03ff9307472deb");
    vmess_resp_keys_legacy(k, iv, rk, ri);
    ck_assert_hex(k, 16, "35ba6d08f0e34c15b9d0b09998960eb6"); /* #18 */
    ck_assert_hex(iv, 16, "1bf42e241816ba29ff5f307bb1bc1d16");
    /* python: hashlib.sha256/md5 of bytes(range(0x40,0x50)) and bytes(range(0x50,0x60)) */
    seq(rk, 0x40, 16);
    seq(ri, 0x50, 16);
    vmess_resp_keys_aead(k, iv, rk, ri);
    ck_assert_hex(k, 16, "ba22b7dc95f6cc8765757be4bccf37cd");
    ck_assert_hex(iv, 16, "372afefa6bcd01be7504cfe132d4cdb5");
    vmess_resp_keys_legacy(k, iv, rk, ri);
    ck_assert_hex(k, 16, "0d712dea46b6358a634362733f554587");
    ck_assert_hex(iv, 16, "3c0f2b607b04f4fd8fd8f9cdf8ae9364");
}
END_TEST

START_TEST(kdf_header_keys)
{
    /* #10, #11, #19, #20: the key/nonce derivations the seals use. */
    uint8_t ck[16], authid[16], nonce[8], out[32], rk[16], ri[16];
    cmd_key(ck);
    unhex(authid, "6868c12572a3ce177baac5f08cc54ec3");
    unhex(nonce, "a1a2a3a4a5a6a7a8");
    const char *names[4] = {"VMess Header AEAD Key_Length", "VMess Header AEAD Nonce_Length",
                            "VMess Header AEAD Key", "VMess Header AEAD Nonce"};
    const char *want[4] = {"f2cceefd043a900fdc085538eefc8414", "c2ca250ad518f11e5ad44ff9",
                           "9a56f79465da4c7252aaa9a9114099c9", "4bba4b2131b1dc148817fbf3"};
    for (int i = 0; i < 4; i++) {
        vmess_kdf_path p[3] = {
            {(const uint8_t *)names[i], strlen(names[i])}, {authid, 16}, {nonce, 8}};
        vmess_kdf(out, ck, 16, p, 3);
        ck_assert_hex(out, strlen(want[i]) / 2, want[i]);
    }
    seq(rk, 0x20, 16);
    seq(ri, 0x10, 16);
    vmess_resp_keys_aead(rk, ri, rk, ri);
    const char *rn[4] = {"AEAD Resp Header Len Key", "AEAD Resp Header Len IV",
                         "AEAD Resp Header Key", "AEAD Resp Header IV"};
    const char *rw[4] = {"642b9652f299409abfe9e802c2c7cf30", "58f42502d03465d4b1362202",
                         "c207a71d4a49356e2b75560fbbe76156", "81c9d47c77b4645f0256717b"};
    for (int i = 0; i < 4; i++) {
        vmess_kdf_path p = {(const uint8_t *)rn[i], strlen(rn[i])};
        vmess_kdf(out, i % 2 ? ri : rk, 16, &p, 1);
        ck_assert_hex(out, strlen(rw[i]) / 2, rw[i]);
    }
    /* python: kdf(cmdkey(b831381d-...), path, 00112233..eeff, 0102..08) */
    uint8_t u[16];
    ck_assert_int_eq(vmess_uuid_parse(u, "b831381d-6324-4d53-ad4f-8cda48b30811"), 0);
    vmess_cmd_key(ck, u);
    unhex(authid, "00112233445566778899aabbccddeeff");
    unhex(nonce, "0102030405060708");
    vmess_kdf_path p[3] = {{(const uint8_t *)names[1], strlen(names[1])}, {authid, 16}, {nonce, 8}};
    vmess_kdf(out, ck, 16, p, 3);
    ck_assert_hex(out, 12, "6d940d2b2ec74db24aa33e9a");
    vmess_authid_key(out, ck);
    ck_assert_hex(out, 16, "1415ba74ca8b3d041a8f583fb4116315");
}
END_TEST

START_TEST(aead_response_vector)
{
    uint8_t rk[16], ri[16], out[VMESS_AEAD_RESP_SIZE(4)], plain[4];
    seq(rk, 0x20, 16);
    seq(ri, 0x10, 16);
    vmess_resp_keys_aead(rk, ri, rk, ri);
    size_t w = vmess_aead_resp_seal(out, rk, ri, (const uint8_t *)"\x5a\0\0\0", 4);
    ck_assert_uint_eq(w, 38);
    ck_assert_hex(out, w,
                  "bdbf42fa9d3621ee2883fcdb50faf39e5149"
                  "8040906ad3f95ba36908f282c6bff05c15fc06af"); /* #21 */
    uint16_t len = 0;
    ck_assert_int_eq(vmess_aead_resp_open_len(rk, ri, out, &len), 0);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(vmess_aead_resp_open(rk, ri, out + 18, 20, plain), 0);
    ck_assert_mem_eq(plain, "\x5a\0\0\0", 4);
    out[20] ^= 0x80;
    ck_assert_int_eq(vmess_aead_resp_open(rk, ri, out + 18, 20, plain), -1);
    out[2] ^= 1;
    ck_assert_int_eq(vmess_aead_resp_open_len(rk, ri, out, &len), -1);
}
END_TEST

/* ---- legacy header ---- */

START_TEST(legacy_auth_vectors)
{
    uint8_t u[16], alt[3][16], a[16];
    uuid16(u);
    vmess_legacy_auth(a, u, T0);
    ck_assert_hex(a, 16, "a965548db6bc114289eecbc893ca0c6f"); /* #4 */
    vmess_alter_ids(alt, u, 1);
    vmess_legacy_auth(a, alt[0], T0);
    ck_assert_hex(a, 16, "9ef56692e0f460507d56ed230a0a2204"); /* #5 */
    vmess_legacy_header_iv(a, T0);
    ck_assert_hex(a, 16, "7a29d7bdc972aaefb1f54e5205589e78"); /* #6 */
    /* python: hmac.new(uuid16, struct.pack(">Q", t), hashlib.md5); md5(pack(">Q",t)*4) */
    ck_assert_int_eq(vmess_uuid_parse(u, "b831381d-6324-4d53-ad4f-8cda48b30811"), 0);
    static const struct {
        int64_t t;
        const char *auth, *iv;
    } v[] = {
        {0, "c73e0543ad17fd82448e38ca8e665aaa", "70bc8f4b72a86921468bf8e8441dce51"},
        {1, "54fd25726d500ae89c9d4970c6526640", "85b1ad8d056f3c316c4be841678ef483"},
        {1700000121, "1ce6436109a227512fb2f901b014d544", "52a2491e8c23bda8203ee69f9154a8f0"},
        {1699999879, "572e641f142aaae0bf5d7e147827af77", "b4d95acf62f0d91a29ecda460a75a90f"},
        {4102444800, "82fe27c22a16cee586e9ca627097a353", "da9f6eb0a353bf2e9915e871b209e1db"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        vmess_legacy_auth(a, u, v[i].t);
        ck_assert_hex(a, 16, v[i].auth);
        vmess_legacy_header_iv(a, v[i].t);
        ck_assert_hex(a, 16, v[i].iv);
    }
    vmess_alter_ids(alt, u, 3);
    vmess_legacy_auth(a, alt[2], T0);
    ck_assert_hex(a, 16, "4ccad24204cca0feeafe36d0542af0ff");
}
END_TEST

START_TEST(legacy_request_vector)
{
    uint8_t u[16], ck[16], h[64], out[16 + 64];
    uuid16(u);
    vmess_cmd_key(ck, u);
    size_t n = unhex(h, V12);
    size_t w = vmess_legacy_req_seal(out, u, ck, T0, h, n);
    ck_assert_uint_eq(w, 16 + 57);
    ck_assert_hex(out, 16, "a965548db6bc114289eecbc893ca0c6f");
    ck_assert_hex(out + 16, 57,
                  "8d24e185786bcec64c1ddfff9f4fb0d0fc54874d4c6f559a7c814e5103f5c93c74c31da3c3a971"
                  "f28e517697f60d1c1f31222a93042ff3b1e0"); /* #16 */
    /* The server decrypts incrementally, asking vmess_request_length how far to go. */
    vmess_cfb c;
    vmess_legacy_header_cfb(&c, ck, T0);
    uint8_t *p = out + 16;
    size_t have = 0, need;
    while ((need = vmess_request_length(p, have)) > have) {
        vmess_cfb_decrypt(&c, p + have, need - have);
        have = need;
    }
    vmess_cfb_wipe(&c);
    ck_assert_uint_eq(have, 57);
    ck_assert_mem_eq(p, h, n);
    /* In place: the plaintext already at out + 16. */
    memcpy(out + 16, h, n);
    vmess_legacy_req_seal(out, u, ck, T0, out + 16, n);
    ck_assert_hex(out + 16, 4, "8d24e185");
}
END_TEST

START_TEST(legacy_response_vector)
{
    uint8_t rk[16], ri[16], buf[4] = {0x5a, 0, 0, 0};
    vmess_cfb c;
    seq(rk, 0x20, 16);
    seq(ri, 0x10, 16);
    vmess_resp_keys_legacy(rk, ri, rk, ri);
    vmess_legacy_resp_seal(&c, rk, ri, buf, 4);
    ck_assert_hex(buf, 4, "d2e5d704"); /* #22 */
    /* The stream continues: 4 more bytes equal bytes 4..8 of one 8-byte run. */
    uint8_t more[4] = {1, 2, 3, 4}, whole[8] = {0x5a, 0, 0, 0, 1, 2, 3, 4};
    vmess_cfb_encrypt(&c, more, 4);
    vmess_cfb_wipe(&c);
    vmess_legacy_resp_seal(&c, rk, ri, whole, 8);
    vmess_cfb_wipe(&c);
    ck_assert_mem_eq(whole + 4, more, 4);
}
END_TEST

/* ---- response header and commands ---- */

START_TEST(switch_account_vector)
{
    vmess_switch_account sa, got;
    uint8_t p[64], hdr[VMESS_RESP_HEADER_MAX];
    memset(&sa, 0, sizeof sa);
    sa.port = 10000;
    uuid16(sa.uuid);
    sa.valid_min = 5;
    int n = vmess_switch_account_encode(&sa, p, sizeof p);
    ck_assert_hex(p, (size_t)n, "002710278487397e6241389fd3098a63964b6b00000005");
    int h = vmess_resp_header_encode(hdr, sizeof hdr, 0x5a, 0, VMESS_RESP_CMD_SWITCH_ACCOUNT, p,
                                     (size_t)n);
    ck_assert_int_eq(h, 4 + 27);
    ck_assert_uint_eq(hdr[3], 27);
    /* python: FNV-1a-32 of the payload (fnv() in vec.py) */
    ck_assert_hex(hdr + 4, 4, "4d4539ab");
    ck_assert_uint_eq(vmess_resp_header_length(hdr, 3), 4);
    ck_assert_uint_eq(vmess_resp_header_length(hdr, 4), 31);
    vmess_resp_header rh;
    ck_assert_int_eq(vmess_resp_header_decode(&rh, hdr, (size_t)h), 0);
    ck_assert_uint_eq(rh.v, 0x5a);
    ck_assert_uint_eq(rh.cmd, VMESS_RESP_CMD_SWITCH_ACCOUNT);
    ck_assert_int_eq(vmess_switch_account_decode(&got, rh.payload, rh.payload_len), 0);
    ck_assert_uint_eq(got.port, 10000);
    ck_assert_uint_eq(got.host_len, 0);
    ck_assert_mem_eq(got.uuid, sa.uuid, 16);
    ck_assert_uint_eq(got.valid_min, 5);
    ck_assert_int_eq(vmess_switch_account_decode(&got, rh.payload, 22), -1);
    /* A bad FNV makes the command ignored, not the header invalid. */
    hdr[10] ^= 1;
    ck_assert_int_eq(vmess_resp_header_decode(&rh, hdr, (size_t)h), 0);
    ck_assert_uint_eq(rh.cmd, VMESS_RESP_CMD_NONE);
    ck_assert_ptr_null(rh.payload);
    ck_assert_int_eq(vmess_resp_header_decode(&rh, hdr, (size_t)h - 1), -1);
}
END_TEST

START_TEST(switch_account_host)
{
    vmess_switch_account sa, got;
    uint8_t p[300];
    memset(&sa, 0, sizeof sa);
    sa.host_len = 9;
    memcpy(sa.host, "127.0.0.1", 10);
    sa.port = 443;
    sa.alter_id = 4;
    sa.level = 2;
    sa.valid_min = 255;
    int n = vmess_switch_account_encode(&sa, p, sizeof p);
    ck_assert_int_eq(n, 32);
    ck_assert_int_eq(vmess_switch_account_encode(&sa, p, 31), -1);
    ck_assert_int_eq(vmess_switch_account_decode(&got, p, 31), -1);
    ck_assert_int_eq(vmess_switch_account_decode(&got, p, 32), 0);
    ck_assert_str_eq(got.host, "127.0.0.1");
    ck_assert_uint_eq(got.alter_id, 4);
    ck_assert_uint_eq(got.level, 2);
    ck_assert_uint_eq(got.valid_min, 255);
    uint8_t hdr[VMESS_RESP_HEADER_MAX];
    ck_assert_int_eq(vmess_resp_header_encode(hdr, sizeof hdr, 7, 0, 0, NULL, 0), 4);
    ck_assert_mem_eq(hdr, "\x07\0\0\0", 4);
    ck_assert_int_eq(vmess_resp_header_encode(hdr, sizeof hdr, 7, 0, 1, p, 252), -1);
}
END_TEST

Suite *vmess_crypto_suite(void)
{
    Suite *s = suite_create("vmess_crypto");
    TCase *tc = tcase_create("primitives");
    tcase_add_test(tc, kdf_demo_vector);
    tcase_add_test(tc, kdf_python_vectors);
    tcase_add_test(tc, kdf_vector_7_and_28);
    tcase_add_test(tc, uuid_parse_format);
    tcase_add_test(tc, cmd_key_vectors);
    tcase_add_test(tc, alter_id_vectors);
    tcase_add_test(tc, crc32_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("headers");
    tcase_add_test(tc, request_encode_vector);
    tcase_add_test(tc, request_decode_vector);
    tcase_add_test(tc, request_round_trips);
    tcase_add_test(tc, request_domain_rules);
    tcase_add_test(tc, request_bad_fields);
    tcase_add_test(tc, authid_vector);
    tcase_add_test(tc, aead_request_vector);
    tcase_add_test(tc, response_keys);
    tcase_add_test(tc, kdf_header_keys);
    tcase_add_test(tc, aead_response_vector);
    tcase_add_test(tc, legacy_auth_vectors);
    tcase_add_test(tc, legacy_request_vector);
    tcase_add_test(tc, legacy_response_vector);
    tcase_add_test(tc, switch_account_vector);
    tcase_add_test(tc, switch_account_host);
    suite_add_tcase(s, tc);
    return s;
}
