/* VMess body codec and its primitives: FNV-1a, SHAKE128, streaming AES-CFB, and the chunk
 * writer/reader of vmess-protocol.md §8. Vectors come from the spec's §11 table or from
 * python3 hashlib (one-liners in the comments), never from the code under test. */
#include <check.h>
#include <nettle/aes.h>
#include <nettle/cfb.h>
#include <nettle/gcm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugin/vmess/aes_cfb.h"
#include "../plugin/vmess/body.h"
#include "../plugin/vmess/fnv1a.h"
#include "../plugin/vmess/shake128.h"
#include "body_fixture.h"

/* ---- FNV-1a ---- */

START_TEST(fnv1a_vectors)
{
    /* python3: h=0x811c9dc5; per byte h^=c; h=h*0x01000193 & 0xffffffff */
    ck_assert_uint_eq(vmess_fnv1a32((const uint8_t *)"hello", 5), 0x4f9f2cabu);
    ck_assert_uint_eq(vmess_fnv1a32(NULL, 0), 0x811c9dc5u);
}
END_TEST

/* ---- SHAKE128 ---- */

START_TEST(shake_spec_vectors)
{
    uint8_t iv[16], key[16], out[16];
    vmess_shake128 s;
    spec_key_iv(key, iv);
    vmess_shake128_init(&s, iv, 16);
    vmess_shake128_read(&s, out, 16);
    assert_hex(out, "fc918e43ecc4b6aea436a3be55984a75"); /* #23 */
    uint8_t resp_iv[16];
    unhex("fc2e2c73072bfa2bda03ff9307472deb", resp_iv);
    vmess_shake128_init(&s, resp_iv, 16);
    vmess_shake128_read(&s, out, 8);
    assert_hex(out, "609cc2070b3bdee1"); /* #24 */
    vmess_shake128_init(&s, iv, 16);
    ck_assert_uint_eq(vmess_shake128_next16(&s), 0xfc91);
    ck_assert_uint_eq(vmess_shake128_next16(&s), 0x8e43);
}
END_TEST

START_TEST(shake_python_vectors)
{
    vmess_shake128 s;
    uint8_t out[340];
    /* python3 -c "import hashlib;print(hashlib.shake_128(b'').hexdigest(32))" */
    vmess_shake128_init(&s, NULL, 0);
    vmess_shake128_read(&s, out, 32);
    assert_hex(out, "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
    /* python3 -c "import hashlib;print(hashlib.shake_128(b'abc').hexdigest(340)[-24:])" */
    vmess_shake128_init(&s, (const uint8_t *)"abc", 3);
    vmess_shake128_read(&s, out, 340);
    assert_hex(out + 328, "24e8d39aa8f4c5854cedd50d");
    /* Inputs around the 168-byte rate, output bytes 160..200 (crossing a squeeze block):
     * python3 -c "import hashlib;d=bytes((i*7+3)%256 for i in range(L));
     *             print(hashlib.shake_128(d).hexdigest(200)[-80:])" */
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {167, "7019249d5afe845862000fccdf47599721b7b6b518fb339613241cb66f0a3caf1254d9c082c432a1"},
        {168, "e1e2a8ecef7a52c1b11bd950157da4015f798dd682d12dcf9a15429f59f8157a224225da82355b65"},
        {169, "b163c2784010bd09dc3d4efc576d9ce770a0387b7b9177ac6e82f4621b2ef2ebc0ab70e9acd6d6a0"},
        {336, "d1c1dfb35a288e6b75c6f512b5cd803dce27a5cc072cd17e4a9e1d713e16c39007e4db74e4b2e7cf"},
    };
    uint8_t in[336];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)((i * 7 + 3) % 256);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        vmess_shake128_init(&s, in, v[k].len);
        vmess_shake128_read(&s, out, 200);
        assert_hex(out + 160, v[k].hex);
    }
}
END_TEST

START_TEST(shake_split_reads)
{
    /* Reading in pieces of any size gives the same stream as one read. */
    vmess_shake128 s;
    uint8_t whole[400], part[400];
    vmess_shake128_init(&s, (const uint8_t *)"split", 5);
    vmess_shake128_read(&s, whole, sizeof whole);
    for (size_t step = 1; step < 200; step += 13) {
        vmess_shake128_init(&s, (const uint8_t *)"split", 5);
        for (size_t off = 0; off < sizeof part; off += step) {
            size_t n = sizeof part - off < step ? sizeof part - off : step;
            vmess_shake128_read(&s, part + off, n);
        }
        ck_assert_mem_eq(part, whole, sizeof whole);
    }
}
END_TEST

/* ---- AES-128-CFB ---- */

START_TEST(cfb_spec_vectors)
{
    /* #16: the #12 header under CFB(cmdKey #1, IV #6), cut at every offset. */
    uint8_t key[16], iv[16], plain[64], want[64], buf[64];
    unhex("6f87e1b19f8da25df715d655ae9a1764", key);
    unhex("7a29d7bdc972aaefb1f54e5205589e78", iv);
    size_t n = unhex("01101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f5a0d03"
                     "000101bb020b6578616d706c652e636f6d880654e7",
                     plain);
    ck_assert_uint_eq(n, 57);
    unhex("8d24e185786bcec64c1ddfff9f4fb0d0fc54874d4c6f559a7c814e5103f5c93c74c31da3c3a971f28e"
          "517697f60d1c1f31222a93042ff3b1e0",
          want);
    for (size_t cut = 0; cut <= n; cut++) {
        vmess_cfb c;
        memcpy(buf, plain, n);
        vmess_cfb_init(&c, key, iv);
        vmess_cfb_encrypt(&c, buf, cut);
        vmess_cfb_encrypt(&c, buf + cut, n - cut);
        ck_assert_mem_eq(buf, want, n);
        vmess_cfb_init(&c, key, iv);
        vmess_cfb_decrypt(&c, buf, cut);
        vmess_cfb_decrypt(&c, buf + cut, n - cut);
        ck_assert_mem_eq(buf, plain, n);
        vmess_cfb_wipe(&c);
    }
    /* #22: legacy response header 5a000000 under CFB(respKey, respIV) of #18. */
    vmess_cfb c;
    unhex("35ba6d08f0e34c15b9d0b09998960eb6", key);
    unhex("1bf42e241816ba29ff5f307bb1bc1d16", iv);
    vmess_cfb_init(&c, key, iv);
    unhex("5a000000", buf);
    vmess_cfb_encrypt(&c, buf, 4);
    assert_hex(buf, "d2e5d704");
}
END_TEST

START_TEST(cfb_matches_nettle)
{
    /* Whole blocks: Nettle's own cfb_encrypt is the reference; then every split point
     * (two and three pieces) must give the same bytes. */
    uint8_t key[16], iv[16], plain[160], want[160], buf[160], ivc[16];
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)(i * 17 + 1);
        iv[i] = (uint8_t)(255 - i);
    }
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 31 + 7);
    struct aes128_ctx aes;
    aes128_set_encrypt_key(&aes, key);
    memcpy(ivc, iv, 16);
    cfb_encrypt(&aes, (nettle_cipher_func *)aes128_encrypt, 16, ivc, sizeof plain, want, plain);
    for (size_t a = 0; a <= sizeof plain; a++) {
        size_t b = a + (sizeof plain - a) / 2;
        vmess_cfb c;
        memcpy(buf, plain, sizeof buf);
        vmess_cfb_init(&c, key, iv);
        vmess_cfb_encrypt(&c, buf, a);
        vmess_cfb_encrypt(&c, buf + a, b - a);
        vmess_cfb_encrypt(&c, buf + b, sizeof buf - b);
        ck_assert_mem_eq(buf, want, sizeof want);
        vmess_cfb_init(&c, key, iv);
        vmess_cfb_decrypt(&c, buf, b);
        vmess_cfb_decrypt(&c, buf + b, sizeof buf - b);
        ck_assert_mem_eq(buf, plain, sizeof plain);
    }
    /* Byte at a time. */
    vmess_cfb c;
    memcpy(buf, plain, sizeof buf);
    vmess_cfb_init(&c, key, iv);
    for (size_t i = 0; i < sizeof buf; i++)
        vmess_cfb_encrypt(&c, buf + i, 1);
    ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

/* ---- body: §11 vectors ---- */

START_TEST(body_vector_gcm_masked_padded)
{
    /* #25: chunk 0, gcm, Option 0x0D, D = hello. */
    vmess_body_params p = params(VMESS_SEC_GCM, 0x0D, 0);
    vmess_body w;
    evp_buf out = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, (const uint8_t *)"hello", 5, &out);
    ck_assert_uint_eq(out.len, 2 + 38); /* LenField + S, S = 5 + 16 + 17 */
    assert_hex(out.data, "8e65");
    assert_hex(out.data + 2, "26aca2da2078f552797282c9aa9cf67d935233aad8");
    vmess_body r;
    evp_buf plain = {0};
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, out.data, out.len, out.len, &plain), EVP_OK);
    ck_assert_uint_eq(plain.len, 5);
    ck_assert_mem_eq(plain.data, "hello", 5);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&out);
    evp_buf_free(&plain);
}
END_TEST

START_TEST(body_vector_chacha)
{
    /* #26/#27: chacha key MD5(k) ‖ MD5(MD5(k)), Seal(hello) with nonce 0000 ‖ IV[2:12].
     * Option 0x01: plain LenField BE16(5 + 16). */
    vmess_body_params p = params(VMESS_SEC_CHACHA, 0x01, 0);
    vmess_body w;
    evp_buf out = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, (const uint8_t *)"hello", 5, &out);
    ck_assert_uint_eq(out.len, 23);
    assert_hex(out.data, "00158fa7c8ae8c6567bf102495bdd19d574bf38eefa3c3");
    vmess_body_wipe(&w);
    evp_buf_free(&out);
}
END_TEST

START_TEST(body_vector_auth_length)
{
    /* #29: AuthenticatedLength field of chunk 0 (gcm, no padding, hello), then the same Seal
     * as #25 (payload key and nonce do not depend on the length field). */
    static const uint8_t opts[] = {0x11, 0x15};
    for (size_t i = 0; i < sizeof opts; i++) {
        vmess_body_params p = params(VMESS_SEC_GCM, opts[i], 0);
        vmess_body w;
        evp_buf out = {0};
        ck_assert_int_eq(vmess_body_init(&w, &p), 0);
        seal_all(&w, (const uint8_t *)"hello", 5, &out);
        ck_assert_uint_eq(out.len, 18 + 21);
        assert_hex(out.data, "d95e4202561d5b5ac7ee9c1c79c971efcfe7");
        assert_hex(out.data + 18, "26aca2da2078f552797282c9aa9cf67d935233aad8");
        vmess_body_wipe(&w);
        evp_buf_free(&out);
    }
}
END_TEST

START_TEST(body_auth_length_response_quirk)
{
    /* §8.4: the response's length AEAD keeps the REQUEST key/IV. With the AEAD respKey/respIV
     * (#17) as payload key/IV, chunk 0's length field (S = 21) is still #29, and the payload
     * is sealed under respKey, so it differs from #25's Seal. */
    vmess_body_params p = params(VMESS_SEC_GCM, 0x11, 0);
    unhex("36db1adc807ac50e4c85bd86a174b4aa", p.key);
    unhex("fc2e2c73072bfa2bda03ff9307472deb", p.iv);
    vmess_body w, r;
    evp_buf out = {0}, plain = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, (const uint8_t *)"hello", 5, &out);
    ck_assert_uint_eq(out.len, 18 + 21);
    assert_hex(out.data, "d95e4202561d5b5ac7ee9c1c79c971efcfe7");
    uint8_t req_seal[21];
    unhex("26aca2da2078f552797282c9aa9cf67d935233aad8", req_seal);
    ck_assert(memcmp(out.data + 18, req_seal, 21) != 0);
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, out.data, out.len, 1, &plain), EVP_OK);
    ck_assert_uint_eq(plain.len, 5);
    ck_assert_mem_eq(plain.data, "hello", 5);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&out);
    evp_buf_free(&plain);
}
END_TEST

/* ---- body: round trips ---- */

static const struct combo {
    uint8_t sec, opt;
} combos[] = {
    {0, 0x01}, {1, 0x01}, {1, 0x05}, {1, 0x0D}, {1, 0x00}, {1, 0x04}, {3, 0x01}, {3, 0x05},
    {3, 0x0D}, {3, 0x1D}, {3, 0x11}, {3, 0x15}, {3, 0x00}, {4, 0x01}, {4, 0x05}, {4, 0x0D},
    {4, 0x1D}, {4, 0x11}, {4, 0x15}, {5, 0x01}, {5, 0x05}, {5, 0x0D}, {5, 0x00},
};
#define N_COMBOS (sizeof combos / sizeof combos[0])

static int is_raw(const struct combo *c)
{
    return (c->sec == 0 || c->sec == 1 || c->sec == 5) && !(c->opt & 0x01);
}

START_TEST(body_roundtrip_tcp)
{
    const struct combo *c = &combos[_i];
    vmess_body_params p = params(c->sec, c->opt, 0);
    static uint8_t data[32000];
    fill_random(data, sizeof data);
    static const size_t pieces[] = {0, 1, 5, 1966, 1967, 2030, 4096, 8192, 8193, 3450};
    vmess_body w;
    evp_buf wire = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    size_t off = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        ck_assert_uint_le(off + pieces[i], sizeof data);
        seal_all(&w, data + off, pieces[i], &wire);
        off += pieces[i];
    }
    size_t wire_data = wire.len;
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
    if (is_raw(c))
        ck_assert_uint_eq(wire.len, wire_data); /* no marker: the end is a TCP close */
    else
        ck_assert_uint_gt(wire.len, wire_data);
    /* Nothing may be written after the marker. */
    size_t used;
    ck_assert_int_eq(vmess_body_seal(&w, H(), data, 1, &used, &wire), EVP_ERR);

    static const size_t feeds[] = {1, 2, 3, 17, 2048, 100000};
    for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
        vmess_body r;
        evp_buf plain = {0};
        ck_assert_int_eq(vmess_body_init(&r, &p), 0);
        int rc = feed(&r, wire.data, wire.len, feeds[f], &plain);
        ck_assert_int_eq(rc, is_raw(c) ? EVP_OK : EVP_EOF);
        ck_assert_uint_eq(plain.len, off);
        ck_assert_mem_eq(plain.data, data, off);
        ck_assert(vmess_body_at_boundary(&r));
        if (!is_raw(c)) {
            /* After the marker, input is swallowed and EOF repeats. */
            size_t u = 0;
            ck_assert_int_eq(vmess_body_open(&r, H(), data, 10, &u, &plain), EVP_EOF);
            ck_assert_uint_eq(u, 10);
            ck_assert_uint_eq(plain.len, off);
        }
        vmess_body_wipe(&r);
        evp_buf_free(&plain);
    }
    vmess_body_wipe(&w);
    evp_buf_free(&wire);
}
END_TEST

/* Payload bytes a packet chunk can carry: 2048 − Overhead − LenField − 64 if padding (§8.5). */
static size_t udp_max(const struct combo *c)
{
    size_t overhead = c->sec == 3 || c->sec == 4 ? 16 : c->sec == 5 ? 0 : 4;
    size_t lenfield = (c->sec == 3 || c->sec == 4) && (c->opt & 0x10) ? 18 : 2;
    return 2048 - overhead - lenfield - ((c->opt & 0x08) ? 64 : 0);
}

static void put_record(evp_buf *b, const uint8_t *d, size_t n)
{
    uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    ck_assert_int_eq(evp_buf_append(b, hdr, 2), 0);
    if (n)
        ck_assert_int_eq(evp_buf_append(b, d, n), 0);
}

/* No ChunkStream (zero, and legacy with or without masking): datagrams go out unframed, as
 * V2Ray sends them, and the reader hands on what arrived as records of at most 2048 bytes. */
static void udp_raw_roundtrip(const struct combo *c)
{
    vmess_body_params p = params(c->sec, c->opt, 1);
    vmess_body w, r;
    evp_buf recs = {0}, wire = {0}, plain = {0};
    put_record(&recs, (const uint8_t *)"abc", 3);
    put_record(&recs, NULL, 0);
    put_record(&recs, (const uint8_t *)"de", 2);
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, recs.data, recs.len, &wire);
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
    ck_assert_uint_eq(wire.len, 5);
    if (c->sec == VMESS_SEC_NONE)
        ck_assert_mem_eq(wire.data, "abcde", 5);
    else
        ck_assert(memcmp(wire.data, "abcde", 5) != 0);
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, wire.data, wire.len, 100, &plain), EVP_OK);
    ck_assert_uint_eq(plain.len, 7);
    ck_assert_mem_eq(plain.data, "\x00\x05\x61\x62\x63\x64\x65", 7);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&recs);
    evp_buf_free(&wire);
    evp_buf_free(&plain);
}

START_TEST(body_roundtrip_udp)
{
    const struct combo *c = &combos[_i];
    if (is_raw(c)) {
        udp_raw_roundtrip(c); /* no datagram boundaries without ChunkStream */
        return;
    }
    vmess_body_params p = params(c->sec, c->opt, 1);
    size_t max = udp_max(c);
    const size_t sizes[] = {1, 100, 0, max, max + 1, 1400, 0, 2, 65535, 7};
    static uint8_t data[65535];
    fill_random(data, sizeof data);
    evp_buf recs = {0}, want = {0}, wire = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        put_record(&recs, data, sizes[i]);
        if (sizes[i] != 0 && sizes[i] <= max) /* empty: skipped; too big: dropped */
            put_record(&want, data, sizes[i]);
    }
    vmess_body w;
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    /* Half a record stays unconsumed until the rest arrives. */
    size_t used = 0, cut = 2 + 1 + 2 + 50;
    ck_assert_int_eq(vmess_body_seal(&w, H(), recs.data, cut, &used, &wire), EVP_OK);
    ck_assert_uint_eq(used, 3);
    size_t used2 = 0;
    ck_assert_int_eq(vmess_body_seal(&w, H(), recs.data + used, recs.len - used, &used2, &wire),
                     EVP_OK);
    ck_assert_uint_eq(used + used2, recs.len);
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);

    static const size_t feeds[] = {1, 7, 100000};
    for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
        vmess_body r;
        evp_buf plain = {0};
        ck_assert_int_eq(vmess_body_init(&r, &p), 0);
        ck_assert_int_eq(feed(&r, wire.data, wire.len, feeds[f], &plain), EVP_EOF);
        ck_assert_uint_eq(plain.len, want.len);
        ck_assert_mem_eq(plain.data, want.data, want.len);
        vmess_body_wipe(&r);
        evp_buf_free(&plain);
    }
    vmess_body_wipe(&w);
    evp_buf_free(&recs);
    evp_buf_free(&want);
    evp_buf_free(&wire);
}
END_TEST


START_TEST(body_legacy_continues_cfb)
{
    /* The legacy response header and body share one CFB stream (§7): a body started on a
     * stream that already carried 4 header bytes must produce exactly what one fresh
     * stream over header ‖ plain chunks produces. */
    vmess_body_params p = params(VMESS_SEC_LEGACY, 0x01, 0);
    uint8_t hdr[4] = {0x5a, 0, 0, 0};
    vmess_cfb wc;
    vmess_cfb_init(&wc, p.key, p.iv);
    vmess_cfb_encrypt(&wc, hdr, 4);
    p.cfb = &wc;
    vmess_body w;
    evp_buf wire = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    vmess_cfb_wipe(&wc); /* the body keeps its own copy */
    seal_all(&w, (const uint8_t *)"hello", 5, &wire);
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
    ck_assert_uint_eq(wire.len, 11 + 6);

    /* Whole stream under one fresh CFB: 5a000000 ‖ 0009 ‖ FNV(hello) ‖ hello ‖ 0004 ‖ FNV(). */
    uint8_t all[4 + 17];
    memcpy(all, hdr, 4);
    memcpy(all + 4, wire.data, wire.len);
    vmess_cfb c;
    vmess_cfb_init(&c, p.key, p.iv);
    vmess_cfb_decrypt(&c, all, sizeof all);
    assert_hex(all, "5a00000000094f9f2cab68656c6c6f0004811c9dc5");

    /* A reader continuing a stream that decrypted the header. */
    vmess_cfb rc;
    memcpy(all, hdr, 4);
    vmess_cfb_init(&rc, p.key, p.iv);
    vmess_cfb_decrypt(&rc, all, 4);
    ck_assert_mem_eq(all, "\x5a\0\0\0", 4);
    p.cfb = &rc;
    vmess_body r;
    evp_buf plain = {0};
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, wire.data, wire.len, 1, &plain), EVP_EOF);
    ck_assert_uint_eq(plain.len, 5);
    ck_assert_mem_eq(plain.data, "hello", 5);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&wire);
    evp_buf_free(&plain);
}
END_TEST

/* ---- body: the reader's limits ---- */

START_TEST(body_reader_accepts_max_chunk)
{
    /* A peer may send S up to 65535: build one by hand with Nettle's GCM. */
    enum { N = 65535 - 16 };
    static uint8_t chunk[2 + 65535], data[N];
    fill_random(data, sizeof data);
    uint8_t key[16], iv[16], nonce[12];
    spec_key_iv(key, iv);
    nonce[0] = nonce[1] = 0;
    memcpy(nonce + 2, iv + 2, 10);
    struct gcm_aes128_ctx g;
    gcm_aes128_set_key(&g, key);
    gcm_aes128_set_iv(&g, 12, nonce);
    gcm_aes128_encrypt(&g, N, chunk + 2, data);
    gcm_aes128_digest(&g, 16, chunk + 2 + N);
    chunk[0] = chunk[1] = 0xff;
    for (int udp = 0; udp <= 1; udp++) {
        vmess_body_params p = params(VMESS_SEC_GCM, 0x01, udp);
        vmess_body r;
        evp_buf plain = {0};
        ck_assert_int_eq(vmess_body_init(&r, &p), 0);
        ck_assert_int_eq(feed(&r, chunk, sizeof chunk, 4000, &plain), EVP_OK);
        ck_assert_uint_eq(plain.len, N + (udp ? 2 : 0));
        if (udp)
            ck_assert_uint_eq(be16(plain.data), N);
        ck_assert_mem_eq(plain.data + (udp ? 2 : 0), data, N);
        vmess_body_wipe(&r);
        evp_buf_free(&plain);
    }
}
END_TEST

START_TEST(body_reader_rejects_short_chunk)
{
    /* S smaller than the tag (+ padding) is neither data nor the end marker. */
    uint8_t wire[2 + 16] = {0x00, 0x05};
    vmess_body_params p = params(VMESS_SEC_GCM, 0x01, 0);
    vmess_body r;
    evp_buf plain = {0};
    size_t used;
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(vmess_body_open(&r, H(), wire, sizeof wire, &used, &plain), EVP_ERR);
    ck_assert_ptr_nonnull(r.why);
    /* Failure is sticky. */
    ck_assert_int_eq(vmess_body_open(&r, H(), wire, sizeof wire, &used, &plain), EVP_ERR);
    vmess_body_wipe(&r);

    /* legacy: S = 3 < 4 checksum bytes, inside the CFB stream. */
    p = params(VMESS_SEC_LEGACY, 0x01, 0);
    vmess_cfb c;
    uint8_t lw[6] = {0x00, 0x03, 0, 0, 0, 0};
    vmess_cfb_init(&c, p.key, p.iv);
    vmess_cfb_encrypt(&c, lw, sizeof lw);
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(vmess_body_open(&r, H(), lw, sizeof lw, &used, &plain), EVP_ERR);
    ck_assert_uint_eq(plain.len, 0);
    vmess_body_wipe(&r);
    evp_buf_free(&plain);
}
END_TEST

START_TEST(body_tamper)
{
    static const struct combo tc[] = {
        {3, 0x01}, {3, 0x0D}, {3, 0x1D}, {4, 0x01}, {4, 0x0D}, {4, 0x1D}, {1, 0x01}, {1, 0x0D},
    };
    const char *msg = "hello, tampering world";
    size_t mlen = strlen(msg);
    for (size_t k = 0; k < sizeof tc / sizeof tc[0]; k++) {
        vmess_body_params p = params(tc[k].sec, tc[k].opt, 0);
        vmess_body w;
        evp_buf wire = {0};
        ck_assert_int_eq(vmess_body_init(&w, &p), 0);
        seal_all(&w, (const uint8_t *)msg, mlen, &wire);
        size_t first = wire.len; /* the first chunk, padding included */
        ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
        size_t lenfield = (tc[k].opt & 0x10) ? 18 : 2;
        size_t overhead = tc[k].sec == 1 ? 4 : 16;
        size_t sealed_end = lenfield + overhead + mlen; /* padding is not authenticated */
        for (size_t i = 0; i < sealed_end; i++) {
            vmess_body r;
            evp_buf plain = {0};
            size_t used = 0;
            wire.data[i] ^= 0x20;
            ck_assert_int_eq(vmess_body_init(&r, &p), 0);
            int rc = vmess_body_open(&r, H(), wire.data, wire.len, &used, &plain);
            if (i >= lenfield || lenfield == 18) {
                ck_assert_int_eq(rc, EVP_ERR);
                ck_assert_uint_eq(plain.len, 0);
                if (tc[k].sec != 1) /* an AEAD's wrong tag says which field failed */
                    ck_assert_str_eq(r.why, i < lenfield ? "chunk length failed authentication"
                                                         : "chunk failed authentication");
            } else {
                /* A plain length is not authenticated: the reader may wait for more bytes
                 * or fail, but never yields the message. */
                ck_assert(rc == EVP_ERR || (rc == EVP_OK && plain.len == 0) ||
                          (rc == EVP_EOF && plain.len == 0));
            }
            wire.data[i] ^= 0x20;
            vmess_body_wipe(&r);
            evp_buf_free(&plain);
        }
        ck_assert_uint_le(sealed_end, first);
        vmess_body_wipe(&w);
        evp_buf_free(&wire);
    }
}
END_TEST

/* Opens wire (a 3-byte record, or those 5 bytes of TCP stream, then the end marker) fed `piece` bytes at a time: the
 * message must come out whatever happens to the end marker. Returns the last status. */
static int open_end(const vmess_body_params *p, const evp_buf *wire, size_t piece)
{
    vmess_body r;
    evp_buf plain = {0};
    ck_assert_int_eq(vmess_body_init(&r, p), 0);
    int rc = feed(&r, wire->data, wire->len, piece, &plain);
    ck_assert_uint_eq(plain.len, 5);
    ck_assert_mem_eq(plain.data, "\x00\x03msg", 5);
    vmess_body_wipe(&r);
    evp_buf_free(&plain);
    return rc;
}

/* The end-of-stream chunk is authenticated like any other: a forged tag (or FNV checksum)
 * in it is an error, not a clean end; the real one is EOF, for every security with a tag or
 * checksum, stream and packet mode, with and without AuthenticatedLength. */
START_TEST(body_forged_end)
{
    static const struct combo tc[] = {
        {3, 0x01}, {3, 0x0D}, {3, 0x1D}, {3, 0x00}, {4, 0x01}, {4, 0x0D},
        {4, 0x15}, {1, 0x01}, {1, 0x05}, {1, 0x0D}, {0, 0x01},
    };
    for (size_t k = 0; k < sizeof tc / sizeof tc[0]; k++) {
        for (int udp = 0; udp <= 1; udp++) {
            vmess_body_params p = params(tc[k].sec, tc[k].opt, udp);
            vmess_body w;
            evp_buf wire = {0};
            ck_assert_int_eq(vmess_body_init(&w, &p), 0);
            seal_all(&w, (const uint8_t *)"\x00\x03msg", 5, &wire);
            size_t end = wire.len;
            ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
            size_t lenfield = (tc[k].opt & 0x10) ? 18 : 2;
            size_t tag = tc[k].sec <= 1 ? 4 : 16;
            ck_assert_uint_ge(wire.len, end + lenfield + tag);
            for (size_t i = end + lenfield; i < end + lenfield + tag; i++) {
                wire.data[i] ^= 0x01;
                ck_assert_msg(open_end(&p, &wire, 100000) == EVP_ERR,
                              "sec %u opt 0x%02x udp %d: forged byte %zu accepted", tc[k].sec,
                              tc[k].opt, udp, i);
                wire.data[i] ^= 0x01;
            }
            ck_assert_int_eq(open_end(&p, &wire, 1), EVP_EOF);
            /* The end's length alone is no end yet: its tag has not been checked. */
            vmess_body r;
            evp_buf plain = {0};
            ck_assert_int_eq(vmess_body_init(&r, &p), 0);
            ck_assert_int_eq(feed(&r, wire.data, end + lenfield + tag - 1, 7, &plain), EVP_OK);
            ck_assert(!vmess_body_at_boundary(&r));
            vmess_body_wipe_pair(&r, &w);
            evp_buf_free(&plain);
            evp_buf_free(&wire);
        }
    }
}
END_TEST

START_TEST(body_nonce_wraps)
{
    /* The chunk counter is 16 bits: chunk 65536 reuses chunk 0's nonce (§8.1). */
    vmess_body_params p = params(VMESS_SEC_GCM, 0x01, 0);
    vmess_body w, r;
    evp_buf wire = {0}, plain = {0};
    enum { CH = 2 + 16 + 1, N = 65538 };
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    for (int i = 0; i < N; i++)
        seal_all(&w, (const uint8_t *)"x", 1, &wire);
    ck_assert_uint_eq(wire.len, (size_t)N * CH);
    ck_assert_mem_eq(wire.data + 65536 * CH, wire.data, CH);
    ck_assert_mem_eq(wire.data + 65537 * CH, wire.data + CH, CH);
    ck_assert(memcmp(wire.data, wire.data + CH, CH) != 0);
    ck_assert_int_eq(vmess_body_seal_eof(&w, H(), &wire), EVP_OK);
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert_int_eq(feed(&r, wire.data, wire.len, 1 << 20, &plain), EVP_EOF);
    ck_assert_uint_eq(plain.len, N);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&wire);
    evp_buf_free(&plain);
}
END_TEST

START_TEST(body_init_rejects)
{
    vmess_body b;
    vmess_body_params p = params(VMESS_SEC_AUTO, 0x01, 0);
    ck_assert_int_eq(vmess_body_init(&b, &p), -1);
    p = params(6, 0x01, 0);
    ck_assert_int_eq(vmess_body_init(&b, &p), -1);
    p = params(15, 0x01, 0);
    ck_assert_int_eq(vmess_body_init(&b, &p), -1);
    p = params(VMESS_SEC_GCM, 0x09, 0); /* padding without masking (crashes V2Ray 4.34) */
    ck_assert_int_eq(vmess_body_init(&b, &p), -1);
    p = params(VMESS_SEC_GCM, 0x0D, 0);
    ck_assert_int_eq(vmess_body_init(&b, &p), 0);
}
END_TEST

START_TEST(body_boundary)
{
    /* After a LenField alone, a chunk is half read; after the whole chunk it is not. */
    vmess_body_params p = params(VMESS_SEC_GCM, 0x05, 0);
    vmess_body w, r;
    evp_buf wire = {0}, plain = {0};
    size_t used;
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    seal_all(&w, (const uint8_t *)"abc", 3, &wire);
    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    ck_assert(vmess_body_at_boundary(&r));
    ck_assert_int_eq(vmess_body_open(&r, H(), wire.data, 1, &used, &plain), EVP_OK);
    ck_assert_uint_eq(used, 0);
    ck_assert(vmess_body_at_boundary(&r));
    ck_assert_int_eq(vmess_body_open(&r, H(), wire.data, 5, &used, &plain), EVP_OK);
    ck_assert_uint_eq(used, 2);
    ck_assert(!vmess_body_at_boundary(&r));
    ck_assert_int_eq(vmess_body_open(&r, H(), wire.data + 2, wire.len - 2, &used, &plain), EVP_OK);
    ck_assert_uint_eq(used, wire.len - 2);
    ck_assert(vmess_body_at_boundary(&r));
    ck_assert_uint_eq(plain.len, 3);
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&wire);
    evp_buf_free(&plain);
}
END_TEST

Suite *vmess_body_suite(void)
{
    Suite *s = suite_create("vmess_body");
    TCase *t = tcase_create("primitives");
    tcase_add_test(t, fnv1a_vectors);
    tcase_add_test(t, shake_spec_vectors);
    tcase_add_test(t, shake_python_vectors);
    tcase_add_test(t, shake_split_reads);
    tcase_add_test(t, cfb_spec_vectors);
    tcase_add_test(t, cfb_matches_nettle);
    suite_add_tcase(s, t);

    t = tcase_create("body");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, body_vector_gcm_masked_padded);
    tcase_add_test(t, body_vector_chacha);
    tcase_add_test(t, body_vector_auth_length);
    tcase_add_test(t, body_auth_length_response_quirk);
    tcase_add_loop_test(t, body_roundtrip_tcp, 0, (int)N_COMBOS);
    tcase_add_loop_test(t, body_roundtrip_udp, 0, (int)N_COMBOS);
    tcase_add_test(t, body_legacy_continues_cfb);
    tcase_add_test(t, body_reader_accepts_max_chunk);
    tcase_add_test(t, body_reader_rejects_short_chunk);
    tcase_add_test(t, body_tamper);
    tcase_add_test(t, body_forged_end);
    tcase_add_test(t, body_nonce_wraps);
    tcase_add_test(t, body_init_rejects);
    tcase_add_test(t, body_boundary);
    suite_add_tcase(s, t);
    return s;
}
