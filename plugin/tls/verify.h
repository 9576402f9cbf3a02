/* The client's certificate checks beyond GnuTLS's own (pinned chains) and the words for a
 * refused certificate. */
#ifndef TLS_VERIFY_H
#define TLS_VERIFY_H

#include <gnutls/gnutls.h>
#include <stddef.h>

/* gnutls_session_set_verify_function hook: 0 when the peer's chain hashes (as V2Ray's
 * GenerateCertChainHash: sha256 of the first certificate, then sha256(prev || sha256(next))
 * for each next one) to one of the session's pins, else -1 (the session is marked). */
int tls_verify_pins(gnutls_session_t gs);

/* Writes why the handshake's certificate check failed into out (n bytes): "certificate of
 * NAME refused: issuer not trusted, expired, ...". */
void tls_verify_reason(gnutls_session_t gs, const char *name, int pin_failed, char *out, size_t n);

#endif
