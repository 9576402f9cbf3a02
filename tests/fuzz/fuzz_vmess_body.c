/* Fuzz target: the VMess body reader (plugin/vmess/body.c vmess_body_open) for every
 * security nibble and option byte, with fixed keys. Input:
 *   byte 0  security nibble (bits 0-2: 0..7, invalid ones must be refused by init),
 *           bit 3 UDP, bit 4 "sealed": the rest is plaintext sealed by a writer with the
 *           same parameters, which the reader must give back intact (TCP); otherwise the
 *           rest is read as chunks as it is;
 *   byte 1  the option byte;
 *   byte 2  where the chunk stream is split;
 * and the stream is read whole and split (the reader going idle, its ciphers dropped, at the
 * split): both must agree. */
#include "fuzz_vmess_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

/* Reads in[0..len) with a fresh reader, in two pieces split at cut, then end of input. */
static void read_all(const vmess_body_params *bp, const uint8_t *in, size_t len, size_t cut,
                     fuzz_run *r)
{
    vmess_body b;
    evp_buf rbuf = {0};
    memset(r, 0, sizeof(*r));
    if (vmess_body_init(&b, bp) != 0)
        abort();
    for (int step = 0; step < 2 && r->status == EVP_OK; step++) {
        if (step == 0)
            fuzz_buf_put(&rbuf, in, cut);
        else if (len > cut)
            fuzz_buf_put(&rbuf, in + cut, len - cut);
        for (;;) {
            size_t used = 0;
            size_t before = r->out.len;
            r->status = vmess_body_open(&b, fuzz_host_get(), rbuf.data, rbuf.len, &used, &r->out);
            if (used > rbuf.len || r->out.len > r->out.cap || r->out.len < before)
                abort();
            if (r->status == EVP_ERR && b.why == NULL)
                abort(); /* every failure says why */
            fuzz_buf_consume(&rbuf, used);
            if (r->status != EVP_OK || used == 0)
                break;
        }
        vmess_body_idle(&b); /* a quiet spell: the next piece rebuilds the ciphers */
    }
    r->targets = r->status == EVP_OK && rbuf.len == 0 && vmess_body_at_boundary(&b);
    /* Once failed, a reader stays failed; once ended, it swallows what follows. */
    if (r->status != EVP_OK) {
        size_t used = 0, before = r->out.len;
        static const uint8_t more[4] = {0, 4, 1, 2};
        if (vmess_body_open(&b, fuzz_host_get(), more, sizeof(more), &used, &r->out) != r->status ||
            r->out.len != before)
            abort();
    }
    vmess_body_wipe(&b);
    fuzz_buf_free(&rbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t sec = data[0] & 7, opt = data[1];
    int udp = (data[0] & 8) != 0, sealed = (data[0] & 0x10) != 0;
    const uint8_t *p = data + 3;
    size_t n = size - 3;
    fuzz_host_reset();

    vmess_body_params bp;
    fuzz_body_params(&bp, sec, opt, udp);
    vmess_body w;
    int ok = vmess_body_init(&w, &bp) == 0;
    /* V2Ray refuses auto (2), unknown nibbles (> 5) and GlobalPadding without masking. */
    int valid = sec != 2 && sec <= 5 && !((opt & 0x08) && !(opt & 0x04));
    if (ok != valid)
        abort();
    if (!ok)
        return 0;

    evp_buf stream = {0};
    size_t plain_len = n;
    if (sealed) {
        if (vmess_body_seal(&w, fuzz_host_get(), p, n, &plain_len, &stream) != EVP_OK ||
            vmess_body_seal_eof(&w, fuzz_host_get(), &stream) != EVP_OK)
            abort();
        if (plain_len > n)
            abort();
    } else {
        fuzz_buf_put(&stream, p, n);
    }
    vmess_body_wipe(&w);

    size_t cut = stream.len ? (size_t)data[2] * stream.len / 255 : 0;
    fuzz_run whole, split;
    read_all(&bp, stream.data, stream.len, stream.len, &whole);
    read_all(&bp, stream.data, stream.len, cut, &split);
    if (udp) { /* compare the datagrams' payloads (see fuzz_unframe) */
        fuzz_unframe(&whole.out);
        fuzz_unframe(&split.out);
    }
    fuzz_same_runs(&whole, &split, 0);
    if (sealed && !udp) {
        /* Our own writer's stream must open to exactly its plaintext. */
        if (whole.status == EVP_ERR || whole.out.len != plain_len ||
            (plain_len && memcmp(whole.out.data, p, plain_len) != 0))
            abort();
        if ((opt & 0x01) && whole.status != EVP_EOF)
            abort(); /* ChunkStream ends with its marker */
    }
    fuzz_run_free(&whole);
    fuzz_run_free(&split);
    fuzz_buf_free(&stream);
    return 0;
}
