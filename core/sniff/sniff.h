/* Sniffing (inbound "sniffing", V2Ray 4.34's app/dispatcher): the first bytes a client sends
 * name the domain it wants, in an HTTP request's Host header or a TLS ClientHello's SNI. Each
 * sniffer reads a prefix of the stream and says FOUND, NO_CLUE (more bytes might tell) or NOT
 * (this is not its protocol), as V2Ray's sniffers do; none keeps state or reads past n. */
#ifndef EVP_SNIFF_H
#define EVP_SNIFF_H

#include <stddef.h>
#include <stdint.h>

/* The most a sniff looks at: V2Ray copies its cache into one 2 KiB buffer (buf.Size); a
 * prefix that long with no answer is "unknown content". */
#define EVP_SNIFF_MAX 2048
/* How often the first payload is waited for, and how long each time: V2Ray's dispatcher tries
 * twice, each read waiting at most 100 ms (ReadMultiBufferTimeout). */
#define EVP_SNIFF_READS 2
#define EVP_SNIFF_WAIT 0.1

enum evp_sniff_status {
    EVP_SNIFF_FOUND = 0,
    EVP_SNIFF_NO_CLUE = 1, /* too few bytes to tell */
    EVP_SNIFF_NOT = 2,     /* not this protocol (or, combined, none of them) */
};

/* An inbound's sniffing settings: destOverride's protocols as bits. */
#define EVP_SNIFF_ON 0x01u   /* "enabled": sniff, whatever is overridden */
#define EVP_SNIFF_HTTP 0x02u /* "http": an HTTP Host overrides the target */
#define EVP_SNIFF_TLS 0x04u  /* "tls" ("https", "ssl"): a TLS SNI does */

/* What a sniffer found: the protocol as V2Ray names it ("http1", "tls", "bittorrent") and the
 * domain, NUL-terminated (empty for bittorrent). */
typedef struct evp_sniffed {
    const char *protocol; /* static */
    uint8_t override_bit; /* the EVP_SNIFF_* bit that lets it override, 0 for none */
    size_t len;
    char domain[256];
} evp_sniffed;

/* One protocol each: p[0..n) is the start of the client's stream. */
int evp_sniff_http(const uint8_t *p, size_t n, evp_sniffed *out);
int evp_sniff_tls(const uint8_t *p, size_t n, evp_sniffed *out);
int evp_sniff_bittorrent(const uint8_t *p, size_t n, evp_sniffed *out);

/* The sniffers together across reads, as V2Ray's Sniffer: a sniffer that said NOT is not
 * asked again; FOUND from any ends it; NOT once none is left. Zero-initialised = fresh. */
typedef struct evp_sniffer {
    uint8_t ruled_out; /* bit i: sniffer i said NOT */
} evp_sniffer;

/* Runs the sniffers still in play on p[0..n) (n is capped at EVP_SNIFF_MAX by the caller). */
int evp_sniffer_run(evp_sniffer *sn, const uint8_t *p, size_t n, evp_sniffed *out);

#endif
