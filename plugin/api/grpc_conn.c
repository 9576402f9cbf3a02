/* A gRPC server connection over HTTP/2 without TLS (what v2ctl and exporters dial), driven
 * by nghttp2 sans-I/O: the client's bytes go to mem_recv in whatever pieces they came,
 * each request is answered once its END_STREAM came, and mem_send's output is the reply.
 * Every answer is complete at once (small), so nothing waits for a flow window here but
 * what nghttp2 itself queues. */
#include "api_int.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>

#define NV(n, v)                                                                                   \
    {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
#define STATS_PATH "/v2ray.core.app.stats.command.StatsService/"
#define PATH_MAX_LEN 200
#define REQUEST_MAX (64u << 10) /* a request message is a name and a flag */
#define STREAMS_MAX 32u          /* calls open at once: with REQUEST_MAX, 2 MiB at most */

typedef struct api_stream {
    struct api_stream *next;
    int32_t id;
    char path[PATH_MAX_LEN + 1];
    uint8_t *body; /* the request's DATA: one length-prefixed gRPC message */
    size_t len, cap;
    uint8_t *reply; /* prefix + message of an OK answer */
    size_t reply_len, reply_off;
    char status[12];
} api_stream;

struct api_conn {
    const evp_host *host;
    unsigned services;
    nghttp2_session *ng;
    api_stream *streams;
    int failed;
};

static api_stream *find(api_conn *c, int32_t id)
{
    for (api_stream *s = c->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void stream_free(api_conn *c, api_stream *s)
{
    c->host->mem_free(c->host, s->body);
    c->host->free(s->reply);
    c->host->mem_free(c->host, s);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    api_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    api_stream *s = c->host->mem_calloc(c->host, 1, sizeof *s);
    if (s == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->id = f->hd.stream_id;
    s->next = c->streams;
    c->streams = s;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    api_stream *s = find(user, f->hd.stream_id);
    if (s && namelen == 5 && memcmp(name, ":path", 5) == 0) {
        size_t n = valuelen < PATH_MAX_LEN ? valuelen : PATH_MAX_LEN;
        memcpy(s->path, value, n);
        s->path[n] = '\0';
    }
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    api_conn *c = user;
    api_stream *s = find(c, id);
    if (s == NULL)
        return 0;
    if (s->len + len > REQUEST_MAX)
        return nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + len)
            cap *= 2;
        uint8_t *p = c->host->mem_realloc(c->host, s->body, cap);
        if (p == NULL)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        s->body = p;
        s->cap = cap;
    }
    memcpy(s->body + s->len, data, len);
    s->len += len;
    return 0;
}

static ssize_t read_reply(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *src, void *user)
{
    api_stream *s = src->ptr;
    size_t n = s->reply_len - s->reply_off;
    if (n > length)
        n = length;
    memcpy(buf, s->reply + s->reply_off, n);
    s->reply_off += n;
    if (s->reply_off == s->reply_len) {
        nghttp2_nv trailer[] = {NV("grpc-status", "0")};
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(ng, id, trailer, 1) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* The call's message: one uncompressed length-prefixed message filling the body. */
static int request_message(const api_stream *s, const uint8_t **msg, size_t *len)
{
    if (s->len < 5 || s->body[0] != 0)
        return -1;
    uint32_t n = (uint32_t)s->body[1] << 24 | (uint32_t)s->body[2] << 16 |
                 (uint32_t)s->body[3] << 8 | s->body[4];
    if (n != s->len - 5)
        return -1;
    *msg = s->body + 5;
    *len = n;
    return 0;
}

static void answer(api_conn *c, api_stream *s, api_answer *a)
{
    const char *path = s->path;
    const uint8_t *msg;
    size_t len;
    memset(a, 0, sizeof *a);
    if (strncmp(path, STATS_PATH, strlen(STATS_PATH)) != 0 ||
        !(c->services & API_STATS_SERVICE)) {
        const char *svc = path[0] == '/' ? path + 1 : path;
        const char *slash = strchr(svc, '/');
        a->status = API_GRPC_UNIMPLEMENTED;
        snprintf(a->message, sizeof a->message, "unknown service %.*s",
                 (int)(slash ? (size_t)(slash - svc) : strlen(svc)), svc);
    } else if (request_message(s, &msg, &len) != 0) {
        a->status = API_GRPC_INTERNAL;
        snprintf(a->message, sizeof a->message, "grpc: malformed request message");
    } else {
        api_stats_call(c->host, (c->services & API_STATS_ENABLED) != 0,
                       path + strlen(STATS_PATH), msg, len, a);
    }
}

/* Submits the answer to s's call: headers, the message and grpc-status 0, or a
 * trailers-only reply naming the error. */
static int respond(nghttp2_session *ng, api_conn *c, api_stream *s)
{
    api_answer a;
    answer(c, s, &a);
    snprintf(s->status, sizeof s->status, "%d", a.status);
    if (a.status != API_GRPC_OK) {
        nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                           NV("grpc-status", s->status), NV("grpc-message", a.message)};
        return nghttp2_submit_response(ng, s->id, hd, 4, NULL);
    }
    s->reply = c->host->alloc(a.len + 5);
    if (s->reply == NULL) {
        c->host->free(a.msg);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    s->reply[0] = 0;
    for (int i = 0; i < 4; i++)
        s->reply[1 + i] = (uint8_t)(a.len >> (24 - 8 * i));
    memcpy(s->reply + 5, a.msg, a.len);
    s->reply_len = a.len + 5;
    c->host->free(a.msg);
    nghttp2_nv hd[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_reply};
    return nghttp2_submit_response(ng, s->id, hd, 2, &prd);
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    api_conn *c = user;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    api_stream *s = find(c, f->hd.stream_id);
    if (s == NULL)
        return 0;
    return respond(ng, c, s) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t error, void *user)
{
    api_conn *c = user;
    for (api_stream **p = &c->streams; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            api_stream *s = *p;
            *p = s->next;
            stream_free(c, s);
            break;
        }
    }
    return 0;
}

api_conn *api_conn_new(const evp_host *host, unsigned services)
{
    api_conn *c = host->mem_calloc(host, 1, sizeof *c);
    nghttp2_session_callbacks *cb;
    if (c == NULL || nghttp2_session_callbacks_new(&cb) != 0) {
        if (c)
            host->mem_free(host, c);
        return NULL;
    }
    c->host = host;
    c->services = services;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int r = nghttp2_session_server_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry limit = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, STREAMS_MAX};
    if (r != 0 || nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, &limit, 1) != 0) {
        api_conn_free(c);
        return NULL;
    }
    return c;
}

void api_conn_free(api_conn *c)
{
    if (c == NULL)
        return;
    if (c->ng)
        nghttp2_session_del(c->ng); /* closes the streams left: on_close frees them */
    while (c->streams) {
        api_stream *s = c->streams;
        c->streams = s->next;
        stream_free(c, s);
    }
    c->host->mem_free(c->host, c);
}

int api_conn_feed(api_conn *c, const uint8_t *in, size_t len, evp_buf *out, char *reason,
                  size_t n)
{
    if (c->failed) {
        snprintf(reason, n, "api: the HTTP/2 stream failed");
        return -1;
    }
    ssize_t r = len ? nghttp2_session_mem_recv(c->ng, in, len) : 0;
    if (r < 0) {
        c->failed = 1;
        snprintf(reason, n, "api: HTTP/2: %s", nghttp2_strerror((int)r));
        return -1;
    }
    for (;;) {
        const uint8_t *data;
        ssize_t k = nghttp2_session_mem_send(c->ng, &data);
        if (k < 0) {
            c->failed = 1;
            snprintf(reason, n, "api: HTTP/2: %s", nghttp2_strerror((int)k));
            return -1;
        }
        if (k == 0)
            return 0;
        uint8_t *dst = c->host->buf_reserve(out, (size_t)k);
        if (dst == NULL) {
            c->failed = 1;
            snprintf(reason, n, "api: out of memory");
            return -1;
        }
        memcpy(dst, data, (size_t)k);
        out->len += (size_t)k;
    }
}
