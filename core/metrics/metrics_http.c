/* The metrics endpoint's HTTP server: one request head per connection (oneshot.c bounds
 * their number, size and time), one response, then the connection is closed. Only GET is
 * served; Prometheus scrapes that way, and so do browsers. */
#include "metrics_http.h"

#include "listen_addr.h"
#include "log.h"
#include "oneshot.h"

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

struct evp_http_server {
    evp_oneshot *server;
    evp_http_page *page;
    void *page_arg;
    char *listen;
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

/* The response: status line, headers and body (owned, taken; NULL for the status's own short
 * text). No bytes when out of memory. */
static evp_oneshot_reply response(int status, const char *type, char *body)
{
    char own[64], head[256];
    if (body == NULL) {
        snprintf(own, sizeof own, "%d %s\n", status, reason_of(status));
        type = "text/plain; charset=utf-8";
    }
    const char *text = body ? body : own;
    size_t blen = strlen(text);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                        "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                        status, reason_of(status), type, blen,
                        status == 405 ? "Allow: GET\r\n" : "");
    evp_oneshot_reply r = {malloc((size_t)hlen + blen), (size_t)hlen + blen};
    if (r.bytes) {
        memcpy(r.bytes, head, (size_t)hlen);
        memcpy(r.bytes + hlen, text, blen);
    }
    free(body);
    return r;
}

/* A request is whole at its blank line; one cut short by the client gets no answer. */
static ssize_t head_complete(const char *buf, size_t len, size_t seen, int eof)
{
    size_t from = seen > 3 ? seen - 3 : 0;
    const char *crlf = memmem(buf + from, len - from, "\r\n\r\n", 4);
    const char *lf = memmem(buf + from, len - from, "\n\n", 2);
    if (crlf || lf)
        return (ssize_t)len;
    return eof ? -2 : -1;
}

static evp_oneshot_reply http_reply(void *arg, enum evp_oneshot_why why, const char *req,
                                    size_t len)
{
    const evp_http_server *h = arg;
    if (why != EVP_ONESHOT_REQUEST)
        return response(why == EVP_ONESHOT_TOO_LONG ? 431
                        : why == EVP_ONESHOT_TIMEOUT ? 408
                                                     : 503,
                        NULL, NULL);
    char path[MAX_PATH];
    int status = evp_http_parse_request(req, len, path, sizeof path);
    if (status != 200)
        return response(status, NULL, NULL);
    const char *type = NULL;
    char *body = h->page(h->page_arg, path, &type);
    return response(body ? 200 : type ? 500 : 404, type, body);
}

static const evp_oneshot_conf http_conf = {
    .name = "metrics",
    .max_conns = MAX_CONNS,
    .max_request = MAX_HEAD,
    .request_secs = HEAD_SECS,
    .reply_secs = REPLY_SECS,
    .complete = head_complete,
    .answer = http_reply,
};

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
    h->page = page;
    h->page_arg = arg;
    h->server = evp_oneshot_start(loop, fd, &http_conf, h);
    if (h->server == NULL) {
        evp_err("metrics.listen: out of memory");
        evp_http_close(h);
        return NULL;
    }
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
    evp_oneshot_stop(h->server);
    free(h->listen);
    free(h);
}
