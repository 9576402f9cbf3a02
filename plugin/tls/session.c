/* TLS sessions over in-memory buffers. decode feeds GnuTLS the bytes from below (pull
 * returns EAGAIN once they are used up; GnuTLS keeps a partial record itself, so every
 * input byte is consumed) and hands plaintext up; what GnuTLS says on its own while
 * decoding (handshake flights, alerts, a KeyUpdate answer) goes to io->back. encode seals
 * plaintext from above into records in io->out. Writes always succeed (they append to a
 * host buffer), so GnuTLS never sees EAGAIN on push and never asks to repeat a write. */
#include "session.h"

#include "mem.h"
#include "verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RECORD_MAX 16384 /* largest TLS plaintext record */
#define WARNINGS_MAX 8   /* warning alerts tolerated in a row during one handshake step */

static ssize_t pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
    tls_session *s = p;
    size_t left = s->in_len - s->in_pos;
    if (left == 0) {
        gnutls_transport_set_errno(s->gs, EAGAIN);
        return -1;
    }
    size_t n = len < left ? len : left;
    memcpy(data, s->in + s->in_pos, n);
    s->in_pos += n;
    return (ssize_t)n;
}

static ssize_t push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    tls_session *s = p;
    uint8_t *dst = s->sink ? s->inst->host->buf_reserve(s->sink, len) : NULL;
    if (dst == NULL) {
        gnutls_transport_set_errno(s->gs, ENOMEM);
        return -1;
    }
    memcpy(dst, data, len);
    s->sink->len += len;
    return (ssize_t)len;
}

static int fail(evp_io *io, const char *fmt, ...) EVP_PRINTF(2, 3);
static int fail(evp_io *io, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->reason, sizeof io->reason, fmt, ap);
    va_end(ap);
    return EVP_ERR;
}

/* The name a client verifies and resumes for: serverName, else the dialled domain, else
 * the dialled address as text (verified against the certificate's IP entries). */
static char *client_name(const tls_conf *c, const evp_addr *peer)
{
    const evp_host *h = c->host;
    if (c->server_name != NULL)
        return tls_strndup(h, c->server_name, strlen(c->server_name));
    if (peer == NULL || peer->type == EVP_ADDR_NONE)
        return NULL;
    if (peer->type == EVP_ADDR_DOMAIN)
        return tls_strndup(h, (const char *)peer->bytes, peer->len);
    char text[INET6_ADDRSTRLEN];
    int af = peer->type == EVP_ADDR_IPV4 ? AF_INET : AF_INET6;
    if (inet_ntop(af, peer->bytes, text, sizeof text) == NULL)
        return NULL;
    return tls_strndup(h, text, strlen(text));
}

/* True when name is an IP address, which never goes in SNI (RFC 6066). */
static int is_ip_literal(const char *name)
{
    uint8_t addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Client-only set-up: SNI, verification, pins, a saved session to resume. 0 or -1. */
static int client_setup(tls_session *s, const evp_addr *peer)
{
    const tls_conf *c = s->conf;
    s->name = client_name(c, peer);
    if (s->name != NULL && !is_ip_literal(s->name) &&
        gnutls_server_name_set(s->gs, GNUTLS_NAME_DNS, s->name, strlen(s->name)) < 0)
        return -1;
    if (!c->allow_insecure)
        gnutls_session_set_verify_cert(s->gs, s->name, 0);
    if (c->n_pins > 0)
        gnutls_session_set_verify_function(s->gs, tls_verify_pins);
    if (c->resumption && s->name != NULL)
        tls_instance_resume_load(s->inst, s->name, s->gs);
    return 0;
}

void *tls_session_new(void *p, const evp_addr *peer)
{
    tls_instance *inst = p;
    tls_session *s = tls_calloc(inst->host, 1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->inst = tls_instance_ref(inst);
    s->conf = tls_instance_conf(inst);
    const tls_conf *c = s->conf;
    unsigned flags = (c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK;
    if (!c->resumption)
        flags |= GNUTLS_NO_TICKETS;
    if (gnutls_init(&s->gs, flags) < 0) {
        s->gs = NULL;
        goto fail;
    }
    gnutls_session_set_ptr(s->gs, s);
    gnutls_transport_set_ptr(s->gs, s);
    gnutls_transport_set_pull_function(s->gs, pull);
    gnutls_transport_set_push_function(s->gs, push);
    gnutls_handshake_set_timeout(s->gs, 0); /* deadlines are the host's */
    if (gnutls_priority_set(s->gs, c->priority) < 0 ||
        gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE, c->creds) < 0)
        goto fail;
    if (c->n_alpn > 0 && gnutls_alpn_set_protocols(s->gs, c->alpn, c->n_alpn, 0) < 0)
        goto fail;
    if (c->server && c->resumption) {
        gnutls_datum_t key = {inst->ticket_key, TLS_TICKET_KEY_LEN};
        if (gnutls_session_ticket_enable_server(s->gs, &key) < 0)
            goto fail;
    }
    if (!c->server && client_setup(s, peer) != 0)
        goto fail;
    return s;
fail:
    tls_session_free(s);
    return NULL;
}

void tls_session_free(void *p)
{
    tls_session *s = p;
    if (s == NULL)
        return;
    if (s->gs != NULL)
        gnutls_deinit(s->gs);
    const evp_host *h = s->inst->host;
    if (s->name != NULL)
        tls_free(h, s->name);
    tls_conf_unref(s->conf);
    tls_instance *inst = s->inst;
    tls_free(h, s);
    tls_instance_unref(inst);
}

int tls_session_resumed(const tls_session *s)
{
    return s->done && gnutls_session_is_resumed(s->gs);
}

/* A client keeps its session for resumption once it holds a ticket (TLS 1.2 servers send it
 * in the handshake, TLS 1.3 ones after it): checked after every decode. */
static void maybe_save_session(tls_session *s)
{
    if (s->conf->server || !s->conf->resumption || s->resume_saved || s->name == NULL || !s->done ||
        !(gnutls_session_get_flags(s->gs) & GNUTLS_SFLAGS_SESSION_TICKET))
        return;
    tls_instance_resume_save(s->inst, s->conf, s->name, s->gs);
    s->resume_saved = 1;
}

static void log_done(const tls_session *s)
{
    const evp_host *h = s->inst->host;
    if (!h->log_enabled(EVP_LOG_DEBUG))
        return;
    gnutls_datum_t alpn = {NULL, 0};
    int has_alpn = gnutls_alpn_get_selected_protocol(s->gs, &alpn) == 0;
    h->log(EVP_LOG_DEBUG, "tls [%s]: %s %s, alpn %.*s%s", s->inst->tag,
           gnutls_protocol_get_name(gnutls_protocol_get_version(s->gs)),
           gnutls_cipher_get_name(gnutls_cipher_get(s->gs)), has_alpn ? (int)alpn.size : 4,
           has_alpn ? (const char *)alpn.data : "none",
           gnutls_session_is_resumed(s->gs) ? ", resumed" : "");
}

/* Runs the handshake as far as the input allows; EVP_OK (done or not) or EVP_ERR. */
static int handshake(tls_session *s, evp_io *io)
{
    s->started = 1;
    int r = GNUTLS_E_AGAIN;
    for (int warnings = 0; warnings <= WARNINGS_MAX; warnings++) {
        r = gnutls_handshake(s->gs);
        if (r != GNUTLS_E_WARNING_ALERT_RECEIVED)
            break;
    }
    if (r == GNUTLS_E_SUCCESS) {
        s->done = 1;
        log_done(s);
        return EVP_OK;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        return EVP_OK;
    if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || s->pin_failed) {
        tls_verify_reason(s->gs, s->name, s->pin_failed, io->reason, sizeof io->reason);
        gnutls_alert_send(s->gs, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
        return EVP_ERR;
    }
    if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
        return fail(io, "tls: handshake: the peer refused: %s",
                    gnutls_alert_get_name(gnutls_alert_get(s->gs)));
    gnutls_alert_send_appropriate(s->gs, r);
    return fail(io, "tls: handshake: %s", gnutls_strerror(r));
}

/* Opens every whole record in the input into io->out. */
static int read_records(tls_session *s, evp_io *io)
{
    for (;;) {
        uint8_t *dst = s->inst->host->buf_reserve(io->out, RECORD_MAX);
        if (dst == NULL)
            return fail(io, "tls: out of memory");
        ssize_t n = gnutls_record_recv(s->gs, dst, RECORD_MAX);
        if (n > 0) {
            io->out->len += (size_t)n;
            continue;
        }
        if (n == 0)
            return EVP_EOF; /* close_notify */
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            return EVP_OK;
        if (n == GNUTLS_E_WARNING_ALERT_RECEIVED)
            continue;
        if (n == GNUTLS_E_REHANDSHAKE) { /* a TLS 1.2 renegotiation request: declined */
            gnutls_alert_send(s->gs, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
            continue;
        }
        if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
            return fail(io, "tls: the peer sent an alert: %s",
                        gnutls_alert_get_name(gnutls_alert_get(s->gs)));
        return fail(io, "tls: %s", gnutls_strerror((int)n));
    }
}

/* Writes close_notify to the current sink, once. */
static int send_bye(tls_session *s, evp_io *io)
{
    s->bye_sent = 1;
    int r = gnutls_bye(s->gs, GNUTLS_SHUT_WR);
    return r < 0 ? fail(io, "tls: close_notify: %s", gnutls_strerror(r)) : EVP_OK;
}

int tls_session_decode(void *p, evp_io *io)
{
    tls_session *s = p;
    s->in = io->in;
    s->in_len = io->in_len;
    s->in_pos = 0;
    s->sink = io->back;
    int rc = EVP_OK;
    if (!s->done)
        rc = handshake(s, io);
    if (rc == EVP_OK && s->done)
        rc = read_records(s, io);
    maybe_save_session(s);
    io->consumed = s->in_pos;
    s->in = NULL;
    s->sink = NULL;
    if (rc != EVP_OK || !io->in_eof)
        return rc;
    if (!s->done)
        return fail(io, "tls: handshake: the connection closed");
    /* No close_notify: a truncation TLS cannot tell from an end. The protocol above has
     * its own end marker and sees the cut; the layer ends as the socket did. */
    s->inst->host->log(EVP_LOG_DEBUG, "tls [%s]: the connection closed without close_notify",
                       s->inst->tag);
    return EVP_EOF;
}

int tls_session_encode(void *p, evp_io *io)
{
    tls_session *s = p;
    s->sink = io->out;
    s->in = NULL;
    s->in_len = s->in_pos = 0;
    int rc = EVP_OK;
    io->consumed = 0;
    if (!s->done) { /* the client speaks first; anything from above waits for the handshake */
        if (!s->started && !s->conf->server)
            rc = handshake(s, io);
        /* Nor can close_notify go yet: the end stays unconsumed, offered again later. */
        io->in_eof = 0;
        s->sink = NULL;
        return rc;
    }
    while (io->consumed < io->in_len) {
        size_t left = io->in_len - io->consumed;
        ssize_t n =
            gnutls_record_send(s->gs, io->in + io->consumed, left < RECORD_MAX ? left : RECORD_MAX);
        if (n < 0) {
            rc = fail(io, "tls: %s", gnutls_strerror((int)n));
            break;
        }
        io->consumed += (size_t)n;
    }
    if (rc == EVP_OK && io->in_eof && !s->bye_sent)
        rc = send_bye(s, io);
    s->sink = NULL;
    return rc;
}
