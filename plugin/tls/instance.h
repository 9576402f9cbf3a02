/* A TLS layer's instance: the current configuration (swapped whole on reload), the server's
 * session-ticket key and the client's last session for resumption. Refcounted: the host
 * holds one reference and every session one more, so a session may outlive instance_free. */
#ifndef TLS_INSTANCE_H
#define TLS_INSTANCE_H

#include "conf.h"
#include "evproxy/plugin.h"

#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>

#define TLS_TICKET_KEY_LEN 64 /* GnuTLS's session ticket master key size */

typedef struct tls_instance {
    atomic_uint refs;
    const evp_host *host;
    char *tag;
    uint8_t ticket_key[TLS_TICKET_KEY_LEN]; /* server: shared through the host's state store */
    pthread_mutex_t lock;                   /* guards everything below */
    tls_conf *conf;
    char *resume_name;          /* client: the name resume_data's session was verified for */
    gnutls_datum_t resume_data; /* client: from gnutls_session_get_data2 (gnutls_free) */
} tls_instance;

/* evp_transport_ops.instance_new / instance_free / instance_update. */
void *tls_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                       size_t errlen);
void tls_instance_free(void *inst);
int tls_instance_update(void *inst, const evp_transport_args *args, char *err, size_t errlen);

/* Takes a reference to inst (for a session); drops one (the last frees it). */
tls_instance *tls_instance_ref(tls_instance *inst);
void tls_instance_unref(tls_instance *inst);

/* The current configuration, with a reference taken for the caller. */
tls_conf *tls_instance_conf(tls_instance *inst);

/* Client: gives gs the last session saved for name, if any; 1 when it did, else 0. */
int tls_instance_resume_load(tls_instance *inst, const char *name, gnutls_session_t gs);

/* Client: keeps gs's session (with its newest ticket) for name, unless the configuration
 * changed since gs's session began (conf is the one it began with). */
void tls_instance_resume_save(tls_instance *inst, const tls_conf *conf, const char *name,
                              gnutls_session_t gs);

#endif
