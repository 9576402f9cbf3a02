/* Fuzz target: the sniffers (core/sniff/): the HTTP Host and TLS SNI sniffers, BitTorrent's,
 * and all of them together across two reads, on a client's first bytes. Input: byte 0 picks
 * where the first read ends (a prefix of the rest); the rest is the payload, of which the
 * sniffers see at most EVP_SNIFF_MAX bytes as the session gives them. Checked: a verdict is
 * one of the three, a domain found is NUL-terminated, as long as said and fits an address,
 * and TLS's answer on a whole record does not change when more bytes follow it. */
#include "sniff.h"

#include <stdlib.h>
#include <string.h>

typedef int (*sniff_fn)(const uint8_t *, size_t, evp_sniffed *);

static void check(int r, const evp_sniffed *f)
{
    if (r != EVP_SNIFF_FOUND && r != EVP_SNIFF_NO_CLUE && r != EVP_SNIFF_NOT)
        abort();
    if (r != EVP_SNIFF_FOUND)
        return;
    if (f->protocol == NULL || f->len >= sizeof f->domain || f->domain[f->len] != '\0' ||
        strlen(f->domain) != f->len)
        abort();
}

/* One sniffer on a private copy of exactly n bytes, so ASan sees any read past them. */
static int run(sniff_fn fn, const uint8_t *p, size_t n, evp_sniffed *f)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    int r = fn(copy, n, f);
    free(copy);
    check(r, f);
    return r;
}

static int together(const uint8_t *p, size_t n, evp_sniffed *f)
{
    evp_sniffer sn = {0};
    return evp_sniffer_run(&sn, p, n, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1 < EVP_SNIFF_MAX ? size - 1 : EVP_SNIFF_MAX;
    size_t first = n ? data[0] * n / 255 : 0;
    evp_sniffed f, g;
    run(evp_sniff_http, p, n, &f);
    run(evp_sniff_bittorrent, p, n, &f);
    int r = run(evp_sniff_tls, p, n, &f);
    if (r == EVP_SNIFF_FOUND && n > 5) { /* the record alone says the same */
        size_t rec = 5 + ((size_t)p[3] << 8 | p[4]);
        if (run(evp_sniff_tls, p, rec, &g) != EVP_SNIFF_FOUND || strcmp(f.domain, g.domain))
            abort();
    }
    /* Two reads, as a session makes them: the first a prefix, the second all of it. */
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    evp_sniffer sn = {0};
    r = evp_sniffer_run(&sn, copy, first, &f);
    check(r, &f);
    if (r == EVP_SNIFF_NO_CLUE) {
        r = evp_sniffer_run(&sn, copy, n, &f);
        check(r, &f);
    }
    free(copy);
    run(together, p, n, &f);
    return 0;
}
