/* SOCKS5 outbound, V2Ray 4.34's "socks" client (proxy/socks/client.go): to a server of
 * settings.servers (in turn), the greeting offers one method, username/password (RFC 1929)
 * when the server has users (the first one's credentials) and "no authentication" else;
 * then CONNECT with the target as a domain or an IP. A refusal ends the session with the
 * reply code named; after the reply the stream passes through.
 *
 * Unlike V2Ray's client, which waits for each answer, the greeting, the credentials, the
 * CONNECT and the client's bytes go at once ("optimistic data", as Tor's SOCKS port takes
 * it): one method is offered, so the answers are known in advance, and client bytes then
 * wait in the server's write buffer, under the host's backpressure, rather than in a store
 * of ours that a fast client (a vmess session through proxySettings) would fill. The answers
 * are checked in order. A server that drops bytes sent ahead of its answer is not served. */
#include "builtin.h"
#include "common.h"
#include "socks_addr.h"
#include "upstream.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    VER = 0x05,
    AUTH_VER = 0x01,
    METHOD_NONE = 0x00,
    METHOD_PASSWORD = 0x02,
    CMD_CONNECT = 0x01,
};

/* Which answer the server owes next. */
enum out_state { OS_HELLO, OS_GREET, OS_AUTH, OS_REPLY, OS_OPEN };

typedef struct socks_out_sess {
    evp_upstream_sess u;
    uint8_t state; /* enum out_state */
} socks_out_sess;

static int failed(evp_io *io, const char *fmt, ...) EVP_PRINTF(2, 3);

static int failed(evp_io *io, const char *fmt, ...)
{
    char why[100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(io->reason, sizeof io->reason, "socks outbound: %s", why);
    return EVP_ERR;
}

static const char *reply_name(uint8_t rep)
{
    static const char *const names[] = {
        "succeeded",          "general failure",    "not allowed by ruleset",
        "network unreachable", "host unreachable",  "connection refused",
        "TTL expired",        "command not supported", "address type not supported",
    };
    return rep < sizeof names / sizeof names[0] ? names[rep] : "unknown code";
}

static int parse_any(void *up, const json_t *o, char *err, size_t errlen)
{
    return evp_upstream_parse(up, o, err, errlen);
}

static void *socks_out_instance_new(const evp_host *host, const evp_instance_args *args,
                                    char *err, size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(evp_upstream), parse_any,
                                    evp_upstream_free, err, errlen);
}

static void *socks_out_session_new(void *ip, const evp_addr *target, uint8_t network,
                                   evp_addr *dial, char *err, size_t errlen)
{
    evp_upstream *up = ip;
    uint8_t probe[EVP_SOCKS_ADDR_MAX];
    if (network != EVP_NET_TCP) {
        snprintf(err, errlen, "socks outbound: UDP (UDP ASSOCIATE) is not built");
        return NULL;
    }
    if (target == NULL || evp_socks_addr_write(target, probe) == 0) {
        snprintf(err, errlen, "socks outbound: no target to ask for");
        return NULL;
    }
    return evp_upstream_session_new(up, sizeof(socks_out_sess), target, dial, err, errlen);
}

static void socks_out_session_free(void *sp)
{
    socks_out_sess *s = sp;
    if (s == NULL)
        return;
    evp_builtin_free_wiped(s->u.host, s, sizeof *s);
}

/* Greeting, RFC 1929 credentials when the server has users, CONNECT: all at once. */
static int send_handshake(socks_out_sess *s, evp_io *io)
{
    uint8_t msg[3 + 3 + 2 * EVP_UPSTREAM_CRED_MAX + 3 + EVP_SOCKS_ADDR_MAX];
    size_t n = 0;
    msg[n++] = VER;
    msg[n++] = 1;
    msg[n++] = s->u.server.has_user ? METHOD_PASSWORD : METHOD_NONE;
    if (s->u.server.has_user) { /* VER ULEN UNAME PLEN PASSWD */
        msg[n++] = AUTH_VER;
        msg[n++] = s->u.server.ulen;
        memcpy(msg + n, s->u.server.user, s->u.server.ulen);
        n += s->u.server.ulen;
        msg[n++] = s->u.server.plen;
        memcpy(msg + n, s->u.server.pass, s->u.server.plen);
        n += s->u.server.plen;
    }
    msg[n++] = VER;
    msg[n++] = CMD_CONNECT;
    msg[n++] = 0x00;
    n += evp_socks_addr_write(&s->u.target, msg + n);
    int rc = evp_builtin_put(s->u.host, io, io->out, msg, n);
    sodium_memzero(msg, n);
    s->state = OS_GREET;
    return rc;
}

static int socks_out_encode(void *sp, evp_io *io)
{
    socks_out_sess *s = sp;
    if (s->state == OS_HELLO && send_handshake(s, io) != 0)
        return EVP_ERR;
    return evp_builtin_pass(s->u.host, io);
}

/* The CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT. */
static int read_reply(socks_out_sess *s, evp_io *io)
{
    if (io->in_len < 2)
        return EVP_OK;
    if (io->in[0] != VER)
        return failed(io, "the server's reply has version %u, not 5", io->in[0]);
    if (io->in[1] != 0x00)
        return failed(io, "the server refused CONNECT: reply %u (%s)", io->in[1],
                      reply_name(io->in[1]));
    if (io->in_len < 4)
        return EVP_OK;
    evp_addr bound;
    int n = evp_socks_addr_read(io->in + 3, io->in_len - 3, &bound);
    if (n == EVP_SOCKS_ADDR_MORE)
        return EVP_OK;
    if (n < 0)
        return failed(io, "the server's reply has a bad address (type %u)", io->in[3]);
    io->consumed = 3 + (size_t)n;
    s->state = OS_OPEN;
    return EVP_OK;
}

static int socks_out_decode(void *sp, evp_io *io)
{
    socks_out_sess *s = sp;
    io->consumed = 0;
    if (s->state == OS_OPEN)
        return evp_builtin_pass_decode(s->u.host, io);
    if (s->state == OS_REPLY)
        return read_reply(s, io);
    if (s->state == OS_HELLO)
        return failed(io, "the server spoke before the greeting (%u bytes)",
                      (unsigned)io->in_len);
    if (io->in_len < 2)
        return EVP_OK;
    io->consumed = 2;
    if (s->state == OS_GREET) {
        uint8_t want = s->u.server.has_user ? METHOD_PASSWORD : METHOD_NONE;
        if (io->in[0] != VER)
            return failed(io, "the server's greeting has version %u, not 5", io->in[0]);
        if (io->in[1] != want)
            return failed(io, "the server refused the authentication method (it chose %#x)",
                          io->in[1]);
        s->state = want == METHOD_PASSWORD ? OS_AUTH : OS_REPLY;
        return EVP_OK;
    }
    if (io->in[1] != 0x00)
        return failed(io, "the server refused the username/password (status %u)", io->in[1]);
    s->state = OS_REPLY;
    return EVP_OK;
}

const evp_outbound_ops evp_builtin_socks_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = socks_out_instance_new,
    .instance_free = evp_upstream_free,
    .session_new = socks_out_session_new,
    .session_free = socks_out_session_free,
    .encode = socks_out_encode,
    .decode = socks_out_decode,
};
