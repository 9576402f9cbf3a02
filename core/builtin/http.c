/* HTTP proxy inbound, V2Ray 4.34's "http" (proxy/http/server.go) in its settings shape:
 * `accounts[{user, pass}]` (Basic Proxy-Authorization, else 407 with Proxy-Authenticate),
 * `allowTransparent`, `timeout`, `userLevel`.
 *
 * CONNECT host:port: the target is dialled, then "200 Connection established" and the
 * stream passes through. Any other method with an absolute-form target (http://host/path)
 * is forwarded once: the head is rewritten to origin form with Host from the URL, without
 * Proxy-* and hop-by-hop headers and with "Connection: close", then its Content-Length body
 * passes and the origin's answer comes back unchanged until it closes. Unlike V2Ray, which
 * parses the answer to keep the client's connection for another request, one request is
 * forwarded per connection: bytes after its body are dropped (never sent on with the
 * client's Proxy-Authorization in them) and a body in Transfer-Encoding is refused (501).
 * An origin-form target is read with the Host header only when allowTransparent is set
 * (else 400, as V2Ray). A failed dial answers 503. */
#include "builtin.h"
#include "common.h"
#include "http_request.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

#define HEAD_MAX 16384 /* a longer request head is refused */
#define ACCOUNT_MAX 512 /* "user:pass" as the Basic credentials carry it */

static const char REPLY_OK[] = "HTTP/1.1 200 Connection established\r\n\r\n";
static const char REPLY_407[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                                "Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
static const char REPLY_400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                "Proxy-Connection: close\r\nConnection: close\r\n\r\n";
static const char REPLY_501[] = "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n"
                                "Proxy-Connection: close\r\nConnection: close\r\n\r\n";
static const char REPLY_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                "Proxy-Connection: close\r\nConnection: close\r\n\r\n";

typedef struct http_account {
    size_t len; /* of "user:pass" */
    size_t ulen;
    char cred[ACCOUNT_MAX]; /* "user:pass", wiped on free */
} http_account;

typedef struct http_inst {
    const evp_host *host;
    int transparent; /* allowTransparent */
    uint32_t level;  /* userLevel: the policy level of its sessions */
    size_t naccounts;
    http_account *accounts; /* owned */
} http_inst;

enum http_state { ST_HEAD, ST_TUNNEL, ST_REWRITE, ST_BODY, ST_DEAD };

typedef struct http_sess {
    const http_inst *inst; /* the host keeps the instance alive while sessions run */
    uint8_t state; /* enum http_state */
    uint8_t connected;
    uint8_t dropped_logged;
    size_t head_len; /* ST_REWRITE: the request head at the front of the input */
    unsigned long long body_left; /* ST_BODY: request body bytes still to pass */
    char user[256]; /* the authenticated user, or "" */
} http_sess;

/* Answers reply and fails the session with why. */
static int refuse(http_sess *s, evp_io *io, const char *reply, const char *why)
{
    s->state = ST_DEAD;
    evp_builtin_put(s->inst->host, io, io->back, reply, strlen(reply));
    snprintf(io->reason, sizeof io->reason, "http: %s", why);
    return EVP_ERR;
}

/* Checks Proxy-Authorization against every account without stopping early. */
static int authorized(http_sess *s, const evp_http_head *h)
{
    const http_inst *in = s->inst;
    if (in->naccounts == 0)
        return 1;
    evp_http_span v;
    if (!evp_http_head_get(h, "Proxy-Authorization", &v) || v.len < 6 ||
        strncmp(v.p, "Basic ", 6) != 0)
        return 0;
    unsigned char cred[ACCOUNT_MAX];
    size_t len = 0;
    if (sodium_base642bin(cred, sizeof cred, v.p + 6, v.len - 6, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    const http_account *hit = NULL;
    for (size_t i = 0; i < in->naccounts; i++) {
        const http_account *a = &in->accounts[i];
        int ok = a->len == len && sodium_memcmp(a->cred, cred, a->len == len ? len : 0) == 0;
        if (ok && hit == NULL)
            hit = a;
    }
    sodium_memzero(cred, sizeof cred);
    if (hit == NULL)
        return 0;
    memcpy(s->user, hit->cred, hit->ulen < sizeof s->user ? hit->ulen : sizeof s->user - 1);
    return 1;
}

/* Content-Length as a number: 0 when absent, -1 when malformed. */
static long long content_length(const evp_http_head *h)
{
    evp_http_span v;
    if (!evp_http_head_get(h, "Content-Length", &v))
        return 0;
    long long n = 0;
    if (v.len == 0 || v.len > 18)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    return n;
}

/* A forwarded request: the target from the URL (or Host, when transparent). The head stays
 * in the input, to be rewritten by the first decode after the target is named (the host
 * sends on what decode writes then, not what it writes with EVP_TARGET). */
static int plain_target(http_sess *s, const evp_http_head *h, evp_io *io, evp_http_span *origin,
                        evp_http_span *authority)
{
    uint16_t dport = 80;
    if (evp_http_absolute(h->target, authority, origin, &dport) != 0) {
        if (!s->inst->transparent || h->target.p[0] != '/')
            return refuse(s, io, REPLY_400, "not an absolute URI (allowTransparent is off)");
        if (!evp_http_head_get(h, "Host", authority))
            return refuse(s, io, REPLY_400, "no Host for an origin-form request");
        *origin = h->target;
    }
    if (evp_http_authority(*authority, dport, &io->target) != 0)
        return refuse(s, io, REPLY_400, "malformed proxy host");
    evp_http_span te;
    if (evp_http_head_get(h, "Transfer-Encoding", &te))
        return refuse(s, io, REPLY_501, "a request body in Transfer-Encoding is not supported");
    long long body = content_length(h);
    if (body < 0)
        return refuse(s, io, REPLY_400, "malformed Content-Length");
    s->body_left = (unsigned long long)body;
    return EVP_TARGET;
}

/* ST_REWRITE: the head (s->head_len bytes, checked by read_head) goes on in origin form. */
static int rewrite_head(http_sess *s, evp_io *io)
{
    evp_http_head h;
    evp_http_span origin, authority;
    evp_io probe = *io;
    if (io->in_len < s->head_len ||
        evp_http_head_parse((const char *)io->in, s->head_len, &h) != 0 ||
        plain_target(s, &h, &probe, &origin, &authority) != EVP_TARGET) {
        snprintf(io->reason, sizeof io->reason, "http: request head lost");
        return EVP_ERR;
    }
    char head[HEAD_MAX + 64];
    size_t n = evp_http_origin_head(&h, origin, authority, head, sizeof head);
    if (n == 0)
        return refuse(s, io, REPLY_400, "request head too long");
    if (evp_builtin_put(s->inst->host, io, io->out, head, n) != 0)
        return EVP_ERR;
    s->state = ST_BODY;
    return EVP_OK;
}

static int read_head(http_sess *s, evp_io *io)
{
    long end = evp_http_head_end(io->in, io->in_len, HEAD_MAX);
    if (end < 0)
        return refuse(s, io, REPLY_400, "request head longer than 16 KiB");
    if (end == 0) {
        if (!io->in_eof)
            return EVP_OK;
        s->state = ST_DEAD;
        snprintf(io->reason, sizeof io->reason, "http: client closed during the request head");
        return EVP_ERR;
    }
    evp_http_head h;
    if (evp_http_head_parse((const char *)io->in, (size_t)end, &h) != 0)
        return refuse(s, io, REPLY_400, "malformed request head");
    if (!authorized(s, &h))
        return refuse(s, io, REPLY_407, "proxy authentication missing or wrong");
    io->network = EVP_NET_TCP;
    if (h.method.len == 7 && memcmp(h.method.p, "CONNECT", 7) == 0) {
        /* no port: 80, as V2Ray's (its default is 443 only for an https: URL) */
        if (evp_http_authority(h.target, 80, &io->target) != 0)
            return refuse(s, io, REPLY_400, "malformed CONNECT authority");
        io->consumed = (size_t)end;
        s->state = ST_TUNNEL;
        return EVP_TARGET;
    }
    evp_http_span origin, authority;
    int r = plain_target(s, &h, io, &origin, &authority);
    if (r == EVP_TARGET) {
        s->head_len = (size_t)end;
        s->state = ST_REWRITE;
    }
    return r;
}

/* The forwarded request's body from in[skip..], then nothing: later bytes are dropped. */
static int pass_body(http_sess *s, evp_io *io, size_t skip)
{
    size_t n = io->in_len - skip;
    size_t take = n < s->body_left ? n : (size_t)s->body_left;
    if (evp_builtin_put(s->inst->host, io, io->out, io->in + skip, take) != 0)
        return EVP_ERR;
    s->body_left -= take;
    io->consumed = io->in_len;
    if (n > take && !s->dropped_logged) {
        s->dropped_logged = 1;
        s->inst->host->log(EVP_LOG_DEBUG, "http: bytes after the forwarded request dropped "
                                          "(one request per connection)");
    }
    return io->in_eof ? EVP_EOF : EVP_OK;
}

static int http_decode(void *sp, evp_io *io)
{
    http_sess *s = sp;
    switch (s->state) {
    case ST_HEAD:
        return read_head(s, io);
    case ST_TUNNEL:
        return evp_builtin_pass_decode(s->inst->host, io);
    case ST_REWRITE:
        if (rewrite_head(s, io) != EVP_OK)
            return EVP_ERR;
        return pass_body(s, io, s->head_len);
    case ST_BODY:
        return pass_body(s, io, 0);
    default:
        snprintf(io->reason, sizeof io->reason, "http: session already failed");
        return EVP_ERR;
    }
}

static int http_encode(void *sp, evp_io *io)
{
    http_sess *s = sp;
    if (!s->connected && io->in_len > 0) {
        snprintf(io->reason, sizeof io->reason, "http: target data before the dial ended");
        return EVP_ERR;
    }
    return evp_builtin_pass(s->inst->host, io);
}

static int http_connected(void *sp, int ok, evp_io *io)
{
    http_sess *s = sp;
    if (!ok)
        return refuse(s, io, REPLY_503, "outbound failed (answered 503)");
    s->connected = 1;
    if (s->state == ST_TUNNEL &&
        evp_builtin_put(s->inst->host, io, io->back, REPLY_OK, sizeof REPLY_OK - 1) != 0)
        return EVP_ERR;
    return EVP_OK;
}

static const char *http_session_user(void *sp)
{
    http_sess *s = sp;
    return s->user[0] ? s->user : NULL;
}

/* settings.userLevel: the policy level of every session, as V2Ray's HTTP server applies. */
static uint32_t http_session_level(void *sp)
{
    return ((http_sess *)sp)->inst->level;
}

static void *http_session_new(void *ip)
{
    return evp_builtin_session_new(ip, sizeof(http_sess)); /* ST_HEAD is 0 */
}

static void http_instance_free(void *ip)
{
    http_inst *in = ip;
    if (in == NULL)
        return;
    evp_builtin_free_wiped(in->host, in->accounts, in->naccounts * sizeof *in->accounts);
    in->host->free(in);
}

static int parse_account(const json_t *o, size_t i, http_account *a, char *err, size_t errlen)
{
    const char *user, *pass;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "settings.accounts[%zu]: not an object", i);
        return -1;
    }
    if (evp_builtin_get_str(o, "user", "", &user, err, errlen) != 0 ||
        evp_builtin_get_str(o, "pass", "", &pass, err, errlen) != 0)
        return -1;
    int n = snprintf(a->cred, sizeof a->cred, "%s:%s", user, pass);
    if (n < 0 || (size_t)n >= sizeof a->cred) {
        snprintf(err, errlen, "settings.accounts[%zu]: user and pass too long", i);
        return -1;
    }
    a->len = (size_t)n;
    a->ulen = strlen(user);
    return 0;
}

static int parse_settings(void *ip, const json_t *o, char *err, size_t errlen)
{
    http_inst *in = ip;
    long long timeout, level;
    /* timeout is V2Ray's; read for its type, the policy's limits apply */
    if (evp_builtin_get_bool(o, "allowTransparent", 0, &in->transparent, err, errlen) != 0 ||
        evp_builtin_get_int(o, "timeout", 0, UINT32_MAX, 0, &timeout, err, errlen) != 0 ||
        evp_builtin_get_int(o, "userLevel", 0, UINT32_MAX, 0, &level, err, errlen) != 0)
        return -1;
    in->level = (uint32_t)level;
    const json_t *acc = json_object_get(o, "accounts");
    if (acc != NULL && !json_is_null(acc) && !json_is_array(acc)) {
        snprintf(err, errlen, "settings.accounts: not an array");
        return -1;
    }
    size_t n = json_array_size(acc);
    if (n > 0 && (in->accounts = in->host->calloc(n, sizeof *in->accounts)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->naccounts = n;
    for (size_t i = 0; i < n; i++)
        if (parse_account(json_array_get(acc, i), i, &in->accounts[i], err, errlen) != 0)
            return -1;
    return 0;
}

static void *http_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                               size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(http_inst), parse_settings,
                                    http_instance_free, err, errlen);
}

static const evp_inbound_ops http_inbound = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = http_instance_new,
    .instance_free = http_instance_free,
    .session_new = http_session_new,
    .session_free = evp_builtin_session_free,
    .decode = http_decode,
    .encode = http_encode,
    .connected = http_connected,
    .session_user = http_session_user,
    .session_level = http_session_level,
    /* no EVP_IN_PASS: a forwarded request's decode counts its body and drops what follows */
};

static const evp_plugin http_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "http",
    .version = EVP_VERSION,
    .inbound_schema = "http-inbound",
    .inbound = &http_inbound,
    .outbound_schema = "http-outbound",
    .outbound = &evp_builtin_http_outbound,
};

const evp_plugin *evp_builtin_http(void)
{
    return &http_plugin;
}
