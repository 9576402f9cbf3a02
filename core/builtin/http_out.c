/* HTTP proxy outbound, V2Ray 4.34's "http" client (proxy/http/client.go): to a server of
 * settings.servers (in turn), "CONNECT host:port HTTP/1.1" with Host and, when the server
 * has users, Proxy-Authorization Basic with the first one's credentials. The answer's
 * status must be 200 (anything else ends the session with the status line logged); its
 * head is dropped and the stream passes through. As the socks outbound (socks_out.c), the
 * client's bytes follow the request without waiting for the answer, so they wait under the
 * host's backpressure (V2Ray's server reads them as the tunnel's first bytes). */
#include "builtin.h"
#include "common.h"
#include "upstream.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ANSWER_HEAD_MAX 8192 /* a longer answer head is refused */

typedef struct http_out_sess {
    evp_upstream_sess u;
    uint8_t sent, open;
} http_out_sess;

static int failed(evp_io *io, const char *why)
{
    snprintf(io->reason, sizeof io->reason, "http outbound: %.100s", why);
    return EVP_ERR;
}

static int parse_any(void *up, const json_t *o, char *err, size_t errlen)
{
    return evp_upstream_parse(up, o, err, errlen);
}

static void *http_out_instance_new(const evp_host *host, const evp_instance_args *args,
                                   char *err, size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(evp_upstream), parse_any,
                                    evp_upstream_free, err, errlen);
}

static void *http_out_session_new(void *ip, const evp_addr *target, uint8_t network,
                                  evp_addr *dial, char *err, size_t errlen)
{
    evp_upstream *up = ip;
    if (network != EVP_NET_TCP) {
        snprintf(err, errlen, "http outbound: UDP cannot go through an HTTP proxy");
        return NULL;
    }
    if (target == NULL || target->type == EVP_ADDR_NONE ||
        (target->type == EVP_ADDR_DOMAIN && target->len == 0)) {
        snprintf(err, errlen, "http outbound: no target to ask for");
        return NULL;
    }
    return evp_upstream_session_new(up, sizeof(http_out_sess), target, dial, err, errlen);
}

static void http_out_session_free(void *sp)
{
    http_out_sess *s = sp;
    if (s == NULL)
        return;
    evp_builtin_free_wiped(s->u.host, s, sizeof *s);
}

/* host:port as the request line and Host carry it ("[v6]:port" for IPv6). */
static void authority(const evp_addr *a, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];
    if (a->type == EVP_ADDR_IPV4) {
        inet_ntop(AF_INET, a->bytes, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, a->port);
    } else if (a->type == EVP_ADDR_IPV6) {
        inet_ntop(AF_INET6, a->bytes, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, a->port);
    } else {
        snprintf(out, outlen, "%.*s:%u", (int)a->len, (const char *)a->bytes, a->port);
    }
}

/* "Proxy-Authorization: Basic base64(user:pass)\r\n" into out; its length. */
static size_t auth_header(const evp_upstream_server *sv, char *out, size_t outlen)
{
    uint8_t cred[2 * EVP_UPSTREAM_CRED_MAX + 1];
    char b64[sodium_base64_ENCODED_LEN(sizeof cred, sodium_base64_VARIANT_ORIGINAL)];
    memcpy(cred, sv->user, sv->ulen);
    cred[sv->ulen] = ':';
    memcpy(cred + sv->ulen + 1, sv->pass, sv->plen);
    sodium_bin2base64(b64, sizeof b64, cred, (size_t)sv->ulen + 1 + sv->plen,
                      sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, outlen, "Proxy-Authorization: Basic %s\r\n", b64);
    sodium_memzero(cred, sizeof cred);
    sodium_memzero(b64, sizeof b64);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static int send_request(http_out_sess *s, evp_io *io)
{
    char where[300], auth[800] = "", req[1400];
    authority(&s->u.target, where, sizeof where);
    if (s->u.server.has_user)
        auth_header(&s->u.server, auth, sizeof auth);
    int n = snprintf(req, sizeof req,
                     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%sProxy-Connection: Keep-Alive\r\n\r\n",
                     where, where, auth);
    int rc = evp_builtin_put(s->u.host, io, io->out, req, (size_t)n);
    sodium_memzero(auth, sizeof auth);
    sodium_memzero(req, sizeof req);
    s->sent = 1;
    return rc;
}

static int http_out_encode(void *sp, evp_io *io)
{
    http_out_sess *s = sp;
    if (!s->sent && send_request(s, io) != 0)
        return EVP_ERR;
    return evp_builtin_pass(s->u.host, io);
}

/* The end of the answer's head (after its blank line) within in, or 0 when not there yet. */
static size_t head_end(const uint8_t *in, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (in[i] != '\n')
            continue;
        if (in[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && in[i + 1] == '\r' && in[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* "HTTP/1.x 200 ...": the status, or -1 when the line is not a status line. */
static int status_of(const uint8_t *in, size_t n)
{
    if (n < 12 || memcmp(in, "HTTP/1.", 7) != 0 || in[8] != ' ')
        return -1;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (in[i] < '0' || in[i] > '9')
            return -1;
        code = code * 10 + (in[i] - '0');
    }
    return n == 12 || in[12] == ' ' || in[12] == '\r' || in[12] == '\n' ? code : -1;
}

static int read_answer(http_out_sess *s, evp_io *io)
{
    /* Looked for within the limit only, so the verdict does not depend on how the bytes
     * were split into reads. */
    size_t end = head_end(io->in, io->in_len < ANSWER_HEAD_MAX ? io->in_len : ANSWER_HEAD_MAX);
    if (end == 0) {
        if (io->in_len >= ANSWER_HEAD_MAX)
            return failed(io, "the proxy's answer head is longer than 8192 bytes");
        return EVP_OK;
    }
    int code = status_of(io->in, end);
    if (code != 200) {
        char line[61], why[120];
        size_t k = 0;
        for (; k < sizeof line - 1 && io->in[k] != '\r' && io->in[k] != '\n'; k++)
            line[k] = io->in[k] >= 0x20 && io->in[k] < 0x7f ? (char)io->in[k] : '?';
        line[k] = '\0';
        if (code < 0)
            snprintf(why, sizeof why, "the proxy's answer is not HTTP: \"%s\"", line);
        else
            snprintf(why, sizeof why, "the proxy refused CONNECT: \"%s\"", line);
        return failed(io, why);
    }
    io->consumed = end;
    s->open = 1;
    return EVP_OK;
}

static int http_out_decode(void *sp, evp_io *io)
{
    http_out_sess *s = sp;
    io->consumed = 0;
    if (s->open)
        return evp_builtin_pass_decode(s->u.host, io);
    if (!s->sent)
        return failed(io, "the proxy spoke before the request");
    return read_answer(s, io);
}

const evp_outbound_ops evp_builtin_http_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = http_out_instance_new,
    .instance_free = evp_upstream_free,
    .session_new = http_out_session_new,
    .session_free = http_out_session_free,
    .encode = http_out_encode,
    .decode = http_out_decode,
};
