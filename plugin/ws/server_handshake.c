/* The server side of the upgrade (see handshake.h). What it answers follows V2Ray 4.34,
 * whose Go HTTP server and gorilla/websocket upgrader answer: 431 or 400 (Go) for a head
 * too long or malformed, 404 for another path, 400/405 (gorilla) for a request that is not
 * a WebSocket upgrade. */
#include "b64.h"
#include "handshake.h"
#include "http.h"
#include "trusted.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Go's own answer to a request it cannot read. */
static int go_error(ws_session *s, evp_io *io, int code, const char *status, const char *why)
{
    char text[192];
    snprintf(text, sizeof(text),
             "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Connection: close\r\n\r\n%d %s",
             code, status, code, status);
    ws_puts(s->cfg->host, io->back, text);
    return ws_fail(io, "%s", why);
}

/* 404 from V2Ray's handler, or gorilla's http.Error (with a body) for a bad upgrade. */
static int upgrade_error(ws_session *s, evp_io *io, int code, const char *status, const char *why)
{
    char date[32], text[320];
    ws_http_date(s->cfg->host->unix_time(), date);
    if (code == 404)
        snprintf(text, sizeof(text),
                 "HTTP/1.1 404 Not Found\r\nDate: %s\r\nContent-Length: 0\r\n\r\n", date);
    else
        snprintf(text, sizeof(text),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n"
                 "Date: %s\r\nContent-Length: %zu\r\n\r\n%s\n",
                 code, status, date, strlen(status) + 1, status);
    ws_puts(s->cfg->host, io->back, text);
    return ws_fail(io, "%s", why);
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Compares a request path (percent-encoded, n bytes) with the configured one (plain, m
 * bytes), as Go compares URL.Path: 1 equal, 0 not, -1 a bad escape. */
static int path_equal(const char *raw, size_t n, const char *want, size_t m)
{
    size_t j = 0;
    int equal = 1;
    for (size_t i = 0; i < n; i++, j++) {
        int c = (unsigned char)raw[i];
        if (c == '%') {
            if (i + 2 >= n || hex(raw[i + 1]) < 0 || hex(raw[i + 2]) < 0)
                return -1; /* Go refuses the whole request then */
            c = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
            i += 2;
        }
        if (j >= m || (unsigned char)want[j] != c)
            equal = 0;
    }
    return equal && j == m;
}

/* The request line: method, request-target (origin or absolute form) and version. */
typedef struct request_line {
    const char *method, *target;
    size_t method_len, target_len;
    const char *path; /* target's path (no query), "/" for an absolute form without one */
    size_t path_len;
} request_line;

static int read_request_line(const ws_head *h, request_line *r)
{
    const char *p = h->text, *end = h->text + h->first_len;
    const char *sp1 = memchr(p, ' ', (size_t)(end - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1)
        return -1;
    size_t vlen = (size_t)(end - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9')
        return -1;
    r->method = p;
    r->method_len = (size_t)(sp1 - p);
    r->target = sp1 + 1;
    r->target_len = (size_t)(sp2 - sp1 - 1);
    const char *t = r->target, *tend = t + r->target_len;
    if (t[0] != '/') {
        /* absolute-form: scheme://authority/path */
        const char *sep = memmem(t, r->target_len, "://", 3); /* t is not NUL-terminated */
        if (sep == NULL)
            return -1;
        const char *slash = memchr(sep + 3, '/', (size_t)(tend - sep - 3));
        t = slash != NULL ? slash : "/";
        if (slash == NULL)
            tend = t + 1;
    }
    const char *q = memchr(t, '?', (size_t)(tend - t));
    r->path = t;
    r->path_len = (size_t)((q ? q : tend) - t);
    return 0;
}

/* Where the early data is, if any: *text (base64url) and the header to echo (NULL for
 * V2Ray 4.39's form, appended to the path). 0, or -1 when a named header is not base64. */
typedef struct early_data {
    const char *text;
    size_t len;
    const char *echo; /* header name to echo the text back in */
} early_data;

static int valid_b64url(const char *text, size_t len)
{
    uint8_t tmp[64];
    size_t n;
    /* Decoded in slices of whole groups, into scratch: only the verdict is kept. */
    while (len > 64) {
        if (ws_b64url_decode(text, 64, tmp, &n) != 0)
            return 0;
        text += 64;
        len -= 64;
    }
    return ws_b64url_decode(text, len, tmp, &n) == 0;
}

static int find_early(const ws_config *c, const ws_head *h, const request_line *r, int path_matched,
                      early_data *ed)
{
    memset(ed, 0, sizeof(*ed));
    size_t pos = 0;
    if (!path_matched) {
        /* V2Ray 4.39's client without a header name: base64url right after the path. */
        ed->text = r->target + strlen(c->path);
        ed->len = r->target_len - strlen(c->path);
        return 0;
    }
    if (c->ed_header != NULL && ws_http_next(h, c->ed_header, &pos, &ed->text, &ed->len) &&
        ed->len > 0) {
        ed->echo = c->ed_header;
        return valid_b64url(ed->text, ed->len) ? 0 : -1;
    }
    /* Xray's and sing-box's form, whatever the header name (early data lost would cost the
     * session): a subprotocol that is base64url is early data; another one is a
     * subprotocol, not echoed (we speak none). */
    pos = 0;
    if (ws_http_next(h, "Sec-WebSocket-Protocol", &pos, &ed->text, &ed->len) && ed->len > 0 &&
        valid_b64url(ed->text, ed->len)) {
        ed->echo = "Sec-WebSocket-Protocol";
        return 0;
    }
    ed->len = 0;
    return 0;
}

/* The 101 to io->back and the early data to io->out; 0 or -1 (out of memory). */
static int answer(ws_session *s, evp_io *io, const char *key, size_t key_len, const early_data *ed)
{
    const evp_host *host = s->cfg->host;
    char accept[WS_ACCEPT_LEN + 1];
    ws_accept_for(key, key_len, accept);
    if (ws_puts(host, io->back,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n") != 0 ||
        ws_put_header(host, io->back, "Sec-WebSocket-Accept", accept, WS_ACCEPT_LEN) != 0 ||
        (ed->echo != NULL && ws_put_header(host, io->back, ed->echo, ed->text, ed->len) != 0) ||
        ws_put(host, io->back, "\r\n", 2) != 0)
        return -1;
    if (ed->len == 0)
        return 0;
    uint8_t *dst = host->buf_reserve(io->out, ed->len * 3 / 4 + 2);
    size_t n;
    if (dst == NULL || ws_b64url_decode(ed->text, ed->len, dst, &n) != 0)
        return -1; /* checked before: only memory can fail here */
    io->out->len += n;
    return 0;
}

/* A trusted front's client address from X-Forwarded-For: 1 and io->target set, or 0. */
static int forwarded_for(ws_session *s, const ws_head *h, evp_io *io)
{
    const ws_config *c = s->cfg;
    if (!ws_net_match(c->trusted, c->n_trusted, &s->peer))
        return 0;
    size_t pos = 0, n;
    const char *v;
    while (ws_http_next(h, "X-Forwarded-For", &pos, &v, &n))
        if (ws_first_ip(v, n, &io->target)) {
            io->network = EVP_NET_TCP;
            return 1;
        }
    return 0;
}

int ws_server_handshake(ws_session *s, evp_io *io)
{
    const ws_config *c = s->cfg;
    size_t scan = io->in_len < WS_HEAD_MAX ? io->in_len : WS_HEAD_MAX;
    size_t end = ws_http_head_end(io->in, scan);
    if (end == 0) {
        if (io->in_len >= WS_HEAD_MAX)
            return go_error(s, io, 431, "Request Header Fields Too Large",
                            "upgrade request over 8 KiB");
        if (io->in_eof)
            return ws_fail(io, "the connection ended inside the upgrade request");
        return EVP_OK;
    }
    ws_head h;
    request_line r;
    if (ws_http_parse(io->in, end, &h) != 0 || read_request_line(&h, &r) != 0)
        return go_error(s, io, 400, "Bad Request", "malformed HTTP request");
    int match = path_equal(r.path, r.path_len, c->path, c->path_len);
    if (match < 0)
        return go_error(s, io, 400, "Bad Request", "bad escape in the request path");
    size_t cfg_len = strlen(c->path);
    int path_early = !match && c->max_early > 0 && c->ed_header == NULL && r.target_len > cfg_len &&
                     memcmp(r.target, c->path, cfg_len) == 0 &&
                     valid_b64url(r.target + cfg_len, r.target_len - cfg_len);
    if (!match && !path_early)
        return upgrade_error(s, io, 404, "Not Found", "request for another path");
    if (!ws_http_has_token(&h, "Connection", "upgrade") ||
        !ws_http_has_token(&h, "Upgrade", "websocket"))
        return upgrade_error(s, io, 400, "Bad Request", "not a WebSocket upgrade request");
    if (r.method_len != 3 || memcmp(r.method, "GET", 3) != 0)
        return upgrade_error(s, io, 405, "Method Not Allowed", "upgrade request not a GET");
    const char *key;
    size_t pos = 0, key_len;
    if (!ws_http_has_token(&h, "Sec-WebSocket-Version", "13"))
        return upgrade_error(s, io, 400, "Bad Request", "WebSocket version not 13");
    if (!ws_http_next(&h, "Sec-WebSocket-Key", &pos, &key, &key_len) || key_len == 0 ||
        key_len > 64)
        return upgrade_error(s, io, 400, "Bad Request", "no usable Sec-WebSocket-Key");
    early_data ed;
    if (find_early(c, &h, &r, match, &ed) != 0)
        return upgrade_error(s, io, 400, "Bad Request", "early data header not base64url");
    if (s->state == WS_HANDSHAKE && forwarded_for(s, &h, io)) {
        s->state = WS_PENDING; /* the request is read again on the next call */
        return EVP_TARGET;
    }
    if (ws_frames_open(&s->frames, c->host, 1) != 0 || answer(s, io, key, key_len, &ed) != 0)
        return ws_fail(io, "out of memory");
    io->consumed = end;
    s->state = WS_OPEN;
    return EVP_OK;
}
