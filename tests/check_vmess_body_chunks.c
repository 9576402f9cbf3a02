/* Chunk sizes of the body codec (vmess-protocol.md §8.5): a TCP writer fills chunks of up to
 * VMESS_BODY_STREAM_CHUNK_BUF (16384) bytes from a large input, a UDP writer keeps V2Ray's
 * 2048, none + TCP keeps simple chunks of 8192, and a reader takes any S <= 65535 whoever
 * wrote it. Sizes below are computed from the spec's formula, not from the code. */
#include <sodium.h>
#include <string.h>

#include "../plugin/vmess/aes_cfb.h"
#include "body_fixture.h"

/* Payload bytes per full stream chunk: 16384 - LenField - tag - 64 if padding. */
enum {
    GCM_PLAIN_PER = 16384 - 2 - 16,       /* 16366 */
    GCM_PADDED_PER = 16384 - 2 - 16 - 64, /* 16302 */
    LEGACY_PER = 16384 - 2 - 4,           /* 16378 */
    AUTH_LEN_PER = 16384 - 18 - 16,       /* 16350 */
};

START_TEST(body_stream_chunk_sizes)
{
    static uint8_t data[2 * 16384];
    fill_random(data, sizeof data);
    evp_buf wire = {0};
    vmess_body w;

    /* gcm, no padding: full chunks are 16384 bytes with their LenField (S = 16382). */
    start_writer(&w, VMESS_SEC_GCM, 0x01, 0);
    seal_all(&w, data, 2 * GCM_PLAIN_PER + 1, &wire);
    ck_assert_uint_eq(wire.len, 16384 + 16384 + 2 + 17);
    ck_assert_uint_eq(be16(wire.data), 16382);
    ck_assert_uint_eq(be16(wire.data + 16384), 16382);
    ck_assert_uint_eq(be16(wire.data + 2 * 16384), 17);
    writer_done(&w, &wire);

    /* gcm, masked + padded. SHAKE(reqIV) from python gives the draws fc91 8e43 ecc4 b6ae:
     * p0 = 17, mask0 = 0x8e43, p1 = 4, mask1 = 0xb6ae (python3 -c "import hashlib;
     * print(hashlib.shake_128(bytes(range(16,32))).hexdigest(8))"). */
    start_writer(&w, VMESS_SEC_GCM, 0x0D, 0);
    seal_all(&w, data, 2 * GCM_PADDED_PER, &wire);
    ck_assert_uint_eq(wire.len, 2 * (2 + 16 + GCM_PADDED_PER) + 17 + 4);
    ck_assert_uint_eq(be16(wire.data), (GCM_PADDED_PER + 16u + 17) ^ 0x8e43);
    ck_assert_uint_eq(be16(wire.data + 2 + GCM_PADDED_PER + 16 + 17),
                      (GCM_PADDED_PER + 16u + 4) ^ 0xb6ae);
    writer_done(&w, &wire);

    /* legacy: LenFields inside the CFB stream. */
    vmess_body_params p = start_writer(&w, VMESS_SEC_LEGACY, 0x01, 0);
    seal_all(&w, data, LEGACY_PER + 1, &wire);
    ck_assert_uint_eq(wire.len, 16384 + 2 + 4 + 1);
    vmess_cfb c;
    vmess_cfb_init(&c, p.key, p.iv);
    vmess_cfb_decrypt(&c, wire.data, wire.len);
    vmess_cfb_wipe(&c);
    ck_assert_uint_eq(be16(wire.data), 16382);
    ck_assert_uint_eq(be16(wire.data + 16384), 5);
    writer_done(&w, &wire);

    /* chacha with AuthenticatedLength: an 18-byte LenField. */
    start_writer(&w, VMESS_SEC_CHACHA, 0x11, 0);
    seal_all(&w, data, AUTH_LEN_PER + 1, &wire);
    ck_assert_uint_eq(wire.len, 16384 + 18 + 16 + 1);
    writer_done(&w, &wire);
    evp_buf_free(&wire);
}
END_TEST

START_TEST(body_packet_and_simple_sizes_unchanged)
{
    static uint8_t data[2 * 8193];
    fill_random(data, sizeof data);
    evp_buf wire = {0};
    vmess_body w;

    /* UDP: one datagram per chunk of at most 2048 bytes, as V2Ray; a longer one is dropped. */
    start_writer(&w, VMESS_SEC_GCM, 0x01, 1);
    uint8_t rec[2 + 2031];
    memcpy(rec + 2, data, 2031);
    rec[0] = 2030 >> 8, rec[1] = 2030 & 0xff;
    seal_all(&w, rec, 2 + 2030, &wire);
    ck_assert_uint_eq(wire.len, 2048);
    ck_assert_uint_eq(be16(wire.data), 2046);
    rec[0] = 2031 >> 8, rec[1] = 2031 & 0xff;
    seal_all(&w, rec, 2 + 2031, &wire);
    ck_assert_uint_eq(wire.len, 2048);
    writer_done(&w, &wire);

    /* none + TCP: simple chunks of 8192, plain then masked. */
    start_writer(&w, VMESS_SEC_NONE, 0x01, 0);
    seal_all(&w, data, 2 * 8193, &wire);
    ck_assert_uint_eq(wire.len, 3 * 2 + 2 * 8193);
    ck_assert_uint_eq(be16(wire.data), 8192);
    ck_assert_uint_eq(be16(wire.data + 8194), 8192);
    ck_assert_uint_eq(be16(wire.data + 2 * 8194), 2);
    ck_assert_mem_eq(wire.data + 2, data, 8192);
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
    ck_assert_uint_eq(be16(wire.data + wire.len - 2), 0);
    writer_done(&w, &wire);
    start_writer(&w, VMESS_SEC_NONE, 0x0D, 0); /* padding bit ignored for simple chunks */
    seal_all(&w, data, 8193, &wire);
    ck_assert_uint_eq(wire.len, 2 * 2 + 8193);
    ck_assert_uint_eq(be16(wire.data), 8192u ^ 0xfc91);
    ck_assert_uint_eq(be16(wire.data + 8194), 1u ^ 0x8e43);
    writer_done(&w, &wire);
    evp_buf_free(&wire);
}
END_TEST

/* A large input sealed in one call: as many chunks as 16 KiB chunks need (the wire's size
 * says so within the padding's slack), and read back whole by a reader fed as the host feeds
 * it (a 64 KiB read) and in odd pieces. */
static const struct big_case {
    uint8_t sec, opt;
    size_t per, extra; /* payload per full chunk; LenField + tag bytes per chunk */
} big_cases[] = {
    {VMESS_SEC_GCM, 0x01, GCM_PLAIN_PER, 2 + 16},
    {VMESS_SEC_GCM, 0x0D, GCM_PADDED_PER, 2 + 16},
    {VMESS_SEC_GCM, 0x1D, AUTH_LEN_PER - 64, 18 + 16},
    {VMESS_SEC_CHACHA, 0x05, GCM_PLAIN_PER, 2 + 16},
    {VMESS_SEC_CHACHA, 0x11, AUTH_LEN_PER, 18 + 16},
    {VMESS_SEC_LEGACY, 0x0D, LEGACY_PER - 64, 2 + 4},
};

START_TEST(body_large_input_round_trip)
{
    const struct big_case *c = &big_cases[_i];
    enum { LEN = 1 << 20 };
    static uint8_t data[LEN];
    fill_random(data, sizeof data);
    vmess_body_params p = params(c->sec, c->opt, 0);
    vmess_body w;
    evp_buf wire = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, data, LEN, &wire);
    size_t chunks = (LEN + c->per - 1) / c->per;
    int padded = (c->opt & 0x08) != 0;
    ck_assert_uint_ge(wire.len, LEN + chunks * c->extra);
    ck_assert_uint_le(wire.len, LEN + chunks * (c->extra + (padded ? 63 : 0)));
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);

    static const size_t feeds[] = {65536 + 4096, 999};
    for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
        vmess_body r;
        evp_buf plain = {0};
        ck_assert_int_eq(vmess_body_init(&r, &p), 0);
        ck_assert_int_eq(feed(&r, wire.data, wire.len, feeds[f], &plain), EVP_EOF);
        ck_assert_uint_eq(plain.len, LEN);
        ck_assert_mem_eq(plain.data, data, LEN);
        vmess_body_wipe(&r);
        evp_buf_free(&plain);
    }
    vmess_body_wipe(&w);
    evp_buf_free(&wire);
}
END_TEST

START_TEST(body_reader_accepts_max_chunk_chacha_masked)
{
    /* S = 65535 from another writer, chacha20-poly1305, Option 0x0D: built by hand with
     * libsodium from the spec's values: chacha key #26, p0 = 17 and mask0 = 0x8e43 (the
     * SHAKE draws above), nonce 0000 ‖ reqIV[2:12]. */
    enum { PAD = 17, N = 65535 - 16 - PAD };
    static uint8_t chunk[2 + 65535], data[N];
    fill_random(data, sizeof data);
    uint8_t key32[32], key[16], iv[16], nonce[12];
    unhex("35ba6d08f0e34c15b9d0b09998960eb608192e2100960d3badb6175ebb26e7ab", key32);
    spec_key_iv(key, iv);
    nonce[0] = nonce[1] = 0;
    memcpy(nonce + 2, iv + 2, 10);
    chunk[0] = (65535 ^ 0x8e43) >> 8;
    chunk[1] = (65535 ^ 0x8e43) & 0xff;
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(chunk + 2, chunk + 2 + N, NULL, data, N,
                                                       NULL, 0, NULL, nonce, key32);
    fill_random(chunk + 2 + N + 16, PAD);
    vmess_body_params p = params(VMESS_SEC_CHACHA, 0x0D, 0);
    vmess_body r;
    evp_buf plain = {0};
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, chunk, sizeof chunk, 4000, &plain), EVP_OK);
    ck_assert(vmess_body_at_boundary(&r));
    ck_assert_uint_eq(plain.len, N);
    ck_assert_mem_eq(plain.data, data, N);
    vmess_body_wipe(&r);
    evp_buf_free(&plain);
}
END_TEST

Suite *vmess_body_chunks_suite(void)
{
    Suite *s = suite_create("vmess_body_chunks");
    TCase *t = tcase_create("sizes");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, body_stream_chunk_sizes);
    tcase_add_test(t, body_packet_and_simple_sizes_unchanged);
    tcase_add_loop_test(t, body_large_input_round_trip, 0,
                        (int)(sizeof big_cases / sizeof big_cases[0]));
    tcase_add_test(t, body_reader_accepts_max_chunk_chacha_masked);
    suite_add_tcase(s, t);
    return s;
}
