/* Test fixture for the tls plugin: certificates made at test time with GnuTLS's x509 API (a
 * CA, server certificates for example.test + 127.0.0.1 and for other.test, an expired one, a
 * self-signed one), files in a fresh temporary folder, and a client and a server layer
 * session joined in memory, wire bytes delivered in pieces of a chosen size. Header-only
 * (static inline) because only tests/check_*.c files are built. */
#ifndef TLS_FIXTURE_H
#define TLS_FIXTURE_H

#include "../plugin/tls/plugin.h"
#include "../plugin/tls/session.h"
#include "evproxy/plugin.h"
#include "test_host.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- certificates ---- */

typedef struct tls_pem {
    char cert[4096];
    char key[1024];
} tls_pem;

typedef struct tls_certs {
    tls_pem ca;      /* a CA (self-signed, CA:TRUE) */
    tls_pem server;  /* example.test + 127.0.0.1, from ca */
    tls_pem other;   /* other.test, from ca */
    tls_pem renewed; /* example.test + 127.0.0.1 again, from ca: another serial and key */
    tls_pem expired; /* example.test, from ca, ended yesterday */
    tls_pem self;    /* example.test, self-signed */
    char dir[64];    /* a fresh temporary folder for files */
} tls_certs;

static inline void tls_pem_export(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, tls_pem *out)
{
    size_t n = sizeof out->cert;
    ck_assert_int_eq(gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, out->cert, &n), 0);
    out->cert[n] = '\0';
    n = sizeof out->key;
    ck_assert_int_eq(gnutls_x509_privkey_export(key, GNUTLS_X509_FMT_PEM, out->key, &n), 0);
    out->key[n] = '\0';
}

/* Makes a certificate for cn (also its DNS name; ip, when not NULL, an IP entry) signed by
 * issuer (NULL: self-signed), valid from `from` to `until` (Unix times); PEM into out, and
 * the new certificate and key into *crt_out / *key_out when not NULL. */
static inline void tls_make_cert(const char *cn, const char *ip, int ca, time_t from, time_t until,
                                 unsigned serial, gnutls_x509_crt_t issuer,
                                 gnutls_x509_privkey_t issuer_key, tls_pem *out,
                                 gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    ck_assert_int_eq(gnutls_x509_privkey_init(&key), 0);
    ck_assert_int_eq(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    gnutls_x509_crt_set_version(crt, 3);
    uint8_t ser[4] = {(uint8_t)(serial >> 24), (uint8_t)(serial >> 16), (uint8_t)(serial >> 8),
                      (uint8_t)serial};
    gnutls_x509_crt_set_serial(crt, ser, sizeof ser);
    gnutls_x509_crt_set_activation_time(crt, from);
    gnutls_x509_crt_set_expiration_time(crt, until);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
    gnutls_x509_crt_set_key(crt, key);
    gnutls_x509_crt_set_basic_constraints(crt, ca, -1);
    if (ca) {
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    } else {
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, cn, strlen(cn),
                                             GNUTLS_FSAN_APPEND);
        uint8_t addr[4];
        if (ip != NULL && inet_pton(AF_INET, ip, addr) == 1)
            gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4,
                                                 GNUTLS_FSAN_APPEND);
    }
    ck_assert_int_eq(gnutls_x509_crt_sign2(crt, issuer ? issuer : crt,
                                           issuer_key ? issuer_key : key, GNUTLS_DIG_SHA256, 0),
                     0);
    tls_pem_export(crt, key, out);
    if (crt_out)
        *crt_out = crt;
    else
        gnutls_x509_crt_deinit(crt);
    if (key_out)
        *key_out = key;
    else
        gnutls_x509_privkey_deinit(key);
}

/* Makes every certificate of the fixture and its temporary folder. */
static inline void tls_certs_make(tls_certs *c)
{
    time_t now = time(NULL), day = 24 * 3600;
    gnutls_x509_crt_t ca;
    gnutls_x509_privkey_t ca_key;
    memset(c, 0, sizeof *c);
    tls_make_cert("Test CA", NULL, 1, now - day, now + 30 * day, 1, NULL, NULL, &c->ca, &ca,
                  &ca_key);
    tls_make_cert("example.test", "127.0.0.1", 0, now - day, now + 30 * day, 2, ca, ca_key,
                  &c->server, NULL, NULL);
    tls_make_cert("other.test", NULL, 0, now - day, now + 30 * day, 3, ca, ca_key, &c->other, NULL,
                  NULL);
    tls_make_cert("example.test", "127.0.0.1", 0, now - day, now + 60 * day, 4, ca, ca_key,
                  &c->renewed, NULL, NULL);
    tls_make_cert("example.test", NULL, 0, now - 30 * day, now - day, 5, ca, ca_key, &c->expired,
                  NULL, NULL);
    tls_make_cert("example.test", "127.0.0.1", 0, now - day, now + 30 * day, 6, NULL, NULL,
                  &c->self, NULL, NULL);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(ca_key);
    snprintf(c->dir, sizeof c->dir, "/tmp/tls-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(c->dir));
}

/* Writes text to dir/name; the full path goes to path (n bytes). */
static inline void tls_write_file(const tls_certs *c, const char *name, const char *text,
                                  char *path, size_t n)
{
    snprintf(path, n, "%s/%s", c->dir, name);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0); /* as certbot swaps a file: whole or not at all */
}

/* Removes the fixture's folder and what the tests wrote in it. */
static inline void tls_certs_clean(tls_certs *c)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Appends text as a JSON array of its lines (V2Ray's inline "certificate"/"key"). */
static inline void tls_json_lines(char *json, size_t n, const char *text)
{
    size_t len = strlen(json);
    len += (size_t)snprintf(json + len, n - len, "[");
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        len += (size_t)snprintf(json + len, n - len, "%s\"%.*s\"", p == text ? "" : ",", (int)l, p);
        p += l + (nl != NULL);
    }
    snprintf(json + len, n - len, "]");
}

/* ---- layer instances through the plugin's descriptor ---- */

static inline const evp_transport_ops *tls_ops(void)
{
    return tls_plugin.transport;
}

/* An instance of the tls layer (server != 0: an inbound's); fails the test if refused. */
static inline void *tls_inst(int server, const char *settings, const char *stream)
{
    char err[256] = "";
    evp_transport_args a = {sizeof a, server, server ? "in" : "out", settings,
                            stream ? stream : "{}"};
    void *inst = tls_ops()->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst != NULL, "instance_new: %s", err);
    return inst;
}

/* instance_new's error for settings that must be refused (the test fails if accepted). */
static inline const char *tls_inst_refused(int server, const char *settings)
{
    static char err[256];
    err[0] = '\0';
    evp_transport_args a = {sizeof a, server, "t", settings, "{}"};
    void *inst = tls_ops()->instance_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst == NULL, "instance_new accepted %s", settings);
    return err;
}

/* Server settings with one certificate from files written now (name.crt, name.key). */
static inline void *tls_server_files(const tls_certs *c, const tls_pem *pem, const char *name,
                                     const char *stream)
{
    char crt[256], key[256], json[1024], file[64];
    snprintf(file, sizeof file, "%s.crt", name);
    tls_write_file(c, file, pem->cert, crt, sizeof crt);
    snprintf(file, sizeof file, "%s.key", name);
    tls_write_file(c, file, pem->key, key, sizeof key);
    snprintf(json, sizeof json,
             "{\"certificates\":[{\"certificateFile\":\"%s\",\"keyFile\":\"%s\"}]}", crt, key);
    return tls_inst(1, json, stream);
}

/* Client settings: serverName (NULL: none), the CA trusted inline with usage "verify",
 * plus extra JSON members (NULL or text starting with a comma). */
static inline void *tls_client_ca(const tls_certs *c, const char *server_name, const char *extra,
                                  const char *stream)
{
    char json[8192] = "{\"certificates\":[{\"usage\":\"verify\",\"certificate\":";
    tls_json_lines(json, sizeof json, c->ca.cert);
    size_t len = strlen(json);
    if (server_name)
        len += (size_t)snprintf(json + len, sizeof json - len, "}],\"serverName\":\"%s\"",
                                server_name);
    else
        len += (size_t)snprintf(json + len, sizeof json - len, "}]");
    snprintf(json + len, sizeof json - len, "%s}", extra ? extra : "");
    return tls_inst(0, json, stream);
}

/* ---- one connection in memory ---- */

typedef struct tls_end {
    void *sess;
    evp_buf send; /* plaintext the test wants sent */
    size_t sent;  /* how much of send encode consumed */
    int send_eof; /* the test ended its sending: encode gets in_eof after the last byte */
    evp_buf recv; /* plaintext decode handed up */
    int got_eof;  /* decode returned EVP_EOF */
    int failed;   /* a hook returned EVP_ERR */
    char reason[128];
} tls_end;

typedef struct tls_link {
    tls_end cli, srv;
    evp_buf c2s, s2c; /* wire bytes, read from c2s_pos / s2c_pos on */
    size_t c2s_pos, s2c_pos;
    size_t step;     /* wire bytes per decode call */
    size_t app_step; /* plaintext bytes per encode call */
} tls_link;

static inline void tls_buf_put(evp_buf *b, const void *p, size_t n)
{
    uint8_t *d = test_host_buf_reserve(b, n);
    ck_assert_ptr_nonnull(d);
    memcpy(d, p, n);
    b->len += n;
}

/* Opens a connection between a client and a server instance; peer is what the client
 * dialled (NULL: the domain example.test). */
static inline void tls_link_open(tls_link *l, void *cli_inst, void *srv_inst, const evp_addr *peer)
{
    memset(l, 0, sizeof *l);
    evp_addr dom = {EVP_ADDR_DOMAIN, 12, 443, "example.test"};
    evp_addr client_addr = {EVP_ADDR_IPV4, 4, 50000, {127, 0, 0, 1}};
    l->cli.sess = tls_ops()->session_new(cli_inst, peer ? peer : &dom);
    l->srv.sess = tls_ops()->session_new(srv_inst, &client_addr);
    ck_assert_ptr_nonnull(l->cli.sess);
    ck_assert_ptr_nonnull(l->srv.sess);
    l->step = 1 << 20;
    l->app_step = 1 << 20;
}

static inline void tls_link_close(tls_link *l)
{
    tls_end *ends[2] = {&l->cli, &l->srv};
    for (int i = 0; i < 2; i++) {
        tls_ops()->session_free(ends[i]->sess);
        test_buf_free(&ends[i]->send);
        test_buf_free(&ends[i]->recv);
    }
    test_buf_free(&l->c2s);
    test_buf_free(&l->s2c);
}

/* One encode call at e (its plaintext toward wire): 1 when it made progress, 0 when not,
 * -1 when the hook broke the ABI (consumed more than given, an unknown status). No Check
 * assertions here: the thread test calls it off the test's thread. */
static inline int tls_end_encode(tls_end *e, evp_buf *wire, size_t app_step, int first)
{
    size_t left = e->send.len - e->sent;
    int eof = e->send_eof && !((tls_session *)e->sess)->bye_sent;
    if (e->failed || (left == 0 && !eof && !first))
        return 0;
    evp_io io = {0};
    io.in = e->send.data + e->sent;
    io.in_len = left < app_step ? left : app_step;
    io.in_eof = eof && io.in_len == left;
    io.out = wire;
    size_t before = wire->len;
    int rc = tls_ops()->encode(e->sess, &io);
    if (io.consumed > io.in_len || (rc != EVP_OK && rc != EVP_ERR))
        return -1;
    e->sent += io.consumed;
    if (rc == EVP_ERR) {
        e->failed = 1;
        memcpy(e->reason, io.reason, sizeof e->reason);
        return 1;
    }
    return io.consumed > 0 || wire->len > before;
}

/* One decode call at e over up to step unread wire bytes: 1 when it made progress, 0 when
 * not, -1 when the hook broke the ABI. */
static inline int tls_end_decode(tls_end *e, evp_buf *wire, size_t *pos, evp_buf *back, size_t step)
{
    size_t left = wire->len - *pos;
    if (e->failed || e->got_eof || left == 0)
        return 0;
    evp_io io = {0};
    io.in = wire->data + *pos;
    io.in_len = left < step ? left : step;
    io.out = &e->recv;
    io.back = back;
    int rc = tls_ops()->decode(e->sess, &io);
    if (io.consumed > io.in_len || (rc != EVP_OK && rc != EVP_ERR && rc != EVP_EOF))
        return -1;
    *pos += io.consumed;
    if (rc == EVP_ERR) {
        e->failed = 1;
        memcpy(e->reason, io.reason, sizeof e->reason);
    }
    e->got_eof = rc == EVP_EOF;
    return 1;
}

/* Runs both ends until nothing moves (bounded by a count, never a clock): 0, or -1 when a
 * hook broke the ABI or the link never settled. No Check assertions (see above). */
static inline int tls_link_step_all(tls_link *l)
{
    int first = l->cli.sent == 0 && l->c2s.len == 0; /* the client's connect-time call */
    for (int round = 0; round < 1000000; round++) {
        int r[4];
        r[0] = tls_end_encode(&l->cli, &l->c2s, l->app_step, first);
        first = 0;
        r[1] = tls_end_decode(&l->srv, &l->c2s, &l->c2s_pos, &l->s2c, l->step);
        r[2] = tls_end_encode(&l->srv, &l->s2c, l->app_step, 0);
        r[3] = tls_end_decode(&l->cli, &l->s2c, &l->s2c_pos, &l->c2s, l->step);
        if (r[0] < 0 || r[1] < 0 || r[2] < 0 || r[3] < 0)
            return -1;
        if (!(r[0] | r[1] | r[2] | r[3]))
            return 0;
    }
    return -1;
}

/* tls_link_step_all, failing the test on a broken hook or a link that never settles. */
static inline void tls_link_run(tls_link *l)
{
    ck_assert_msg(tls_link_step_all(l) == 0, "a hook broke the ABI or the link never settled");
}

/* True once both ends finished their handshakes. */
static inline int tls_link_up(const tls_link *l)
{
    return ((const tls_session *)l->cli.sess)->done && ((const tls_session *)l->srv.sess)->done;
}

/* The ALPN name the end's session settled on, or "" (static storage). */
static inline const char *tls_alpn_of(void *sess)
{
    static char name[64];
    gnutls_datum_t d = {NULL, 0};
    name[0] = '\0';
    if (gnutls_alpn_get_selected_protocol(((tls_session *)sess)->gs, &d) == 0)
        snprintf(name, sizeof name, "%.*s", (int)d.size, (const char *)d.data);
    return name;
}

/* True when the client end was shown the certificate in pem. */
static inline int tls_peer_is(void *cli_sess, const char *pem)
{
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(((tls_session *)cli_sess)->gs, &n);
    if (n == 0)
        return 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, der = {NULL, 0};
    ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
    ck_assert_int_eq(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), 0);
    ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
    int same = der.size == chain[0].size && memcmp(der.data, chain[0].data, der.size) == 0;
    gnutls_free(der.data);
    gnutls_x509_crt_deinit(crt);
    return same;
}

/* ---- a bare GnuTLS client (any priority string) over two in-memory wires ---- */

typedef struct tls_raw {
    gnutls_session_t gs;
    gnutls_certificate_credentials_t creds; /* empty: it verifies nothing */
    evp_buf *out;                           /* what it writes */
    const evp_buf *in;                      /* what it reads, from pos on */
    size_t pos;
} tls_raw;

static inline ssize_t tls_raw_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    tls_raw *r = p;
    tls_buf_put(r->out, data, len);
    return (ssize_t)len;
}

static inline ssize_t tls_raw_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
    tls_raw *r = p;
    size_t left = r->in->len - r->pos, n = len < left ? len : left;
    if (n == 0) {
        gnutls_transport_set_errno(r->gs, EAGAIN);
        return -1;
    }
    memcpy(data, r->in->data + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

/* A bare client (pem NULL) or server (pem: its certificate and key; ticket: a 64-byte
 * session ticket key, or NULL) limited by priority. */
static inline void tls_raw_open2(tls_raw *r, const char *priority, const tls_pem *pem,
                                 const gnutls_datum_t *ticket, evp_buf *out, const evp_buf *in)
{
    memset(r, 0, sizeof *r);
    r->out = out;
    r->in = in;
    ck_assert_int_eq(gnutls_certificate_allocate_credentials(&r->creds), 0);
    if (pem != NULL) {
        gnutls_datum_t crt = {(unsigned char *)pem->cert, (unsigned)strlen(pem->cert)};
        gnutls_datum_t key = {(unsigned char *)pem->key, (unsigned)strlen(pem->key)};
        ck_assert_int_eq(
            gnutls_certificate_set_x509_key_mem(r->creds, &crt, &key, GNUTLS_X509_FMT_PEM), 0);
    }
    ck_assert_int_eq(gnutls_init(&r->gs, (pem ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK),
                     0);
    ck_assert_int_eq(gnutls_priority_set_direct(r->gs, priority, NULL), 0);
    gnutls_credentials_set(r->gs, GNUTLS_CRD_CERTIFICATE, r->creds);
    if (ticket != NULL)
        ck_assert_int_eq(gnutls_session_ticket_enable_server(r->gs, ticket), 0);
    gnutls_transport_set_ptr(r->gs, r);
    gnutls_transport_set_push_function(r->gs, tls_raw_push);
    gnutls_transport_set_pull_function(r->gs, tls_raw_pull);
}

/* A bare client limited by priority. */
static inline void tls_raw_open(tls_raw *r, const char *priority, evp_buf *out, const evp_buf *in)
{
    tls_raw_open2(r, priority, NULL, NULL, out, in);
}

static inline void tls_raw_close(tls_raw *r)
{
    gnutls_deinit(r->gs);
    gnutls_certificate_free_credentials(r->creds);
}

#endif
