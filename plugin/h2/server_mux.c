/* The HTTP/2 server as a multiplexer (ABI 1.7 evp_mux_ops): V2Ray's client (Go's http2) puts
 * several requests on one connection, each request body one VMess connection and each
 * response body its answer. Each accepted request becomes an EVP_MUX_NEW with no target: the
 * host runs the inbound's protocol on it as a session of its own. A request the layer does not
 * serve (path, Host) gets V2Ray's 404 and goes no further.
 * nghttp2 reads a whole input at once and calls back per frame, so events wait in a queue
 * (their data copied) and decode hands them out one per call. Flow control is HTTP/2's: a
 * stream's window goes back only as the host takes its data, and response bytes the peer's
 * window does not admit yet stay here (conn_held tells the host how many). */
#include "h2_int.h"

#include <stdio.h>
#include <string.h>

#define NV(n, v)                                                                                   \
    {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
/* Requests open at once on one connection (the host runs at most 128 sub-streams). */
#define H2_MUX_STREAMS 128

typedef struct bytes {
    uint8_t *p;
    size_t len, cap, off;
} bytes;

typedef struct h2_stream {
    struct h2_stream *next;
    int32_t id;
    uint8_t accepted;   /* 200 submitted, NEW queued */
    uint8_t up_ended;   /* the request's END_STREAM came (END queued) */
    uint8_t down_ended; /* the host ended the response: END_STREAM once out is written */
    uint8_t end_sent;
    char path[H2_PATH_MAX + 1];
    char authority[H2_AUTHORITY_MAX + 1];
    uint8_t path_long, authority_long;
    bytes out; /* response body the peer's window has not taken yet */
} h2_stream;

typedef struct h2_mux {
    const h2_config *cfg;
    nghttp2_session *ng;
    h2_stream *streams;
    bytes evq;   /* queued events: kind, error, BE32 id, BE32 len, data */
    size_t held; /* response bytes in the streams' out */
    int failed;
    char reason[128];
} h2_mux;

/* ---- small helpers ---------------------------------------------------------------------- */

static int grow(h2_mux *m, bytes *b, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len >= n)
        return 0;
    if (b->off > 0) { /* move what waits to the front before growing */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *p = m->cfg->host->mem_realloc(m->cfg->host, b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void bytes_free(h2_mux *m, bytes *b)
{
    m->cfg->host->mem_free(m->cfg->host, b->p);
    memset(b, 0, sizeof *b);
}

static int fail(h2_mux *m, const char *why)
{
    if (!m->failed)
        snprintf(m->reason, sizeof m->reason, "%s", why);
    m->failed = 1;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Queues one event for the host; its data is copied. */
static int queue(h2_mux *m, uint8_t kind, int error, int32_t id, const uint8_t *data,
                 size_t len)
{
    if (grow(m, &m->evq, 10 + len) != 0)
        return fail(m, "out of memory");
    uint8_t *p = m->evq.p + m->evq.len;
    p[0] = kind;
    p[1] = (uint8_t)(error != 0);
    put32(p + 2, (uint32_t)id);
    put32(p + 6, (uint32_t)len);
    if (len)
        memcpy(p + 10, data, len);
    m->evq.len += 10 + len;
    return 0;
}

static h2_stream *find(h2_mux *m, int32_t id)
{
    for (h2_stream *s = m->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void forget(h2_mux *m, h2_stream *s)
{
    for (h2_stream **p = &m->streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    m->held -= s->out.len - s->out.off;
    bytes_free(m, &s->out);
    m->cfg->host->mem_free(m->cfg->host, s);
}

/* ---- nghttp2 callbacks ------------------------------------------------------------------ */

/* A response body: what the host sent for the stream, as the window allows. */
static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    h2_mux *m = user;
    h2_stream *s = find(m, id);
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t before = s->out.off;
    ssize_t r = h2_body_chunk(buf, length, s->out.p, s->out.len, &s->out.off, s->down_ended,
                              flags, &s->end_sent);
    m->held -= s->out.off - before;
    return r;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2_mux *m = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *s = m->cfg->host->mem_calloc(m->cfg->host, 1, sizeof *s);
    if (s == NULL)
        return fail(m, "out of memory");
    s->id = f->hd.stream_id;
    s->next = m->streams;
    m->streams = s;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    h2_stream *s = find(user, f->hd.stream_id);
    if (s == NULL || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    h2_request_header(name, namelen, value, valuelen, s->path, &s->path_long, s->authority,
                      &s->authority_long);
    return 0;
}

/* A whole request: 200 and a NEW for the host, or V2Ray's 404 (logged) and nothing more. */
static int answer(h2_mux *m, h2_stream *s)
{
    if (!h2_request_ok(m->cfg, s->path, s->path_long, s->authority, s->authority_long)) {
        nghttp2_nv nv[] = {NV(":status", "404")};
        m->cfg->host->log(EVP_LOG_WARNING, "transport h2: request for %.40s%s on %.40s%s "
                          "(404 sent)", s->path, s->path_long ? "..." : "", s->authority,
                          s->authority_long ? "..." : "");
        return nghttp2_submit_response(m->ng, s->id, nv, 1, NULL) == 0 ? 0
                                                                         : fail(m, "out of memory");
    }
    nghttp2_nv nv[] = {NV(":status", "200"), NV("cache-control", "no-store")};
    nghttp2_data_provider body = {.read_callback = read_body};
    if (nghttp2_submit_response(m->ng, s->id, nv, 2, &body) != 0)
        return fail(m, "out of memory");
    s->accepted = 1;
    return queue(m, EVP_MUX_NEW, 0, s->id, NULL, 0);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2_mux *m = user;
    h2_stream *s = find(m, f->hd.stream_id);
    if (s == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !s->accepted && answer(m, s) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && s->accepted && !s->up_ended) {
        s->up_ended = 1; /* the upload ended: a half-close */
        return queue(m, EVP_MUX_END, 0, s->id, NULL, 0);
    }
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    h2_mux *m = user;
    h2_stream *s = find(m, id);
    if (s == NULL || !s->accepted) {
        nghttp2_session_consume_connection(ng, len); /* a refused stream's: dropped */
        return 0;
    }
    return queue(m, EVP_MUX_DATA, 0, id, data, len);
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    h2_mux *m = user;
    h2_stream *s = find(m, id);
    if (s == NULL)
        return 0;
    int broken = code != NGHTTP2_NO_ERROR || !s->up_ended || !s->end_sent;
    int r = s->accepted && broken ? queue(m, EVP_MUX_END, 1, id, NULL, 0) : 0;
    forget(m, s);
    return r;
}

/* ---- the hooks -------------------------------------------------------------------------- */

static void *mux_new(void *inst, int server)
{
    const h2_config *c = inst;
    if (!server || c == NULL)
        return NULL;
    h2_mux *m = c->host->mem_calloc(c->host, 1, sizeof *m);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    if (m == NULL || nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto fail;
    m->cfg = c;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1); /* windows go back as the host takes */
    if (nghttp2_session_server_new2(&m->ng, cb, m, opt) != 0)
        goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MUX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
    };
    if (nghttp2_submit_settings(m->ng, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(m->ng, NGHTTP2_FLAG_NONE, 0, H2_WINDOW) != 0)
        goto fail;
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return m;
fail:
    if (opt)
        nghttp2_option_del(opt);
    if (cb)
        nghttp2_session_callbacks_del(cb);
    if (m) {
        nghttp2_session_del(m->ng);
        c->host->mem_free(c->host, m);
    }
    return NULL;
}

static void mux_free(void *conn)
{
    h2_mux *m = conn;
    if (m == NULL)
        return;
    nghttp2_session_del(m->ng);
    while (m->streams)
        forget(m, m->streams);
    bytes_free(m, &m->evq);
    m->cfg->host->mem_free(m->cfg->host, m);
}

/* Everything nghttp2 has to write, appended to out (a host buffer). */
static int flush(h2_mux *m, evp_buf *out)
{
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(m->ng, &p);
        if (n < 0)
            return fail(m, nghttp2_strerror((int)n)), -1;
        if (n == 0)
            return 0;
        uint8_t *dst = m->cfg->host->buf_reserve(out, (size_t)n);
        if (dst == NULL)
            return fail(m, "out of memory"), -1;
        memcpy(dst, p, (size_t)n);
        out->len += (size_t)n;
    }
}

static int failed(h2_mux *m, evp_io *io)
{
    snprintf(io->reason, sizeof io->reason, "%s", m->reason[0] ? m->reason : "failed");
    return EVP_ERR;
}

/* Hands out the first queued event; its data stays valid until the next call. */
static int pop(h2_mux *m, evp_mux_event *ev)
{
    if (m->evq.len - m->evq.off < 10)
        return 0;
    const uint8_t *p = m->evq.p + m->evq.off;
    uint32_t len = get32(p + 6);
    ev->kind = p[0];
    ev->error = p[1];
    ev->id = get32(p + 2);
    ev->data = len ? p + 10 : NULL;
    ev->len = len;
    m->evq.off += 10 + len;
    if (ev->kind == EVP_MUX_DATA && len) /* the host has it: the peer may send as much again */
        nghttp2_session_consume(m->ng, (int32_t)ev->id, len);
    return 1;
}

static int mux_decode(void *conn, evp_io *io, evp_mux_event *ev)
{
    h2_mux *m = conn;
    memset(ev, 0, sizeof ev[0]);
    if (m->failed)
        return failed(m, io);
    if (!pop(m, ev) && io->in_len > 0) {
        ssize_t n = nghttp2_session_mem_recv(m->ng, io->in, io->in_len);
        if (n < 0 && !m->failed)
            fail(m, nghttp2_strerror((int)n));
        io->consumed = io->in_len;
        if (m->failed) {
            flush(m, io->back); /* a GOAWAY, when nghttp2 wrote one */
            return failed(m, io);
        }
        /* Window updates may let held responses go. */
        for (h2_stream *s = m->streams; s; s = s->next)
            if (s->accepted && !s->end_sent && (s->out.len > s->out.off || s->down_ended))
                nghttp2_session_resume_data(m->ng, s->id);
        pop(m, ev);
    }
    if (flush(m, io->back) != 0)
        return failed(m, io);
    return EVP_OK;
}

static int mux_encode(void *conn, const evp_mux_event *ev, evp_buf *out)
{
    h2_mux *m = conn;
    if (m->failed)
        return EVP_ERR;
    h2_stream *s = ev->id <= INT32_MAX ? find(m, (int32_t)ev->id) : NULL;
    if (s == NULL || !s->accepted)
        return ev->kind == EVP_MUX_DATA || ev->kind == EVP_MUX_END ? EVP_OK : EVP_ERR;
    if (ev->kind == EVP_MUX_DATA) {
        if (s->down_ended)
            return EVP_ERR;
        if (ev->len && grow(m, &s->out, ev->len) != 0)
            return EVP_ERR;
        if (ev->len)
            memcpy(s->out.p + s->out.len, ev->data, ev->len);
        s->out.len += ev->len;
        m->held += ev->len;
    } else if (ev->kind == EVP_MUX_END && ev->error) {
        if (nghttp2_submit_rst_stream(m->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR) != 0)
            return EVP_ERR;
    } else if (ev->kind == EVP_MUX_END) {
        s->down_ended = 1;
    } else {
        return EVP_ERR;
    }
    if (!s->end_sent)
        nghttp2_session_resume_data(m->ng, s->id);
    return flush(m, out) == 0 ? EVP_OK : EVP_ERR;
}

static size_t mux_held(void *conn)
{
    const h2_mux *m = conn;
    return m->held;
}

const evp_mux_ops h2_mux_ops = {
    .size = sizeof(evp_mux_ops),
    .target = NULL, /* a layer's multiplexer: no target names it */
    .max_data = 16384,
    .conn_new = mux_new,
    .conn_free = mux_free,
    .decode = mux_decode,
    .encode = mux_encode,
    .conn_held = mux_held,
};
