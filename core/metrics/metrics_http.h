/* A tiny HTTP/1.1 server on an event loop for the metrics endpoint: one GET per connection,
 * answered and closed. Bounded in connections, request size and time. */
#ifndef EVP_METRICS_HTTP_H
#define EVP_METRICS_HTTP_H

#include <ev.h>
#include <stddef.h>

typedef struct evp_http_server evp_http_server;

/* The body for GET path (query string removed) as a malloc'd text the server takes, with its
 * content type in *type; NULL with *type NULL: no such page (404); NULL with *type set: out
 * of memory (500). */
typedef char *evp_http_page(void *arg, const char *path, const char **type);

/* Listens on listen ("HOST:PORT", listen_addr.h), serving page(arg, ...); NULL with a logged
 * error. */
evp_http_server *evp_http_open(struct ev_loop *loop, const char *listen, evp_http_page *page,
                               void *arg);
/* The address it was opened with. */
const char *evp_http_listen(const evp_http_server *h);
/* Closes it (NULL is fine) and every connection. */
void evp_http_close(evp_http_server *h);

/* Parses one request head (up to the blank line): 200 for a GET, with the path (no query)
 * copied into path (n bytes); else the status to answer: 400 bad request, 405 another
 * method, 414 a path longer than n - 1. Exposed for the unit tests. */
int evp_http_parse_request(const char *head, size_t len, char *path, size_t n);

#endif
