/* The HTTP/2 layer's instance and session, shared by its settings, nghttp2 glue and hooks. */
#ifndef H2_INT_H
#define H2_INT_H

#include "evproxy/plugin.h"

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

/* Each side's receive window (stream and connection), as Go's http2.Server announces it
 * (MaxUploadBufferPerStream): what a peer may send before we pass bytes up. */
#define H2_WINDOW (1024 * 1024)
/* Longest :path / :authority kept from a request; a longer one is refused (404). */
#define H2_PATH_MAX 1024
#define H2_AUTHORITY_MAX 256

/* One extra request header a client sends (httpSettings.headers). */
typedef struct h2_header {
    char *name; /* lower case, as HTTP/2 wants */
    char *value;
} h2_header;

/* One inbound's or outbound's httpSettings, read once; sessions borrow it. */
typedef struct h2_config {
    const evp_host *host;
    int server;
    char **hosts; /* V2Ray's "www.example.com" when none is configured */
    size_t n_hosts;
    char *path;   /* starts with '/'; the server matches it as a prefix, as V2Ray does */
    char *method; /* client: PUT by default */
    h2_header *headers;
    size_t n_headers;
} h2_config;

typedef struct h2_session {
    const h2_config *cfg;
    nghttp2_session *ng;
    int32_t stream_id; /* this connection's one stream, 0 until there is one */
    uint8_t started;   /* client: preface, SETTINGS and request submitted */
    uint8_t accepted;  /* server: 200 submitted; client: 200 received */
    uint8_t refused;   /* server: 404 submitted: fail once it is out */
    uint8_t up_ended;  /* the peer's END_STREAM (or the stream closed) arrived */
    uint8_t eof_above; /* every byte from above is taken and it ended */
    uint8_t end_sent;  /* our END_STREAM was written */
    uint8_t failed;
    /* The call in progress: borrowed input and output (valid only inside a hook). */
    const uint8_t *enc_in;
    size_t enc_len, enc_taken;
    int enc_eof;
    evp_buf *up_out;       /* decode's io->out while nghttp2 reads */
    size_t to_consume;     /* bytes passed up in this decode: their window goes back */
    size_t conn_consume;   /* bytes of refused streams: only the connection's window */
    char reason[128];
    /* Server: the request's pseudo-headers as read. */
    char path[H2_PATH_MAX + 1];
    char authority[H2_AUTHORITY_MAX + 1];
    uint8_t path_long, authority_long;
    uint16_t status; /* client: the response's :status */
} h2_session;

/* settings.c */
h2_config *h2_config_new(const evp_host *host, const evp_transport_args *args, char *err,
                         size_t errlen);
void h2_config_free(h2_config *cfg);

/* glue.c: the nghttp2 session with our callbacks (server or client by cfg); -1 when out of
 * memory. */
int h2_ng_new(h2_session *s);
/* Everything nghttp2 has to write, appended to out; -1 (s->reason set) on failure. */
int h2_ng_flush(h2_session *s, evp_buf *out);
/* Client: SETTINGS and the one request (its body is what comes from above). */
int h2_client_start(h2_session *s);

/* Keeps :path and :authority (or host) of a request header into path / authority. */
void h2_request_header(const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen, char *path, uint8_t *path_long, char *authority,
                       uint8_t *authority_long);
/* A body read callback's step: copies up to length of src[*taken..avail) into buf; at the
 * end of src with ended set, the EOF flag (and *end_sent); nothing to give is DEFERRED. */
ssize_t h2_body_chunk(uint8_t *buf, size_t length, const uint8_t *src, size_t avail,
                      size_t *taken, int ended, uint32_t *flags, uint8_t *end_sent);
/* V2Ray's checks of a request: the Host among c's `host` (exactly), the path under c's `path`
 * (a prefix of the part before '?'). */
int h2_request_ok(const h2_config *c, const char *path, int path_long, const char *authority,
                  int authority_long);

/* The layer's hooks (evp_transport_ops), in transport.c. */
extern const evp_transport_ops h2_transport_ops;

/* The server side as a multiplexer (evp_mux_ops, server_mux.c): each request a stream of
 * its own, run by the host as a session of the inbound's protocol. */
extern const evp_mux_ops h2_mux_ops;

#endif
