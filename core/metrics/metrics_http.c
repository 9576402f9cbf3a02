/* The metrics endpoint's HTTP server. It runs inside the proxy's main loop, so no client can
 * stall it: each connection reads one request head (at most MAX_HEAD bytes within
 * HEAD_SECS), gets one response (written within REPLY_SECS) and is closed. Only GET is
 * served; Prometheus scrapes that way, and so do browsers. */
#include "metrics_http.h"

#include "listen_addr.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 16
#define MAX_HEAD 8192
#define HEAD_SECS 5.0
#define REPLY_SECS 10.0
#define MAX_PATH 256

typedef struct http_conn http_conn;

struct evp_http_server {
    ev_io io; /* first member: the listening socket */
    ev_timer pause; /* accepting paused while out of descriptors */
    struct ev_loop *loop;
    evp_http_page *page;
    void *page_arg;
    char *listen;
    http_conn *conns;
    int n_conns;
};

struct http_conn {
    ev_io io; /* first member */
    ev_timer deadline;
    evp_http_server *owner;
    http_conn *prev, *next;
    char head[MAX_HEAD];
    size_t head_len;
    char *out; /* the response being written, owned; NULL while reading */
    size_t out_len, out_sent;
};

int evp_http_parse_request(const char *head, size_t len, char *path, size_t n)
{
    const char *eol = memchr(head, '\n', len);
    if (eol == NULL)
        return 400;
    size_t line = (size_t)(eol - head);
    if (line > 0 && head[line - 1] == '\r')
        line--;
    const char *sp1 = memchr(head, ' ', line);
    if (sp1 == NULL || sp1 == head)
        return 400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line - (size_t)(target - head));
    if (sp2 == NULL || sp2 == target || *target != '/')
        return 400;
    size_t vlen = line - (size_t)(sp2 + 1 - head);
    if (vlen != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9')
        return 400;
    if ((size_t)(sp1 - head) != 3 || strncmp(head, "GET", 3) != 0)
        return 405;
    size_t plen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', plen);
    if (q)
        plen = (size_t)(q - target);
    if (plen >= n)
        return 414;
    memcpy(path, target, plen);
    path[plen] = '\0';
    return 200;
}

static void conn_free(http_conn *c)
{
    evp_http_server *h = c->owner;
    ev_io_stop(h->loop, &c->io);
    ev_timer_stop(h->loop, &c->deadline);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->n_conns--;
    free(c->out);
    free(c);
}

static void conn_write(http_conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->io.fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the client went away */
        c->out_sent += (size_t)n;
    }
    conn_free(c);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

/* Builds the response (body owned, taken; NULL for a status's own short text) and starts
 * writing it. */
static void conn_respond(http_conn *c, int status, const char *type, char *body)
{
    char own[64];
    if (body == NULL) {
        snprintf(own, sizeof own, "%d %s\n", status, reason_of(status));
        type = "text/plain; charset=utf-8";
    }
    const char *text = body ? body : own;
    size_t blen = strlen(text);
    char head[256];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                        "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                        status, reason_of(status), type, blen,
                        status == 405 ? "Allow: GET\r\n" : "");
    c->out = malloc((size_t)hlen + blen);
    if (c->out == NULL) {
        free(body);
        conn_free(c);
        return;
    }
    memcpy(c->out, head, (size_t)hlen);
    memcpy(c->out + hlen, text, blen);
    c->out_len = (size_t)hlen + blen;
    free(body);
    struct ev_loop *loop = c->owner->loop;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, EV_WRITE);
    ev_io_start(loop, &c->io);
    ev_timer_stop(loop, &c->deadline);
    ev_timer_set(&c->deadline, REPLY_SECS, 0.);
    ev_timer_start(loop, &c->deadline);
    conn_write(c);
}

static void conn_answer(http_conn *c)
{
    char path[MAX_PATH];
    int status = evp_http_parse_request(c->head, c->head_len, path, sizeof path);
    if (status != 200) {
        conn_respond(c, status, NULL, NULL);
        return;
    }
    const char *type = NULL;
    char *body = c->owner->page(c->owner->page_arg, path, &type);
    conn_respond(c, body ? 200 : type ? 500 : 404, type, body);
}

static void conn_read(http_conn *c)
{
    for (;;) {
        if (c->head_len == MAX_HEAD) {
            conn_respond(c, 431, NULL, NULL);
            return;
        }
        ssize_t n = recv(c->io.fd, c->head + c->head_len, MAX_HEAD - c->head_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            conn_free(c); /* gone, or ended without a whole request: nobody to answer */
            return;
        }
        size_t from = c->head_len > 3 ? c->head_len - 3 : 0;
        c->head_len += (size_t)n;
        if (memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4) ||
            memmem(c->head + from, c->head_len - from, "\n\n", 2)) {
            conn_answer(c);
            return;
        }
    }
}

static void on_conn_io(EV_P_ ev_io *w, int revents)
{
    http_conn *c = (http_conn *)w;
    if (c->out)
        conn_write(c);
    else
        conn_read(c);
}

static void on_conn_deadline(EV_P_ ev_timer *w, int revents)
{
    http_conn *c = (http_conn *)((char *)w - offsetof(http_conn, deadline));
    if (c->out == NULL)
        conn_respond(c, 408, NULL, NULL); /* a short reply: it fits the socket's buffer */
    else
        conn_free(c);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    evp_http_server *h = (evp_http_server *)w;
    for (int i = 0; i < MAX_CONNS; i++) {
        int fd = accept4(h->io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                evp_warn("metrics: accept: %s; pausing 0.2 s", strerror(errno));
                ev_io_stop(EV_A, &h->io);
                ev_timer_start(EV_A, &h->pause);
            }
            return;
        }
        http_conn *c = h->n_conns < MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (c == NULL) {
            close(fd); /* a scraper retries on its next interval */
            continue;
        }
        c->owner = h;
        c->next = h->conns;
        if (c->next)
            c->next->prev = c;
        h->conns = c;
        h->n_conns++;
        ev_io_init(&c->io, on_conn_io, fd, EV_READ);
        ev_timer_init(&c->deadline, on_conn_deadline, HEAD_SECS, 0.);
        ev_io_start(EV_A, &c->io);
        ev_timer_start(EV_A, &c->deadline);
    }
}

static void on_accept_resume(EV_P_ ev_timer *w, int revents)
{
    evp_http_server *h = (evp_http_server *)((char *)w - offsetof(evp_http_server, pause));
    ev_io_start(EV_A, &h->io);
}

evp_http_server *evp_http_open(struct ev_loop *loop, const char *listen_at, evp_http_page *page,
                               void *arg)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[160];
    if (evp_listen_addr_parse(listen_at, &ss, &len, err, sizeof err) != 0) {
        evp_err("metrics.listen: %s", err);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    evp_http_server *h = NULL;
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, MAX_CONNS) != 0 ||
        (h = calloc(1, sizeof *h)) == NULL || (h->listen = strdup(listen_at)) == NULL) {
        evp_err("metrics.listen: cannot listen on %s: %s", listen_at, strerror(errno));
        if (fd != -1)
            close(fd);
        free(h);
        return NULL;
    }
    h->loop = loop;
    h->page = page;
    h->page_arg = arg;
    ev_io_init(&h->io, on_accept, fd, EV_READ);
    ev_timer_init(&h->pause, on_accept_resume, 0.2, 0.);
    ev_io_start(loop, &h->io);
    evp_info("metrics: serving /metrics on %s", listen_at);
    return h;
}

const char *evp_http_listen(const evp_http_server *h)
{
    return h->listen;
}

void evp_http_close(evp_http_server *h)
{
    if (h == NULL)
        return;
    while (h->conns)
        conn_free(h->conns);
    ev_io_stop(h->loop, &h->io);
    ev_timer_stop(h->loop, &h->pause);
    close(h->io.fd);
    free(h->listen);
    free(h);
}
