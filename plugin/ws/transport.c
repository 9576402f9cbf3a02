/* The layer's hooks: settings in an instance, one session per connection moving from the
 * upgrade to frames (see ws_int.h for the states). */
#include "handshake.h"
#include "settings.h"
#include "ws_int.h"

#include <string.h>

static void *ws_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                             size_t errlen)
{
    return ws_config_new(host, args, err, errlen);
}

static void ws_instance_free(void *inst)
{
    ws_config_free(inst);
}

static void *ws_session_new(void *inst, const evp_addr *peer)
{
    const ws_config *c = inst;
    ws_session *s = c->host->mem_calloc(c->host, 1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = c;
    if (peer != NULL)
        s->peer = *peer;
    s->state = WS_HANDSHAKE;
    return s;
}

static void ws_session_free(void *sess)
{
    ws_session *s = sess;
    if (s == NULL)
        return;
    ws_frames_close(&s->frames);
    s->cfg->host->mem_free(s->cfg->host, s);
}

/* The handshake's part of decode: EVP_OK once frames may follow (s->state WS_OPEN), or
 * what the handshake returned while it is not done. */
static int handshake_decode(ws_session *s, evp_io *io)
{
    int r;
    if (s->cfg->server) {
        r = ws_server_handshake(s, io);
    } else if (s->state == WS_WAIT_101) {
        r = ws_client_response(s, io);
    } else if (io->in_len > 0) {
        return ws_fail(io, "the server spoke before the upgrade request");
    } else {
        return io->in_eof ? ws_fail(io, "the connection ended before the upgrade") : EVP_OK;
    }
    if (r != EVP_OK || s->state != WS_OPEN)
        return r;
    /* The layer above ended while the handshake ran: its Close goes now. */
    if (s->eof_pending && ws_frames_send_close(&s->frames, io->back) != 0)
        return ws_fail(io, "out of memory");
    return EVP_OK;
}

static int ws_decode(void *sess, evp_io *io)
{
    ws_session *s = sess;
    int r = EVP_OK;
    if (s->state == WS_FAILED)
        return ws_fail(io, "the session already failed");
    if (s->state == WS_ENDED) {
        io->consumed = io->in_len;
        return EVP_EOF;
    }
    if (s->state != WS_OPEN)
        r = handshake_decode(s, io);
    if (r == EVP_OK && s->state == WS_OPEN)
        r = ws_frames_decode(&s->frames, io);
    if (r == EVP_EOF)
        s->state = WS_ENDED;
    else if (r == EVP_ERR)
        s->state = WS_FAILED;
    return r;
}

static int ws_encode(void *sess, evp_io *io)
{
    ws_session *s = sess;
    if (s->state == WS_FAILED)
        return ws_fail(io, "the session already failed");
    if (s->state == WS_OPEN || s->state == WS_ENDED)
        return ws_frames_encode(&s->frames, io);
    int client_first = !s->cfg->server && s->state == WS_HANDSHAKE;
    /* With early data the client waits for the first bytes from above (or their end). */
    if (client_first && (io->in_len > 0 || io->in_eof || s->cfg->max_early == 0)) {
        if (ws_client_request(s, io) != EVP_OK) {
            s->state = WS_FAILED;
            return EVP_ERR;
        }
    }
    /* The rest waits for the handshake; an end with nothing left is remembered. */
    if (io->in_eof && io->consumed == io->in_len)
        s->eof_pending = 1;
    return EVP_OK;
}

const evp_transport_ops ws_transport_ops = {
    .size = sizeof(evp_transport_ops),
    .instance_new = ws_instance_new,
    .instance_free = ws_instance_free,
    .instance_update = NULL, /* nothing read from files */
    .session_new = ws_session_new,
    .session_free = ws_session_free,
    .decode = ws_decode,
    .encode = ws_encode,
    .session_idle = NULL,
    .flags = 0,
};
