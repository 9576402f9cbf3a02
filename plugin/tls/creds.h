/* Certificates from tlsSettings.certificates into GnuTLS credentials: the server's own
 * (certificate + key, several for SNI), the client's trust anchors. */
#ifndef TLS_CREDS_H
#define TLS_CREDS_H

#include "evproxy/plugin.h"

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <stddef.h>

/* Builds credentials from the certificates array (may be NULL). Server: every
 * "encipherment" entry is a certificate chain and its key, at least one is needed.
 * Client: the system CAs unless disable_system_root, plus every listed certificate as a
 * trust anchor (as V2Ray 4.34 does). 0, or -1 and err naming the entry and the file. */
int tls_creds_build(const evp_host *host, json_t *certificates, int server, int disable_system_root,
                    gnutls_certificate_credentials_t *out, char *err, size_t errlen);

#endif
