/* Shadowsocks key derivation and wire format against outside references: the master key
 * and subkey against Python's hashlib/hmac (derived below), and streams the real ss-local
 * 3.3.5 wrote, decoded by the plugin's inbound. */
#include "../plugin/shadowsocks/method.h"
#include "../plugin/shadowsocks/packet.h"
#include "ss_fixture.h"

#include <sodium.h>

static void hex_to(uint8_t *out, const char *hex, size_t n)
{
    size_t got = 0;
    ck_assert_int_eq(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, NULL), 0);
    ck_assert_uint_eq(got, n);
}

/* python3: k = b""; d = b""
 *   while len(k) < n: d = md5(d + b"test-password").digest(); k += d        (EVP_BytesToKey)
 *   prk = hmac(salt, k, sha1); okm = hmac(prk, b"ss-subkey" + b"\x01", sha1) ... (RFC 5869)
 * with salt = bytes(range(n)). */
static const struct {
    int method;
    const char *key, *subkey;
} derived[] = {
    {SS_AES_128_GCM, "dfb450efddbb5387197c84460623675b", "780f000955954fb33743812b1002261b"},
    {SS_AES_256_GCM, "dfb450efddbb5387197c84460623675b69f2cebcd8ef520a3dfddef7c3d540b2",
     "7b6ca12d45ef79467432717aaa6a6ae6e1dd046a505fb2ebaaac602210919595"},
    {SS_CHACHA20_POLY1305, "dfb450efddbb5387197c84460623675b69f2cebcd8ef520a3dfddef7c3d540b2",
     "7b6ca12d45ef79467432717aaa6a6ae6e1dd046a505fb2ebaaac602210919595"},
};

START_TEST(test_password_key_and_subkey)
{
    const char *pw = "test-password";
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
        int m = derived[i].method;
        size_t n = ss_key_size(m);
        uint8_t key[SS_KEY_MAX], want[SS_KEY_MAX], salt[SS_KEY_MAX], sub[SS_KEY_MAX];
        ss_password_key(m, pw, strlen(pw), key);
        hex_to(want, derived[i].key, n);
        ck_assert_mem_eq(key, want, n);
        for (size_t j = 0; j < n; j++)
            salt[j] = (uint8_t)j;
        ss_subkey(m, key, salt, sub);
        hex_to(want, derived[i].subkey, n);
        ck_assert_mem_eq(sub, want, n);
    }
}
END_TEST

START_TEST(test_method_names)
{
    ck_assert_int_eq(ss_method_parse("AES-128-GCM"), SS_AES_128_GCM);
    ck_assert_int_eq(ss_method_parse("aead_aes_256_gcm"), SS_AES_256_GCM);
    ck_assert_int_eq(ss_method_parse("chacha20-poly1305"), SS_CHACHA20_POLY1305);
    ck_assert_int_eq(ss_method_parse("chacha20-ietf-poly1305"), SS_CHACHA20_POLY1305);
    ck_assert_int_eq(ss_method_parse("aes-256-cfb"), SS_METHOD_NONE);
    ck_assert_int_eq(ss_method_parse("rc4-md5"), SS_METHOD_NONE);
    char err[200] = "";
    evp_instance_args a = {sizeof a, "x", "{\"method\":\"aes-256-cfb\",\"password\":\"p\"}", 0};
    ck_assert_ptr_null(ss_inbound_new(test_host_get(), &a, err, sizeof err));
    ck_assert_msg(strstr(err, "not an AEAD method") != NULL, "%s", err);
}
END_TEST

/* What `ss-local -k test-password -m METHOD` 3.3.5 sent for a SOCKS CONNECT to
 * 127.0.0.1:8080 followed by "hello shadowsocks" (recorded on loopback with a listener in
 * place of ss-server): the salt, a chunk with the address, a chunk with the payload. */
static const struct {
    const char *method, *hex;
} captured[] = {
    {"aes-128-gcm",
     "fe96e0709f72d64eb9bdadd5f8f69df217f8254f95f0ffad2a24a2ab4d230c7fc25cd01cff0260a22272"
     "0e353ad774b3f4c69c2da30c708203688eefa103783f7c19877a7540012196f0c89eab32743ca626ad2e"
     "e24bbfd9304c0039f4e6f1a29d9fc3148dbde20fba21638b"},
    {"aes-256-gcm",
     "f90e81e16dcd803563e5ba06be43da03568f0c98b3427602221a3e5c627ed1cea25cbd4bfd863d060397"
     "8f4e55a410c3fb46b63081d04925ded74b90f7946cf22bc6104a4530f377431f598fbd666079ce0e884a"
     "73f6b24f846e7e5c83aa94134bdcb0a025a0f2ac6ef47fe1a52d531f673fc59911c7c0e1d4590a97"},
    {"chacha20-ietf-poly1305",
     "07baa94eecfe7f6de2550ac8416902a2ca42850de21a9c213e8ded25d66abb7876caae642481bf98705e"
     "9db79b17c226e6a9b16ffe10a46ed8d6ffc1fef7dda84ad722751c189c8ad1bcd1394c6c25191d086725"
     "4c604f530e2f29f40c372ac83bcf4c10074bc13e20c4b270a8cd15b4d65f6dd5fb4a089dcb271e82"},
};

START_TEST(test_ss_local_stream)
{
    /* The salts are fixed: move the clock past the replay window of an earlier run. */
    *test_host_clock() = (int64_t)time(NULL) + 100000 * (_i + 1);
    char json[160];
    snprintf(json, sizeof json, "{\"method\":\"%s\",\"password\":\"test-password\"}",
             captured[_i].method);
    void *inst = ss_test_inbound(json);
    uint8_t wire[256];
    size_t n = strlen(captured[_i].hex) / 2;
    hex_to(wire, captured[_i].hex, n);
    ss_conn c = {0};
    c.sess = ss_inbound_session_new(inst);
    ss_conn_run(&c, ss_inbound_decode, NULL, 0, 0);
    /* Fed in two pieces: the salt alone, then the rest. */
    ck_assert_int_eq(ss_conn_run(&c, ss_inbound_decode, wire, 10, 0), EVP_OK);
    ck_assert_int_eq(ss_conn_run(&c, ss_inbound_decode, wire + 10, n - 10, 0), EVP_TARGET);
    ck_assert_int_eq(c.network, EVP_NET_TCP);
    ck_assert_int_eq(c.target.type, EVP_ADDR_IPV4);
    ck_assert_mem_eq(c.target.bytes, "\x7f\x00\x00\x01", 4);
    ck_assert_uint_eq(c.target.port, 8080);
    ck_assert_int_eq(ss_conn_run(&c, ss_inbound_decode, NULL, 0, 1), EVP_EOF);
    ck_assert_uint_eq(c.out.len, 17);
    ck_assert_mem_eq(c.out.data, "hello shadowsocks", 17);
    ss_conn_free(&c, ss_inbound_session_free);
    ss_inbound_free(inst);
    *test_host_clock() = 0;
}
END_TEST

START_TEST(test_packet_round_trip_and_tamper)
{
    const evp_host *h = test_host_get();
    uint8_t key[SS_KEY_MAX];
    ss_password_key(SS_AES_256_GCM, "pw", 2, key);
    evp_addr to = ss_test_domain("example.org", 53);
    evp_buf rec = {0};
    ck_assert_int_eq(ss_packet_seal(h, SS_AES_256_GCM, key, &to, (const uint8_t *)"q?", 2, &rec),
                     0);
    size_t off = 0, n;
    const uint8_t *d;
    ck_assert_int_eq(ss_record_next(rec.data, rec.len, &off, &d, &n), 1);
    ck_assert_uint_eq(n, 32 + 1 + 1 + 11 + 2 + 2 + 16);
    uint8_t plain[128];
    ck_assert_int_eq(ss_packet_open(SS_AES_256_GCM, key, d, n, plain), 1 + 1 + 11 + 2 + 2);
    ck_assert_mem_eq(plain + 15, "q?", 2);
    rec.data[2 + 5] ^= 1; /* a bit of the salt */
    ck_assert_int_eq(ss_packet_open(SS_AES_256_GCM, key, d, n, plain), -1);
    ck_assert_int_eq(ss_packet_open(SS_AES_256_GCM, key, d, 40, plain), -1);
    test_buf_free(&rec);
}
END_TEST

Suite *ss_crypto_suite(void)
{
    Suite *s = suite_create("ss_crypto");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_password_key_and_subkey);
    tcase_add_test(tc, test_method_names);
    tcase_add_loop_test(tc, test_ss_local_stream, 0, 3);
    tcase_add_test(tc, test_packet_round_trip_and_tamper);
    suite_add_tcase(s, tc);
    return s;
}
