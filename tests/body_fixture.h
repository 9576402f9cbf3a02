/* Helpers shared by the body codec's suites (check_vmess_body*.c): the spec's §11 keys, a
 * writer that must take all its input, and a reader fed in pieces as the host feeds it.
 * Header-only, static inline. */
#ifndef BODY_FIXTURE_H
#define BODY_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../plugin/vmess/body.h"
#include "buf.h"
#include "host.h"

static inline size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static inline void assert_hex(const uint8_t *got, const char *want)
{
    uint8_t w[512];
    size_t n = unhex(want, w);
    ck_assert_mem_eq(got, w, n);
}

/* §11 inputs: reqIV = 10..1f, reqKey = 20..2f; #28 auth_len key. */
static inline void spec_key_iv(uint8_t key[16], uint8_t iv[16])
{
    for (int i = 0; i < 16; i++) {
        iv[i] = (uint8_t)(0x10 + i);
        key[i] = (uint8_t)(0x20 + i);
    }
}

static inline vmess_body_params params(uint8_t sec, uint8_t opt, int udp)
{
    vmess_body_params p;
    memset(&p, 0, sizeof p);
    p.security = sec;
    p.option = opt;
    p.udp = (uint8_t)udp;
    spec_key_iv(p.key, p.iv);
    unhex("b5aa9ae1cde5868ebebf49f8fc314664", p.len_key);
    memcpy(p.len_iv, p.iv, 16);
    return p;
}

/* Starts writer w on params(sec, opt, udp); returns them (a reader takes the same). */
static inline vmess_body_params start_writer(vmess_body *w, uint8_t sec, uint8_t opt, int udp)
{
    vmess_body_params p = params(sec, opt, udp);
    ck_assert_int_eq(vmess_body_init(w, &p), 0);
    return p;
}

/* Ends writer w and empties the wire it wrote, for the next case. */
static inline void writer_done(vmess_body *w, evp_buf *wire)
{
    vmess_body_wipe(w);
    wire->len = 0;
}

static inline const evp_host *H(void)
{
    return evp_host_services();
}

static inline void seal_all(vmess_body *b, const uint8_t *in, size_t len, evp_buf *out)
{
    size_t used = 0;
    ck_assert_int_eq(vmess_body_seal(b, H(), in, len, &used, out), EVP_OK);
    ck_assert_uint_eq(used, len);
}

/* Feeds wire to a reader `piece` bytes at a time, presenting unconsumed bytes again as the
 * host does. Returns the last status; plaintext goes to plain. */
static inline int feed(vmess_body *b, const uint8_t *wire, size_t len, size_t piece, evp_buf *plain)
{
    evp_buf pend = {0};
    size_t off = 0;
    int rc = EVP_OK;
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece;
        ck_assert_int_eq(evp_buf_append(&pend, wire + off, n), 0);
        off += n;
        size_t used = 0;
        rc = vmess_body_open(b, H(), pend.data, pend.len, &used, plain);
        ck_assert_uint_le(used, pend.len);
        evp_buf_consume(&pend, used);
        if (rc != EVP_OK)
            break;
    }
    evp_buf_free(&pend);
    return rc;
}

static inline void fill_random(uint8_t *p, size_t n)
{
    H()->random_bytes(p, n);
}

static inline uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

#endif
