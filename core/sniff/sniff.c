/* The sniffers together, as V2Ray 4.34's app/dispatcher/sniffer.go runs them: HTTP, TLS,
 * then BitTorrent, each read of the first payload asking those that have not said NOT. The
 * BitTorrent one overrides nothing (it has no domain), but like in V2Ray it keeps a short
 * payload waiting for more, and its answer ends the sniff. */
#include "sniff.h"

#include <string.h>

int evp_sniff_bittorrent(const uint8_t *p, size_t n, evp_sniffed *out)
{
    static const char magic[] = "\x13" "BitTorrent protocol";
    if (n < sizeof magic - 1)
        return EVP_SNIFF_NO_CLUE;
    if (memcmp(p, magic, sizeof magic - 1) != 0)
        return EVP_SNIFF_NOT;
    memset(out, 0, sizeof *out);
    out->protocol = "bittorrent";
    return EVP_SNIFF_FOUND;
}

typedef int (*sniff_fn)(const uint8_t *, size_t, evp_sniffed *);
static const sniff_fn sniffers[] = {evp_sniff_http, evp_sniff_tls, evp_sniff_bittorrent};
#define N_SNIFFERS (sizeof sniffers / sizeof *sniffers)

int evp_sniffer_run(evp_sniffer *sn, const uint8_t *p, size_t n, evp_sniffed *out)
{
    int pending = 0;
    for (size_t i = 0; i < N_SNIFFERS; i++) {
        if (sn->ruled_out & (1u << i))
            continue;
        int r = sniffers[i](p, n, out);
        if (r == EVP_SNIFF_FOUND)
            return r;
        if (r == EVP_SNIFF_NO_CLUE)
            pending = 1;
        else
            sn->ruled_out |= (uint8_t)(1u << i);
    }
    return pending ? EVP_SNIFF_NO_CLUE : EVP_SNIFF_NOT;
}
