/* One TLS connection, sans-I/O: GnuTLS reads the bytes of the current decode call and
 * writes into the current call's evp_buf through its push/pull hooks, never a socket. */
#ifndef TLS_SESSION_H
#define TLS_SESSION_H

#include "conf.h"
#include "evproxy/plugin.h"
#include "instance.h"

#include <gnutls/gnutls.h>

typedef struct tls_session {
    tls_instance *inst; /* a reference */
    tls_conf *conf;     /* a reference: the configuration this session began with */
    gnutls_session_t gs;
    const uint8_t *in; /* the current call's input (borrowed), in_pos of in_len read */
    size_t in_len;
    size_t in_pos;
    evp_buf *sink;    /* where GnuTLS's writes go during the current call */
    char *name;       /* client: the name verified and resumed for (tls_alloc), or NULL */
    uint8_t started;  /* the handshake has begun */
    uint8_t done;     /* the handshake is complete */
    uint8_t bye_sent; /* our close_notify is written */
    uint8_t resume_saved;
    uint8_t pin_failed; /* pinnedPeerCertificateChainSha256 refused the peer's chain */
} tls_session;

/* evp_transport_ops.session_new / session_free / decode / encode. */
void *tls_session_new(void *inst, const evp_addr *peer);
void tls_session_free(void *sess);
int tls_session_decode(void *sess, evp_io *io);
int tls_session_encode(void *sess, evp_io *io);

/* True when the handshake resumed an earlier session (tests, logs). */
int tls_session_resumed(const tls_session *s);

#endif
