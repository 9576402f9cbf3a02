/* "http-header": V2Ray's TCP HTTP header disguise (tcpSettings.header.type "http") as a
 * stream transport. Only the first exchange carries headers, as in V2Ray: the client
 * writes its request just before its first bytes and reads the response header before
 * passing anything up; the server reads the request (refusing it with V2Ray's 400 or 404)
 * and writes its response header just before its first bytes. Then bytes pass unchanged. */
#include "evproxy/plugin.h"

#include "reader.h"
#include "settings.h"

#include <stdio.h>
#include <string.h>

#ifndef HH_PLUGIN_VERSION
#define HH_PLUGIN_VERSION "0.1.0"
#endif

typedef struct hh_inst {
    const evp_host *host; /* this module's table: allocations are counted on it */
    int server;
    hh_settings settings; /* read-only once built: sessions on any worker share it */
} hh_inst;

typedef struct hh_sess {
    const hh_inst *inst;
    hh_reader reader;
    int head_read; /* the peer's header is read whole */
    int head_sent; /* ours is written (or never will be) */
} hh_sess;

static void *hh_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                             size_t errlen)
{
    hh_inst *in = host->mem_calloc(host, 1, sizeof *in);
    if (in == NULL) {
        snprintf(err, errlen, "http-header: out of memory");
        return NULL;
    }
    in->host = host;
    in->server = args->server;
    if (hh_settings_parse(host, args->settings_json, &in->settings, err, errlen) != 0) {
        host->mem_free(host, in);
        return NULL;
    }
    return in;
}

static void hh_instance_free(void *ip)
{
    hh_inst *in = ip;
    if (in == NULL)
        return;
    hh_settings_free(in->host, &in->settings);
    in->host->mem_free(in->host, in);
}

static void *hh_session_new(void *ip, const evp_addr *peer)
{
    hh_inst *in = ip;
    hh_sess *s = in->host->mem_calloc(in->host, 1, sizeof *s);
    if (s != NULL)
        s->inst = in;
    return s;
}

static void hh_session_free(void *sp)
{
    hh_sess *s = sp;
    if (s != NULL)
        s->inst->host->mem_free(s->inst->host, s);
}

static int put(const evp_host *h, evp_io *io, evp_buf *b, const uint8_t *p, size_t n)
{
    if (n == 0)
        return EVP_OK;
    uint8_t *dst = h->buf_reserve(b, n);
    if (dst == NULL) {
        snprintf(io->reason, sizeof io->reason, "out of memory");
        return EVP_ERR;
    }
    memcpy(dst, p, n);
    b->len += n;
    return EVP_OK;
}

/* Passes in[skip..] up unchanged; the end of input is this layer's end too. */
static int pass_up(hh_sess *s, evp_io *io, size_t skip)
{
    if (put(s->inst->host, io, io->out, io->in + skip, io->in_len - skip) != EVP_OK)
        return EVP_ERR;
    io->consumed = io->in_len;
    return io->in_eof ? EVP_EOF : EVP_OK;
}

/* The host's log line names the layer: the reason need not. */
static int fail(evp_io *io, const char *why)
{
    snprintf(io->reason, sizeof io->reason, "%s", why);
    return EVP_ERR;
}

/* Server: V2Ray's answer to a request it refuses goes back before the close. */
static int refuse(hh_sess *s, evp_io *io, int verdict)
{
    const hh_settings *st = &s->inst->settings;
    s->head_sent = 1;
    if (hh_template_render(s->inst->host,
                           verdict == HH_NOT_FOUND ? &st->not_found : &st->bad_request,
                           io->back) != 0)
        return fail(io, "out of memory");
    if (verdict == HH_NOT_FOUND)
        return fail(io, "request for a path not configured (404 sent)");
    if (verdict == HH_TOO_LONG)
        return fail(io, "request header longer than 8192 bytes (400 sent)");
    return EVP_ERR; /* io->reason says what Go's parser would say */
}

static int hh_decode(void *sp, evp_io *io)
{
    hh_sess *s = sp;
    if (s->head_read)
        return pass_up(s, io, 0);
    size_t len = 0;
    int v = s->inst->server
                ? hh_read_request(&s->reader, io->in, io->in_len, &s->inst->settings.paths, &len,
                                  io->reason, sizeof io->reason)
                : hh_read_response(&s->reader, io->in, io->in_len, &len);
    if (v == HH_OK) {
        s->head_read = 1;
        return pass_up(s, io, len);
    }
    if (v == HH_MORE && !io->in_eof)
        return EVP_OK; /* consumed 0: the header so far is offered again with more */
    if (!s->inst->server)
        return fail(io, v == HH_MORE ? "the server closed before its response header ended"
                                     : "response header longer than 8192 bytes");
    if (v == HH_MORE) {
        fail(io, "the client closed before its request header ended");
        v = HH_BAD;
    }
    return refuse(s, io, v);
}

static int hh_encode(void *sp, evp_io *io)
{
    hh_sess *s = sp;
    const hh_settings *st = &s->inst->settings;
    if (!s->head_sent && (io->in_len > 0 || io->in_eof)) {
        s->head_sent = 1;
        /* A server that ends without having answered sends V2Ray's 400 (its Close does);
         * a client that sent nothing sends nothing. */
        const hh_template *t = !s->inst->server ? (io->in_len ? &st->request : NULL)
                               : io->in_len     ? &st->response
                                                : &st->bad_request;
        if (t != NULL && hh_template_render(s->inst->host, t, io->out) != 0)
            return fail(io, "out of memory");
    }
    if (put(s->inst->host, io, io->out, io->in, io->in_len) != EVP_OK)
        return EVP_ERR;
    io->consumed = io->in_len;
    return EVP_OK;
}

static const evp_transport_ops hh_transport = {
    .size = sizeof(evp_transport_ops),
    .instance_new = hh_instance_new,
    .instance_free = hh_instance_free,
    .session_new = hh_session_new,
    .session_free = hh_session_free,
    .decode = hh_decode,
    .encode = hh_encode,
};

static const evp_plugin hh_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "http-header",
    .version = HH_PLUGIN_VERSION,
    .transport = &hh_transport,
    .transport_schema = "tcp-settings",
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &hh_plugin;
}
