/* The TLS sniffer, reading a ClientHello as V2Ray 4.34 does (common/protocol/tls/sniff.go):
 * one handshake record (type 22, major version 3) held whole in the bytes given, its
 * ClientHello's extensions filling the record exactly, and a server_name extension whose
 * first host_name entry (no trailing dot) is the domain. Every length is checked against
 * what is there before it is used; a record not complete yet is "no clue", anything
 * malformed is "not TLS". Like V2Ray, it neither checks the handshake type nor follows a
 * ClientHello split over several records. */
#include "sniff.h"

#include <string.h>

#define RECORD_HEADER 5
#define HELLO_FIXED 38 /* handshake type + length (4), version (2), random (32) */

static size_t be16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* The server_name extension's body: FOUND with the first host_name, else NOT. */
static int server_name(const uint8_t *d, size_t n, evp_sniffed *out)
{
    if (n < 2 || be16(d) != n - 2)
        return EVP_SNIFF_NOT;
    d += 2;
    n -= 2;
    while (n > 0) {
        if (n < 3)
            return EVP_SNIFF_NOT;
        uint8_t type = d[0];
        size_t len = be16(d + 1);
        d += 3;
        n -= 3;
        if (n < len)
            return EVP_SNIFF_NOT;
        if (type == 0) { /* host_name */
            /* RFC 6066 §3: no trailing dot. A name the session could not carry (one too
             * long for an address, one with a NUL that would cut it short) tells nothing. */
            if ((len > 0 && d[len - 1] == '.') || len >= sizeof out->domain ||
                memchr(d, '\0', len) != NULL)
                return EVP_SNIFF_NOT;
            memcpy(out->domain, d, len);
            out->domain[len] = '\0';
            out->len = len;
            return EVP_SNIFF_FOUND;
        }
        d += len;
        n -= len;
    }
    return -1; /* no host_name: go on with the other extensions */
}

/* The ClientHello in one record's body h[0..n). */
static int client_hello(const uint8_t *h, size_t n, evp_sniffed *out)
{
    if (n < HELLO_FIXED + 4)
        return EVP_SNIFF_NO_CLUE;
    size_t sid = h[HELLO_FIXED];
    if (sid > 32 || n < HELLO_FIXED + 1 + sid)
        return EVP_SNIFF_NO_CLUE;
    h += HELLO_FIXED + 1 + sid;
    n -= HELLO_FIXED + 1 + sid;
    if (n < 2)
        return EVP_SNIFF_NO_CLUE;
    size_t suites = be16(h);
    if (suites % 2 == 1 || n < 2 + suites)
        return EVP_SNIFF_NOT;
    h += 2 + suites;
    n -= 2 + suites;
    if (n < 1 || n < 1 + (size_t)h[0])
        return EVP_SNIFF_NO_CLUE;
    n -= 1 + (size_t)h[0];
    h += 1 + (size_t)h[0];
    if (n < 2 || be16(h) != n - 2)
        return EVP_SNIFF_NOT;
    h += 2;
    n -= 2;
    while (n > 0) {
        if (n < 4)
            return EVP_SNIFF_NOT;
        size_t type = be16(h), len = be16(h + 2);
        h += 4;
        n -= 4;
        if (n < len)
            return EVP_SNIFF_NOT;
        if (type == 0) {
            int r = server_name(h, len, out);
            if (r >= 0)
                return r;
        }
        h += len;
        n -= len;
    }
    return EVP_SNIFF_NOT;
}

int evp_sniff_tls(const uint8_t *p, size_t n, evp_sniffed *out)
{
    if (n < RECORD_HEADER)
        return EVP_SNIFF_NO_CLUE;
    if (p[0] != 0x16 || p[1] != 3) /* a handshake record, SSL 3.0 .. TLS 1.3 */
        return EVP_SNIFF_NOT;
    size_t len = be16(p + 3);
    if (RECORD_HEADER + len > n)
        return EVP_SNIFF_NO_CLUE;
    memset(out, 0, sizeof *out);
    out->protocol = "tls";
    out->override_bit = EVP_SNIFF_TLS;
    return client_hello(p + RECORD_HEADER, len, out);
}
