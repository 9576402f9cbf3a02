/* Loads tlsSettings.certificates into GnuTLS credentials. PEM text comes from a file
 * (certificateFile / keyFile, read here so that an error can name the file) or inline
 * (certificate / key: arrays of lines joined with "\n", as V2Ray joins them). */
#include "creds.h"

#include "errf.h"
#include "mem.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PEM_FILE_MAX (1024 * 1024) /* a chain of a few certificates is a few KiB */

enum { USAGE_ENCIPHERMENT, USAGE_VERIFY };

/* Where one PEM text came from, for error messages. */
typedef struct pem_text {
    gnutls_datum_t datum; /* from tls_alloc, NUL-terminated; size excludes the NUL */
    char origin[300];     /* "certificateFile \"/path\"" or "certificate" */
} pem_text;

/* Reads path whole into t; 0, or -1 and err. */
static int read_file(const evp_host *h, const char *path, pem_text *t, const char *where, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        tls_errf(err, errlen, "%s: %s: %s", where, path, strerror(errno));
        return -1;
    }
    char *data = tls_alloc(h, PEM_FILE_MAX + 1);
    size_t n = data ? fread(data, 1, PEM_FILE_MAX + 1, f) : 0;
    int bad = data == NULL || ferror(f) || n > PEM_FILE_MAX;
    fclose(f);
    if (bad) {
        tls_errf(err, errlen, "%s: %s: %s", where, path,
                 data == NULL       ? "out of memory"
                 : n > PEM_FILE_MAX ? "larger than 1 MiB"
                                    : "read error");
        if (data != NULL)
            tls_free(h, data);
        return -1;
    }
    data[n] = '\0';
    t->datum.data = (unsigned char *)data;
    t->datum.size = (unsigned)n;
    return 0;
}

/* Joins an array of strings with "\n" into t; 0, or -1 and err. */
static int join_lines(const evp_host *h, json_t *lines, pem_text *t, const char *where, char *err,
                      size_t errlen)
{
    size_t total = 1, i;
    json_t *line;
    json_array_foreach (lines, i, line) {
        if (!json_is_string(line)) {
            tls_errf(err, errlen, "%s[%zu]: not a string", where, i);
            return -1;
        }
        total += json_string_length(line) + 1;
    }
    char *data = tls_alloc(h, total);
    if (data == NULL) {
        tls_errf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    size_t len = 0;
    json_array_foreach (lines, i, line) {
        if (i > 0)
            data[len++] = '\n';
        memcpy(data + len, json_string_value(line), json_string_length(line));
        len += json_string_length(line);
    }
    data[len] = '\0';
    t->datum.data = (unsigned char *)data;
    t->datum.size = (unsigned)len;
    return 0;
}

/* Reads the PEM text of entry idx from file_key (preferred, as V2Ray) or inline_key.
 * 1 when found, 0 when neither is set, -1 and err on failure. */
static int load_pem(const evp_host *h, json_t *entry, size_t idx, const char *file_key,
                    const char *inline_key, pem_text *t, char *err, size_t errlen)
{
    char where[96];
    json_t *file = json_object_get(entry, file_key);
    json_t *lines = json_object_get(entry, inline_key);
    if (json_is_string(file) && json_string_length(file) > 0) {
        snprintf(where, sizeof where, "certificates[%zu].%s", idx, file_key);
        snprintf(t->origin, sizeof t->origin, "%s \"%s\"", file_key, json_string_value(file));
        return read_file(h, json_string_value(file), t, where, err, errlen) == 0 ? 1 : -1;
    }
    if (json_is_array(lines) && json_array_size(lines) > 0) {
        snprintf(where, sizeof where, "certificates[%zu].%s", idx, inline_key);
        snprintf(t->origin, sizeof t->origin, "%s", inline_key);
        return join_lines(h, lines, t, where, err, errlen) == 0 ? 1 : -1;
    }
    return 0;
}

/* Wipes (a key may be in it) and frees t's text. */
static void pem_free(const evp_host *h, pem_text *t)
{
    if (t->datum.data != NULL) {
        gnutls_memset(t->datum.data, 0, t->datum.size);
        tls_free(h, t->datum.data);
    }
    t->datum.data = NULL;
}

/* The entry's usage; -1 and err for "issue" or an unknown word. */
static int entry_usage(json_t *entry, size_t idx, char *err, size_t errlen)
{
    const char *u = json_string_value(json_object_get(entry, "usage"));
    if (u == NULL || *u == '\0' || strcasecmp(u, "encipherment") == 0)
        return USAGE_ENCIPHERMENT;
    if (strcasecmp(u, "verify") == 0)
        return USAGE_VERIFY;
    if (strcasecmp(u, "issue") == 0)
        tls_errf(err, errlen,
                 "certificates[%zu].usage: \"issue\" (certificates made on the fly "
                 "from a CA) is not supported; give the certificate and its key",
                 idx);
    else
        tls_errf(err, errlen, "certificates[%zu].usage: unknown usage \"%s\"", idx, u);
    return -1;
}

/* Parses the chain and the key ourselves (so that an error says which of the two is bad,
 * and because GnuTLS 3.7.9's set_x509_key_mem2 leaks a certificate when the chain does not
 * parse), then adds them. 0, or -1 and err. */
static int add_pair(gnutls_certificate_credentials_t creds, const pem_text *cert,
                    const pem_text *key, size_t idx, char *err, size_t errlen)
{
    gnutls_x509_crt_t *chain = NULL;
    unsigned n = 0;
    gnutls_x509_privkey_t pk = NULL;
    int g = gnutls_x509_crt_list_import2(&chain, &n, &cert->datum, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || n == 0) {
        tls_errf(err, errlen, "certificates[%zu]: %s: %s", idx, cert->origin,
                 g < 0 ? gnutls_strerror(g) : "no certificate in it");
        return -1;
    }
    g = gnutls_x509_privkey_init(&pk);
    if (g == 0)
        g = gnutls_x509_privkey_import2(pk, &key->datum, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0)
        tls_errf(err, errlen, "certificates[%zu]: %s: %s", idx, key->origin, gnutls_strerror(g));
    else if ((g = gnutls_certificate_set_x509_key(creds, chain, n, pk)) < 0)
        tls_errf(err, errlen, "certificates[%zu]: %s with %s: %s", idx, cert->origin, key->origin,
                 gnutls_strerror(g));
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(chain[i]);
    gnutls_free(chain);
    if (pk != NULL)
        gnutls_x509_privkey_deinit(pk); /* set_x509_key keeps its own copy */
    return g < 0 ? -1 : 0;
}

/* Server: adds entry idx's chain and key. 0, or -1 and err. */
static int add_server_cert(const evp_host *h, gnutls_certificate_credentials_t creds, json_t *entry,
                           size_t idx, char *err, size_t errlen)
{
    pem_text cert = {0}, key = {0};
    int rc = -1;
    int got = load_pem(h, entry, idx, "certificateFile", "certificate", &cert, err, errlen);
    if (got == 0)
        tls_errf(err, errlen, "certificates[%zu]: no certificateFile or certificate", idx);
    if (got <= 0)
        goto out;
    got = load_pem(h, entry, idx, "keyFile", "key", &key, err, errlen);
    if (got == 0)
        tls_errf(err, errlen, "certificates[%zu]: no keyFile or key for the %s", idx, cert.origin);
    if (got <= 0)
        goto out;
    if (add_pair(creds, &cert, &key, idx, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    pem_free(h, &cert);
    pem_free(h, &key);
    return rc;
}

/* Client: adds entry idx's certificates as trust anchors. 0, or -1 and err. */
static int add_trusted_cert(const evp_host *h, gnutls_certificate_credentials_t creds,
                            json_t *entry, size_t idx, char *err, size_t errlen)
{
    pem_text cert = {0};
    int got = load_pem(h, entry, idx, "certificateFile", "certificate", &cert, err, errlen);
    if (got == 0)
        tls_errf(err, errlen, "certificates[%zu]: no certificateFile or certificate", idx);
    if (got <= 0)
        return -1;
    int n = gnutls_certificate_set_x509_trust_mem(creds, &cert.datum, GNUTLS_X509_FMT_PEM);
    if (n <= 0)
        tls_errf(err, errlen, "certificates[%zu]: %s: %s", idx, cert.origin,
                 n < 0 ? gnutls_strerror(n) : "no PEM certificate in it");
    pem_free(h, &cert);
    return n > 0 ? 0 : -1;
}

int tls_creds_build(const evp_host *host, json_t *certificates, int server, int disable_system_root,
                    gnutls_certificate_credentials_t *out, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t creds;
    if (gnutls_certificate_allocate_credentials(&creds) < 0) {
        tls_errf(err, errlen, "out of memory");
        return -1;
    }
    size_t idx, served = 0;
    json_t *entry;
    json_array_foreach (certificates, idx, entry) {
        int usage = entry_usage(entry, idx, err, errlen);
        if (usage < 0)
            goto fail;
        if (server && usage == USAGE_ENCIPHERMENT) {
            if (add_server_cert(host, creds, entry, idx, err, errlen) != 0)
                goto fail;
            served++;
        } else if (!server && add_trusted_cert(host, creds, entry, idx, err, errlen) != 0) {
            goto fail;
        }
    }
    if (server && served == 0) {
        tls_errf(err, errlen,
                 "certificates: a server needs a certificate and its key "
                 "(usage \"encipherment\")");
        goto fail;
    }
    if (!server && !disable_system_root) {
        int n = gnutls_certificate_set_x509_system_trust(creds);
        if (n < 0)
            host->log(EVP_LOG_WARNING, "tls: the system's CA certificates did not load: %s",
                      gnutls_strerror(n));
    }
    *out = creds;
    return 0;
fail:
    gnutls_certificate_free_credentials(creds);
    return -1;
}
