/* Pinned certificate chains (pinnedPeerCertificateChainSha256) and refusal texts. */
#include "verify.h"

#include "session.h"

#include <gnutls/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int tls_verify_pins(gnutls_session_t gs)
{
    tls_session *s = gnutls_session_get_ptr(gs);
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(gs, &n);
    uint8_t hash[TLS_SHA256_LEN], pair[2 * TLS_SHA256_LEN];
    for (unsigned i = 0; i < n; i++) {
        uint8_t *dst = i == 0 ? hash : pair + TLS_SHA256_LEN;
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[i].data, chain[i].size, dst) < 0)
            n = 0;
        if (i > 0) {
            memcpy(pair, hash, TLS_SHA256_LEN);
            gnutls_hash_fast(GNUTLS_DIG_SHA256, pair, sizeof pair, hash);
        }
    }
    for (unsigned k = 0; n > 0 && k < s->conf->n_pins; k++)
        if (sodium_memcmp(hash, s->conf->pins[k], TLS_SHA256_LEN) == 0)
            return 0;
    s->pin_failed = 1;
    return -1;
}

void tls_verify_reason(gnutls_session_t gs, const char *name, int pin_failed, char *out, size_t n)
{
    static const struct {
        unsigned bit;
        const char *words;
    } why[] = {
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "issuer not trusted"},
        {GNUTLS_CERT_EXPIRED, "expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "not yet valid"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, "name mismatch"},
        {GNUTLS_CERT_REVOKED, "revoked"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "issuer not a CA"},
    };
    int len = snprintf(out, n, "tls: handshake: certificate of %s refused:", name ? name : "?");
    if (len < 0 || (size_t)len >= n)
        return;
    if (pin_failed) { /* GnuTLS checks pins only once its own verification passed (or is off) */
        snprintf(out + len, n - (size_t)len, " not a pinned chain");
        return;
    }
    unsigned status = gnutls_session_get_verify_cert_status(gs);
    const char *sep = " ";
    for (size_t i = 0; i < sizeof why / sizeof why[0] && (size_t)len < n; i++) {
        if (status & why[i].bit) {
            len += snprintf(out + len, n - (size_t)len, "%s%s", sep, why[i].words);
            sep = ", ";
        }
    }
    if (*sep == ' ' && (size_t)len < n)
        snprintf(out + len, n - (size_t)len, " not trusted");
}
