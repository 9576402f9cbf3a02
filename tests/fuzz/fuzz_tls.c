/* Fuzz target: the tls layer (plugin/tls: GnuTLS over evp_io buffers, the handshake and
 * record glue, close_notify and alert handling) on one side of a connection.
 * Input: byte 0 chooses
 *   bit 0     the side: 0 a server session reads the rest as the client's stream;
 *             1 a client session (allowInsecure) reads it as the server's stream;
 *   bit 1     a real first flight goes first (server side: a ClientHello from the layer's
 *             own client; client side: the layer's own server's answer to the client's
 *             hello), then the rest raw, to reach the later handshake states and records;
 *   bit 2     the input ends with an end of stream (in_eof) from below;
 *   bit 3     the layer above writes bytes and then its end after every piece;
 * byte 1 is the piece size (1..256) the stream is decoded in. Checked: the ABI's promises
 * (fuzz_check_io), no hook called after EVP_ERR or after EVP_EOF, an error has a reason. */
#include "../../plugin/tls/plugin.h"
#include "fuzz_host.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static void *server_inst, *client_inst;

static const evp_transport_ops *ops(void)
{
    return tls_plugin.transport;
}

/* A self-signed ECDSA certificate for example.test, made once, as tlsSettings JSON. */
static char *server_settings(void)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    static char cert_pem[4096], key_pem[1024], json[16384];
    size_t n;
    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
        gnutls_x509_crt_init(&crt) < 0)
        abort();
    gnutls_x509_crt_set_version(crt, 3);
    gnutls_x509_crt_set_serial(crt, "\x01", 1);
    gnutls_x509_crt_set_activation_time(crt, 0);
    gnutls_x509_crt_set_expiration_time(crt, (time_t)4000000000);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "example.test", 12);
    gnutls_x509_crt_set_key(crt, key);
    if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
        abort();
    n = sizeof cert_pem;
    if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, cert_pem, &n) < 0)
        abort();
    n = sizeof key_pem;
    if (gnutls_x509_privkey_export(key, GNUTLS_X509_FMT_PEM, key_pem, &n) < 0)
        abort();
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    /* PEM lines as a JSON array of strings. */
    size_t len = (size_t)snprintf(json, sizeof json, "{\"certificates\":[{\"certificate\":[");
    const char *parts[2] = {cert_pem, key_pem};
    for (int k = 0; k < 2; k++) {
        for (const char *p = parts[k]; *p;) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            len += (size_t)snprintf(json + len, sizeof json - len, "%s\"%.*s\"",
                                    p == parts[k] ? "" : ",", (int)l, p);
            p += l + (nl != NULL);
        }
        len += (size_t)snprintf(json + len, sizeof json - len, k == 0 ? "],\"key\":[" : "]}]}");
    }
    return json;
}

static void *make(int server, const char *settings)
{
    char err[256];
    evp_transport_args a = {sizeof a, server, "fuzz", settings, "{}"};
    void *inst = ops()->instance_new(fuzz_host_get(), &a, err, sizeof err);
    if (inst == NULL)
        abort();
    return inst;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    server_inst = make(1, server_settings());
    /* No resumption: one input must not change the next one's path. */
    client_inst = make(0, "{\"serverName\":\"example.test\",\"allowInsecure\":true,"
                          "\"enableSessionResumption\":false}");
    return 0;
}

typedef struct side {
    void *sess;
    int done; /* a hook returned EVP_ERR, or decode EVP_EOF: no more decode */
    int down_done;
    evp_buf out, back;
} side;

static void *open_session(int server)
{
    evp_addr peer = {EVP_ADDR_DOMAIN, 12, 443, "example.test"};
    void *s = ops()->session_new(server ? server_inst : client_inst, &peer);
    if (s == NULL)
        abort();
    return s;
}

/* One hook call with checks; the status. */
static int call(int (*fn)(void *, evp_io *), side *sd, const uint8_t *in, size_t len, int eof,
                evp_buf *out, size_t *consumed)
{
    evp_io io;
    memset(&io, 0, sizeof io);
    io.in = in;
    io.in_len = len;
    io.in_eof = eof;
    io.out = out;
    io.back = &sd->back;
    int rc = fn(sd->sess, &io);
    fuzz_check_io(&io);
    if (rc == EVP_ERR && io.reason[0] == '\0')
        abort(); /* an error always says why */
    if (rc != EVP_OK && rc != EVP_ERR && rc != EVP_EOF)
        abort();
    *consumed = io.consumed;
    return rc;
}

/* The layer's own client's first flight (its ClientHello) into hello. */
static void client_hello(evp_buf *hello)
{
    side c = {open_session(0), 0, 0, {0}, {0}};
    size_t used;
    if (call(ops()->encode, &c, NULL, 0, 0, hello, &used) != EVP_OK)
        abort();
    ops()->session_free(c.sess);
    fuzz_buf_free(&c.back);
}

/* The layer's own server's answer to a fresh client's hello into answer. */
static void server_answer(evp_buf *answer)
{
    evp_buf hello = {0}, up = {0};
    client_hello(&hello);
    side s = {open_session(1), 0, 0, {0}, {0}};
    size_t used;
    if (call(ops()->decode, &s, hello.data, hello.len, 0, &up, &used) != EVP_OK)
        abort();
    fuzz_buf_put(answer, s.back.data, s.back.len);
    ops()->session_free(s.sess);
    fuzz_buf_free(&s.back);
    fuzz_buf_free(&hello);
    fuzz_buf_free(&up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fuzz_host_reset();
    int client = data[0] & 1, real_first = data[0] & 2, end = data[0] & 4, talk = data[0] & 8;
    size_t piece = (size_t)data[1] + 1;
    evp_buf wire = {0}, down = {0};
    if (real_first)
        (client ? server_answer : client_hello)(&wire);
    fuzz_buf_put(&wire, data + 2, size - 2);

    side sd = {open_session(!client), 0, 0, {0}, {0}};
    size_t used, pos = 0;
    if (client && call(ops()->encode, &sd, NULL, 0, 0, &down, &used) == EVP_ERR)
        sd.done = sd.down_done = 1;
    while (!sd.done && (pos < wire.len || end)) {
        size_t left = wire.len - pos, n = left < piece ? left : piece;
        int last = n == left;
        int rc = call(ops()->decode, &sd, wire.data + pos, n, end && last, &sd.out, &used);
        if (rc == EVP_OK && used != n)
            abort(); /* GnuTLS keeps a partial record itself: all input is taken */
        if (rc == EVP_OK && end && last)
            abort(); /* an end from below always ends the layer (EOF or an error) */
        pos += used;
        sd.done = rc != EVP_OK;
        sd.down_done |= rc == EVP_ERR;
        if (talk && !sd.down_done) {
            static const uint8_t ping[] = "ping";
            rc = call(ops()->encode, &sd, ping, 4, 1, &down, &used);
            sd.down_done = rc == EVP_ERR || used == 4; /* taken with its end: no more */
            sd.done |= rc == EVP_ERR;
        }
    }
    ops()->session_free(sd.sess);
    fuzz_buf_free(&sd.out);
    fuzz_buf_free(&sd.back);
    fuzz_buf_free(&wire);
    fuzz_buf_free(&down);
    return 0;
}
