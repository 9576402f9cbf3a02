/* One generation of a TLS layer's configuration: the settings read from tlsSettings and the
 * GnuTLS objects built from them (credentials, priorities, ALPN list). Immutable once built
 * and shared by reference: a reload builds a new one, and a running session keeps the one it
 * started with until it ends. */
#ifndef TLS_CONF_H
#define TLS_CONF_H

#include "evproxy/plugin.h"

#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_ALPN_MAX 8
#define TLS_PINS_MAX 16
#define TLS_SHA256_LEN 32

typedef struct tls_conf {
    atomic_uint refs;
    const evp_host *host;
    int server;
    gnutls_certificate_credentials_t creds;
    gnutls_priority_t priority;
    gnutls_datum_t alpn[TLS_ALPN_MAX]; /* data point into alpn_text */
    unsigned n_alpn;
    char *alpn_text;   /* the ALPN names, NUL-separated */
    char *server_name; /* client: serverName, or NULL */
    uint8_t allow_insecure;
    uint8_t resumption; /* enableSessionResumption (default on, see README) */
    uint8_t pins[TLS_PINS_MAX][TLS_SHA256_LEN]; /* pinnedPeerCertificateChainSha256 */
    unsigned n_pins;
} tls_conf;

/* Builds a configuration from a layer's settings (certificate files read now). NULL and a
 * one-line err naming the setting or the file on failure. */
tls_conf *tls_conf_build(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen);

/* Takes a reference; returns c. */
tls_conf *tls_conf_ref(tls_conf *c);

/* Drops a reference; the last one frees c. NULL is ignored. */
void tls_conf_unref(tls_conf *c);

#endif
