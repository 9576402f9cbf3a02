/* "proxy-protocol" transport, server side only: a trusted front (haproxy, nginx) starts
 * each connection with a PROXY protocol header naming the client. The layer reads exactly
 * that header, tells the host the client's address (EVP_TARGET) and then passes every byte
 * through unchanged. A connection without a valid header is refused, as V2Ray 4.34 does
 * (go-proxyproto with its REQUIRE policy). */
#include "builtin.h"
#include "common.h"
#include "proxy_header.h"

#include <stdio.h>
#include <string.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

typedef struct pp_inst {
    const evp_host *host;
} pp_inst;

enum pp_phase {
    PHASE_HEADER, /* waiting for the whole header (at most PP_V1_MAX bytes are looked at) */
    PHASE_SKIP,   /* discarding the rest of a v2 header (TLVs), streamed, never buffered */
    PHASE_PASS,   /* the client's own bytes */
};

typedef struct pp_sess {
    const evp_host *host;
    enum pp_phase phase;
    uint32_t skip; /* PHASE_SKIP: header bytes still to discard */
} pp_sess;

static void *pp_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                             size_t errlen)
{
    if (!args->server) {
        snprintf(err, errlen,
                 "proxy-protocol: a server-side layer (acceptProxyProtocol on an "
                 "inbound); an outbound cannot use it");
        return NULL;
    }
    pp_inst *in = host->calloc(1, sizeof *in);
    if (in == NULL) {
        snprintf(err, errlen, "proxy-protocol: out of memory");
        return NULL;
    }
    in->host = host;
    return in;
}

static void pp_instance_free(void *ip)
{
    pp_inst *in = ip;
    if (in != NULL)
        in->host->free(in);
}

static void *pp_session_new(void *ip, const evp_addr *peer)
{
    pp_inst *in = ip;
    pp_sess *s = in->host->calloc(1, sizeof *s);
    if (s != NULL)
        s->host = in->host;
    return s;
}

static void pp_session_free(void *sp)
{
    pp_sess *s = sp;
    if (s != NULL)
        s->host->free(s);
}

/* Drops the first n bytes of io's input, runs fn on the rest, and counts the n as used. */
static int after(pp_sess *s, evp_io *io, size_t n, int (*fn)(pp_sess *, evp_io *))
{
    io->in += n;
    io->in_len -= n;
    int r = fn(s, io);
    io->in -= n;
    io->in_len += n;
    io->consumed += n;
    return r;
}

static int pass(pp_sess *s, evp_io *io)
{
    return evp_builtin_pass_decode(s->host, io);
}

static int skip_rest(pp_sess *s, evp_io *io)
{
    size_t n = io->in_len < s->skip ? io->in_len : s->skip;
    s->skip -= (uint32_t)n;
    if (s->skip == 0) {
        s->phase = PHASE_PASS;
        return after(s, io, n, pass);
    }
    io->consumed = n;
    if (io->in_eof) {
        snprintf(io->reason, sizeof io->reason,
                 "PROXY protocol: the connection ended inside "
                 "the v2 header");
        return EVP_ERR;
    }
    return EVP_OK;
}

static int read_header(pp_sess *s, evp_io *io)
{
    pp_header h;
    int v = pp_header_parse(io->in, io->in_len, &h, io->reason, sizeof io->reason);
    if (v == PP_BAD)
        return EVP_ERR;
    if (v == PP_MORE) {
        io->consumed = 0;
        if (!io->in_eof)
            return EVP_OK;
        snprintf(io->reason, sizeof io->reason, "PROXY protocol: the connection ended %s",
                 io->in_len ? "inside the header" : "before a header");
        return EVP_ERR;
    }
    s->skip = h.skip;
    s->phase = PHASE_SKIP;
    if (!h.has_source) /* LOCAL, UNKNOWN...: the socket's own address stands */
        return after(s, io, h.len, skip_rest);
    io->consumed = h.len;
    io->target = h.source;
    io->network = EVP_NET_TCP;
    return EVP_TARGET;
}

static int pp_decode(void *sp, evp_io *io)
{
    pp_sess *s = sp;
    switch (s->phase) {
    case PHASE_HEADER:
        return read_header(s, io);
    case PHASE_SKIP:
        return skip_rest(s, io);
    default:
        return pass(s, io);
    }
}

/* The server says nothing of its own: bytes going down pass unchanged. */
static int pp_encode(void *sp, evp_io *io)
{
    pp_sess *s = sp;
    return evp_builtin_pass(s->host, io);
}

static const evp_transport_ops pp_transport = {
    .size = sizeof(evp_transport_ops),
    .instance_new = pp_instance_new,
    .instance_free = pp_instance_free,
    .session_new = pp_session_new,
    .session_free = pp_session_free,
    .decode = pp_decode,
    .encode = pp_encode,
};

const evp_plugin evp_builtin_proxy_protocol = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "proxy-protocol",
    .version = EVP_VERSION,
    .transport = &pp_transport,
};
