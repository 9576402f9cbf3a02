/* The body codec's costs: a body that went idle (expanded ciphers dropped) and resumed
 * continues its stream byte for byte, for every security and option; one seal or open call
 * makes one buffer reservation however many chunks it carries; padding draws no system
 * randomness. Hosts here are copies of the test host with one service counted. */
#include <check.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <string.h>

#include "../plugin/vmess/body.h"
#include "../plugin/vmess/nonkey_random.h"
#include "buf.h"
#include "test_host.h"

static vmess_body_params params(uint8_t sec, uint8_t opt, int udp)
{
    vmess_body_params p;
    memset(&p, 0, sizeof p);
    p.security = sec;
    p.option = opt;
    p.udp = (uint8_t)udp;
    randombytes_buf(p.key, sizeof p.key);
    randombytes_buf(p.iv, sizeof p.iv);
    randombytes_buf(p.len_key, sizeof p.len_key);
    memcpy(p.len_iv, p.iv, 16);
    return p;
}

/* Test-side input buffers use the core's (buf.h); what the codec writes uses the host's. */
static void append(evp_buf *b, const uint8_t *p, size_t n)
{
    ck_assert_int_eq(evp_buf_append(b, p, n), 0);
}

/* Calls to the counted services of host_counting(). */
static unsigned reserve_calls, random_calls;

static uint8_t *counting_reserve(evp_buf *b, size_t n)
{
    reserve_calls++;
    return test_host_buf_reserve(b, n);
}

static void counting_random(void *buf, size_t len)
{
    random_calls++;
    randombytes_buf(buf, len);
}

/* The test host with buf_reserve and random_bytes counted (static: a body may keep it). */
static const evp_host *host_counting(void)
{
    static evp_host h;
    h = *test_host_get();
    h.buf_reserve = counting_reserve;
    h.random_bytes = counting_random;
    return &h;
}

/* ---- idle and resume ---- */

static const struct combo {
    uint8_t sec, opt;
} combos[] = {
    {1, 0x01}, {1, 0x0D}, {1, 0x00}, {3, 0x01}, {3, 0x0D}, {3, 0x1D}, {3, 0x11},
    {4, 0x01}, {4, 0x0D}, {4, 0x1D}, {4, 0x11}, {5, 0x01}, {5, 0x0D}, {5, 0x00},
};
#define N_COMBOS (sizeof combos / sizeof combos[0])

/* What a body of this combo holds in the plugin's counter while active: GCM's GnuTLS
 * handles (GnuTLS allocates their contexts outside the counter), or the CFB stream. */
static size_t expected_hot(const struct combo *c)
{
    if (c->sec == VMESS_SEC_GCM)
        return ((c->opt & 0x10) ? 2 : 1) * sizeof(gnutls_aead_cipher_hd_t);
    return c->sec == VMESS_SEC_LEGACY ? sizeof(vmess_cfb) : 0;
}

static void assert_hot(const vmess_body *b, const struct combo *c)
{
    ck_assert_uint_eq(vmess_body_hot_size(b), expected_hot(c));
    ck_assert_int_eq(b->hot != NULL, expected_hot(c) > 0);
}

/* Seals data in uneven pieces, the writer going idle before each; then feeds the wire to a
 * reader in pieces of `feed` bytes, the reader going idle after each (so mid-chunk and
 * mid-CFB-block too). Returns the wire; the reader's plaintext must be data. */
static void idle_round_trip(const struct combo *c, int udp, size_t feed, evp_buf *wire)
{
    const evp_host *h = test_host_get();
    vmess_body_params p = params(c->sec, c->opt, udp);
    static uint8_t data[40000];
    randombytes_buf(data, sizeof data);
    evp_buf in = {0}, plain = {0}, pend = {0};
    static const size_t pieces[] = {1, 700, 1967, 5000, 3, 8193, 2048, 12000};
    size_t off = 0;
    vmess_body w, r;
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    ck_assert_ptr_null(w.hot); /* nothing expanded before the first byte */
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t n = udp ? 1000 : pieces[i];
        in.len = 0;
        if (udp) {
            uint8_t hdr[2] = {(uint8_t)(n >> 8), (uint8_t)n};
            append(&in, hdr, 2);
        }
        append(&in, data + off, n);
        off += n;
        vmess_body_idle(&w);
        ck_assert_ptr_null(w.hot);
        size_t used = 0;
        ck_assert_int_eq(vmess_body_seal(&w, h, in.data, in.len, &used, wire), EVP_OK);
        ck_assert_uint_eq(used, in.len);
        assert_hot(&w, c);
    }
    vmess_body_idle(&w);
    ck_assert_int_eq(vmess_body_seal_eof(&w, h, wire), EVP_OK);

    ck_assert_int_eq(vmess_body_init(&r, &p), 0);
    int rc = EVP_OK;
    for (size_t at = 0; at < wire->len && rc == EVP_OK;) {
        size_t n = wire->len - at < feed ? wire->len - at : feed;
        append(&pend, wire->data + at, n);
        at += n;
        size_t used = 0;
        rc = vmess_body_open(&r, h, pend.data, pend.len, &used, &plain);
        evp_buf_consume(&pend, used);
        vmess_body_idle(&r);
        ck_assert_ptr_null(r.hot);
    }
    int raw = !(c->opt & 0x01) && c->sec != VMESS_SEC_GCM && c->sec != VMESS_SEC_CHACHA;
    ck_assert_int_eq(rc, raw ? EVP_OK : EVP_EOF);
    if (udp) {
        /* Records of 1000 bytes: strip their headers to compare. */
        ck_assert_uint_eq(plain.len, off / 1000 * 1002);
        for (size_t i = 0; i < off / 1000; i++)
            ck_assert_mem_eq(plain.data + i * 1002 + 2, data + i * 1000, 1000);
    } else {
        ck_assert_uint_eq(plain.len, off);
        ck_assert_mem_eq(plain.data, data, off);
    }
    vmess_body_wipe_pair(&w, &r);
    evp_buf_free(&in);
    test_buf_free(&plain);
    evp_buf_free(&pend);
}

START_TEST(idle_and_resume_keep_the_stream)
{
    const struct combo *c = &combos[_i];
    static const size_t feeds[] = {7, 1000, 100000};
    for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
        evp_buf wire = {0};
        idle_round_trip(c, 0, feeds[f], &wire);
        test_buf_free(&wire);
    }
    /* Without padding the wire is deterministic: idling must not change a byte of it. */
    if (!(c->opt & 0x08)) {
        vmess_body_params p = params(c->sec, c->opt, 0);
        vmess_body a, b;
        evp_buf wa = {0}, wb = {0};
        ck_assert_int_eq(vmess_body_init(&a, &p), 0);
        ck_assert_int_eq(vmess_body_init(&b, &p), 0);
        uint8_t d[3000];
        randombytes_buf(d, sizeof d);
        for (int i = 0; i < 5; i++) {
            size_t u;
            ck_assert_int_eq(vmess_body_seal(&a, test_host_get(), d, 1001, &u, &wa), EVP_OK);
            vmess_body_idle(&b);
            ck_assert_int_eq(vmess_body_seal(&b, test_host_get(), d, 1001, &u, &wb), EVP_OK);
        }
        ck_assert_uint_eq(wa.len, wb.len);
        ck_assert_mem_eq(wa.data, wb.data, wa.len);
        vmess_body_wipe_pair(&a, &b);
        test_buf_free(&wa);
        test_buf_free(&wb);
    }
}
END_TEST

START_TEST(idle_and_resume_keep_packets)
{
    const struct combo *c = &combos[_i];
    if (!(c->opt & 0x01) && c->sec != VMESS_SEC_GCM && c->sec != VMESS_SEC_CHACHA)
        return; /* unframed UDP has no datagram boundaries to compare */
    evp_buf wire = {0};
    idle_round_trip(c, 1, 13, &wire);
    test_buf_free(&wire);
}
END_TEST

/* ---- one reservation per call ---- */

START_TEST(one_reservation_per_call)
{
    const evp_host *h = host_counting();
    static uint8_t data[256 * 1024];
    randombytes_buf(data, sizeof data);
    for (int udp = 0; udp <= 1; udp++) {
        vmess_body_params p = params(VMESS_SEC_GCM, 0x1D, udp);
        vmess_body w, r;
        evp_buf in = {0}, wire = {0}, plain = {0};
        if (udp) { /* 200 datagrams of 1000 bytes */
            for (size_t i = 0; i < 200; i++) {
                uint8_t hdr[2] = {1000 >> 8, 1000 & 0xff};
                append(&in, hdr, 2);
                append(&in, data + i * 1000, 1000);
            }
        } else {
            append(&in, data, sizeof data);
        }
        ck_assert_int_eq(vmess_body_init(&w, &p), 0);
        ck_assert_int_eq(vmess_body_init(&r, &p), 0);
        size_t used = 0;
        reserve_calls = 0;
        ck_assert_int_eq(vmess_body_seal(&w, h, in.data, in.len, &used, &wire), EVP_OK);
        ck_assert_uint_eq(used, in.len);
        ck_assert_msg(reserve_calls == 1, "seal (udp %d) reserved %u times", udp, reserve_calls);
        /* Many chunks, and all of them: each adds a LenField and tag (18 + 16), less the
         * record header (2) for a datagram; a stream chunk carries 16286 bytes at most. */
        size_t min_extra = udp ? 200 * (18 + 16 - 2) : (sizeof data + 16285) / 16286 * (18 + 16);
        ck_assert_uint_ge(wire.len, in.len + min_extra);
        reserve_calls = 0;
        ck_assert_int_eq(vmess_body_open(&r, h, wire.data, wire.len, &used, &plain), EVP_OK);
        ck_assert_uint_eq(used, wire.len);
        ck_assert_msg(reserve_calls == 1, "open (udp %d) reserved %u times", udp, reserve_calls);
        ck_assert_uint_eq(plain.len, in.len);
        ck_assert_mem_eq(plain.data, in.data, in.len);
        vmess_body_wipe_pair(&w, &r);
        evp_buf_free(&in);
        test_buf_free(&wire);
        test_buf_free(&plain);
    }
}
END_TEST

/* ---- randomness ---- */

START_TEST(padding_draws_no_system_randomness)
{
    const evp_host *h = host_counting();
    vmess_body_params p = params(VMESS_SEC_GCM, 0x0D, 0);
    static uint8_t data[64 * 1024];
    vmess_body w;
    evp_buf wire = {0};
    ck_assert_int_eq(vmess_body_init(&w, &p), 0);
    random_calls = 0;
    for (int i = 0; i < 4; i++) {
        size_t used;
        ck_assert_int_eq(vmess_body_seal(&w, h, data, sizeof data, &used, &wire), EVP_OK);
    }
    ck_assert_int_eq(vmess_body_seal_eof(&w, h, &wire), EVP_OK);
    ck_assert_msg(random_calls == 0, "host random_bytes called %u times for 256 KiB",
                  random_calls);
    /* The padding is there all the same: each chunk (16302 payload bytes at most, §8.5 with
     * 16 KiB stream chunks) carries ~31 bytes of it on average. */
    size_t chunks = 4 * ((sizeof data + 16301) / 16302) + 1;
    ck_assert_uint_gt(wire.len, 4 * sizeof data + chunks * 18 + chunks * 10);
    vmess_body_wipe(&w);
    test_buf_free(&wire);
}
END_TEST

static void *draw_in_thread(void *out)
{
    vmess_nonkey_random(out, 64);
    return NULL;
}

START_TEST(nonkey_stream_differs_per_draw_and_thread)
{
    uint8_t a[64], b[64], t[64], zero[64] = {0};
    vmess_nonkey_random(a, sizeof a);
    vmess_nonkey_random(b, sizeof b);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, draw_in_thread, t), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert(memcmp(a, zero, sizeof a) != 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert(memcmp(a, t, sizeof a) != 0); /* each thread has its own key */
    ck_assert(memcmp(b, t, sizeof b) != 0);
    /* Many small draws across a refill still differ from each other. */
    uint8_t prev[40], cur[40];
    vmess_nonkey_random(prev, sizeof prev);
    for (int i = 0; i < 100; i++) {
        vmess_nonkey_random(cur, sizeof cur);
        ck_assert(memcmp(prev, cur, sizeof cur) != 0);
        memcpy(prev, cur, sizeof cur);
    }
}
END_TEST

Suite *vmess_body_idle_suite(void)
{
    Suite *s = suite_create("vmess_body_idle");
    TCase *t = tcase_create("idle");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, idle_and_resume_keep_the_stream, 0, (int)N_COMBOS);
    tcase_add_loop_test(t, idle_and_resume_keep_packets, 0, (int)N_COMBOS);
    tcase_add_test(t, one_reservation_per_call);
    tcase_add_test(t, padding_draws_no_system_randomness);
    tcase_add_test(t, nonkey_stream_differs_per_draw_and_thread);
    suite_add_tcase(s, t);
    return s;
}
