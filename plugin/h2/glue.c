/* nghttp2 driven sans-I/O: mem_recv/mem_send over the hooks' buffers. One stream per
 * connection: a server takes the first request, announces MAX_CONCURRENT_STREAMS 1 and sends
 * GOAWAY naming that stream, so Go's client opens a new connection for the next session;
 * any other stream is refused (REFUSED_STREAM, which Go retries elsewhere). */
#include "h2_int.h"

#include <stdio.h>
#include <string.h>

#define NV(n, v)                                                                                   \
    {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

static int fail(h2_session *s, const char *why)
{
    if (!s->failed)
        snprintf(s->reason, sizeof s->reason, "%s", why);
    s->failed = 1;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* The body: what encode was given, taken as the window allows; nothing queued defers the
 * stream until the next encode (or decode, when only our END_STREAM is left). */
static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    h2_session *s = user;
    return h2_body_chunk(buf, length, s->enc_in, s->enc_len, &s->enc_taken,
                         s->enc_eof || s->eof_above, flags, &s->end_sent);
}

ssize_t h2_body_chunk(uint8_t *buf, size_t length, const uint8_t *src, size_t avail,
                      size_t *taken, int ended, uint32_t *flags, uint8_t *end_sent)
{
    size_t n = avail - *taken;
    if (n > length)
        n = length;
    if (n > 0)
        memcpy(buf, src + *taken, n);
    *taken += n;
    if (*taken == avail && ended) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        *end_sent = 1;
    } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2_session *s = user;
    if (!s->cfg->server || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (s->stream_id == 0) {
        s->stream_id = f->hd.stream_id;
        return 0;
    }
    return nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                     NGHTTP2_REFUSED_STREAM) == 0
               ? 0
               : fail(s, "out of memory");
}

/* Copies header value v (n bytes) into dst (max + 1 bytes) as a string; a longer one is kept
 * empty and *too_long set. */
static void h2_keep(char *dst, size_t max, uint8_t *too_long, const uint8_t *v, size_t n)
{
    if (n > max) {
        *too_long = 1;
        n = 0;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    h2_session *s = user;
    if (f->hd.stream_id != s->stream_id || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (!s->cfg->server) {
        if (namelen == 7 && memcmp(name, ":status", 7) == 0 && valuelen == 3)
            s->status = (uint16_t)((value[0] - '0') * 100 + (value[1] - '0') * 10 +
                                   (value[2] - '0'));
        return 0;
    }
    h2_request_header(name, namelen, value, valuelen, s->path, &s->path_long, s->authority,
                      &s->authority_long);
    return 0;
}

void h2_request_header(const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen, char *path, uint8_t *path_long, char *authority,
                       uint8_t *authority_long)
{
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        h2_keep(path, H2_PATH_MAX, path_long, value, valuelen);
    else if ((namelen == 10 && memcmp(name, ":authority", 10) == 0) ||
             (namelen == 4 && memcmp(name, "host", 4) == 0 && authority[0] == '\0'))
        h2_keep(authority, H2_AUTHORITY_MAX, authority_long, value, valuelen);
}

int h2_request_ok(const h2_config *c, const char *path, int path_long, const char *authority,
                  int authority_long)
{
    int host_ok = 0;
    for (size_t i = 0; i < c->n_hosts && !authority_long; i++)
        host_ok |= strcmp(c->hosts[i], authority) == 0;
    size_t plen = strlen(c->path), rlen = strcspn(path, "?");
    return host_ok && !path_long && rlen >= plen && memcmp(path, c->path, plen) == 0;
}

static int request_ok(const h2_session *s)
{
    return h2_request_ok(s->cfg, s->path, s->path_long, s->authority, s->authority_long);
}

/* Server: the request is whole: 200 and the stream is this connection's session, with a
 * GOAWAY so no other comes; or 404 and the layer fails once that is out. */
static int answer(h2_session *s, nghttp2_session *ng)
{
    nghttp2_data_provider body = {.read_callback = read_body};
    if (!request_ok(s)) {
        nghttp2_nv nv[] = {NV(":status", "404")};
        s->refused = 1;
        snprintf(s->reason, sizeof s->reason, "request for %.40s%s on %.40s%s (404 sent)",
                 s->path, s->path_long ? "..." : "", s->authority,
                 s->authority_long ? "..." : "");
        nghttp2_submit_response(ng, s->stream_id, nv, 1, NULL);
        return nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, s->stream_id, NGHTTP2_NO_ERROR,
                                     NULL, 0) == 0 ? 0 : fail(s, "out of memory");
    }
    nghttp2_nv nv[] = {NV(":status", "200"), NV("cache-control", "no-store")};
    s->accepted = 1;
    if (nghttp2_submit_response(ng, s->stream_id, nv, 2, &body) != 0 ||
        nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, s->stream_id, NGHTTP2_NO_ERROR, NULL, 0) != 0)
        return fail(s, "out of memory");
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2_session *s = user;
    if (f->hd.stream_id == 0 || f->hd.stream_id != s->stream_id)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && s->cfg->server && !s->accepted && !s->refused &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST && answer(s, ng) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (f->hd.type == NGHTTP2_HEADERS && !s->cfg->server &&
        f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        if (s->status != 200) {
            char why[64];
            snprintf(why, sizeof why, "the server answered %u, not 200", s->status);
            return fail(s, why);
        }
        s->accepted = 1;
    }
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        s->up_ended = 1;
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    h2_session *s = user;
    if (id != s->stream_id || !s->accepted || s->up_out == NULL) {
        s->conn_consume += len; /* a refused stream's: nothing goes up */
        return 0;
    }
    uint8_t *dst = s->cfg->host->buf_reserve(s->up_out, len);
    if (dst == NULL)
        return fail(s, "out of memory");
    memcpy(dst, data, len);
    s->up_out->len += len;
    s->to_consume += len;
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    h2_session *s = user;
    if (id != s->stream_id || s->up_ended)
        return 0;
    char why[96];
    snprintf(why, sizeof why, "the stream was reset (%s)", nghttp2_http2_strerror(code));
    return fail(s, why);
}

/* nghttp2 ends a connection it finds broken (a frame too large, a bad header block) by
 * writing a GOAWAY with an error and reading no more: the layer fails with it. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2_session *s = user;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR) {
        char why[96];
        snprintf(why, sizeof why, "the %s broke HTTP/2 (%s; GOAWAY sent)",
                 s->cfg->server ? "client" : "server",
                 nghttp2_http2_strerror(f->goaway.error_code));
        fail(s, why);
    }
    return 0;
}

int h2_ng_new(h2_session *s)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    /* Windows go back as the host takes the bytes (after each decode), not on receipt. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int r = s->cfg->server ? nghttp2_session_server_new2(&s->ng, cb, s, opt)
                           : nghttp2_session_client_new2(&s->ng, cb, s, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (r != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    /* Server: one stream, then the window; client: the window, and no pushes. */
    const nghttp2_settings_entry *first = s->cfg->server ? iv : iv + 1;
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, first, 2) != 0 ||
        nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, H2_WINDOW) != 0)
        return -1;
    return 0;
}

int h2_client_start(h2_session *s)
{
    const h2_config *c = s->cfg;
    uint32_t pick = 0;
    if (c->n_hosts > 1)
        c->host->random_bytes(&pick, sizeof pick);
    nghttp2_nv nv[4 + 16];
    size_t n = 0;
    nv[n++] = (nghttp2_nv)NV(":method", c->method);
    nv[n++] = (nghttp2_nv)NV(":scheme", "https");
    nv[n++] = (nghttp2_nv)NV(":authority", c->hosts[pick % c->n_hosts]);
    nv[n++] = (nghttp2_nv)NV(":path", c->path);
    for (size_t i = 0; i < c->n_headers && n < sizeof nv / sizeof nv[0] - 1; i++)
        if (strcmp(c->headers[i].name, "accept-encoding") != 0)
            nv[n++] = (nghttp2_nv)NV(c->headers[i].name, c->headers[i].value);
    nv[n++] = (nghttp2_nv)NV("accept-encoding", "identity"); /* V2Ray: no compression */
    nghttp2_data_provider body = {.read_callback = read_body};
    int32_t id = nghttp2_submit_request(s->ng, NULL, nv, n, &body, NULL);
    if (id < 0)
        return fail(s, nghttp2_strerror(id)), -1;
    s->stream_id = id;
    s->started = 1;
    return 0;
}

int h2_ng_flush(h2_session *s, evp_buf *out)
{
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s->ng, &p);
        if (n < 0) {
            fail(s, nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0)
            return s->failed ? -1 : 0; /* a failure's GOAWAY is out first */
        uint8_t *dst = s->cfg->host->buf_reserve(out, (size_t)n);
        if (dst == NULL) {
            fail(s, "out of memory");
            return -1;
        }
        memcpy(dst, p, (size_t)n);
        out->len += (size_t)n;
    }
}
