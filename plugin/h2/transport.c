/* The layer's hooks: one nghttp2 session per connection carrying one stream (see glue.c).
 * decode feeds nghttp2 the bytes from below, passes the stream's DATA up and gives the
 * windows back for what went up; encode offers the bytes from above as the stream's body.
 * The connection outlives the stream's ends (EVP_TR_CONN): decode still reads window updates
 * after the peer's END_STREAM, and encode says EVP_EOF once the stream has ended both ways. */
#include "h2_int.h"

#include <stdio.h>
#include <string.h>

static void *h2_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                             size_t errlen)
{
    return h2_config_new(host, args, err, errlen);
}

static void h2_instance_free(void *inst)
{
    h2_config_free(inst);
}

static void *h2_session_new(void *inst, const evp_addr *peer)
{
    const h2_config *c = inst;
    h2_session *s = c->host->mem_calloc(c->host, 1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->cfg = c;
    if (h2_ng_new(s) != 0) {
        nghttp2_session_del(s->ng);
        c->host->mem_free(c->host, s);
        return NULL;
    }
    return s;
}

static void h2_session_free(void *sess)
{
    h2_session *s = sess;
    if (s == NULL)
        return;
    nghttp2_session_del(s->ng);
    s->cfg->host->mem_free(s->cfg->host, s);
}

static int failed(h2_session *s, evp_io *io)
{
    s->failed = 1;
    snprintf(io->reason, sizeof io->reason, "%s", s->reason[0] ? s->reason : "failed");
    return EVP_ERR;
}

static int h2_decode(void *sess, evp_io *io)
{
    h2_session *s = sess;
    if (s->failed)
        return failed(s, io);
    s->up_out = io->out;
    s->to_consume = s->conn_consume = 0;
    ssize_t n = nghttp2_session_mem_recv(s->ng, io->in, io->in_len);
    s->up_out = NULL;
    if (n < 0 && !s->failed)
        snprintf(s->reason, sizeof s->reason, "%s", nghttp2_strerror((int)n));
    io->consumed = io->in_len;
    if (n < 0 || s->failed) {
        h2_ng_flush(s, io->back); /* its GOAWAY still goes, when it has one */
        return failed(s, io);
    }
    /* What went up is the host's now: the peer may send as much again. */
    if (s->to_consume > 0)
        nghttp2_session_consume(s->ng, s->stream_id, s->to_consume);
    if (s->conn_consume > 0)
        nghttp2_session_consume_connection(s->ng, s->conn_consume);
    if (s->eof_above && !s->end_sent && s->stream_id > 0)
        nghttp2_session_resume_data(s->ng, s->stream_id); /* our END_STREAM waited */
    if (h2_ng_flush(s, io->back) != 0 || s->refused)
        return failed(s, io);
    if (s->up_ended)
        return EVP_EOF;
    if (io->in_eof) {
        snprintf(s->reason, sizeof s->reason, "the connection ended %s",
                 s->accepted ? "inside the stream" : "before the stream began");
        return failed(s, io);
    }
    return EVP_OK;
}

static int h2_encode(void *sess, evp_io *io)
{
    h2_session *s = sess;
    if (s->failed)
        return failed(s, io);
    if (!s->cfg->server && !s->started && h2_client_start(s) != 0)
        return failed(s, io);
    s->enc_in = io->in;
    s->enc_len = io->in_len;
    s->enc_taken = 0;
    s->enc_eof = io->in_eof;
    int ready = s->cfg->server ? s->accepted : s->started;
    if (ready && !s->end_sent && (io->in_len > 0 || io->in_eof))
        nghttp2_session_resume_data(s->ng, s->stream_id);
    int r = h2_ng_flush(s, io->out);
    io->consumed = s->enc_taken;
    if (io->in_eof && s->enc_taken == s->enc_len)
        s->eof_above = 1; /* END_STREAM goes when the window lets it, if it did not yet */
    s->enc_in = NULL;
    s->enc_len = s->enc_taken = 0;
    s->enc_eof = 0;
    if (r != 0)
        return failed(s, io);
    /* EVP_TR_CONN: the connection ends below once the stream has ended both ways. */
    return s->eof_above && s->end_sent && s->up_ended ? EVP_EOF : EVP_OK;
}

const evp_transport_ops h2_transport_ops = {
    .size = sizeof(evp_transport_ops),
    .instance_new = h2_instance_new,
    .instance_free = h2_instance_free,
    .instance_update = NULL, /* nothing read from files */
    .session_new = h2_session_new,
    .session_free = h2_session_free,
    .decode = h2_decode,
    .encode = h2_encode,
    .session_idle = NULL,
    .flags = EVP_TR_CONN, /* window updates go on after END_STREAM */
};
