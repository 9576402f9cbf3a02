/* The WebSocket layer's instance and session, shared by its handshake and framing files. */
#ifndef WS_INT_H
#define WS_INT_H

#include "evproxy/plugin.h"
#include "frames.h"

#include <stddef.h>
#include <stdint.h>

/* Longest upgrade request or 101 response head we read (request line and headers). */
#define WS_HEAD_MAX 8192

/* One header the client sends as configured (name in Go's canonical form). */
typedef struct ws_header {
    char *name;
    char *value;
} ws_header;

/* A trusted front's network: family 4 or 6, prefix length bits. */
typedef struct ws_net {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
} ws_net;

/* One inbound's or outbound's wsSettings, read once; sessions borrow it. */
typedef struct ws_config {
    const evp_host *host;
    int server;
    char *path;         /* starts with '/'; the client sends it whole (query included) */
    size_t path_len;    /* the server matches the part before '?' */
    char *host_header;  /* client: headers.Host, or NULL (the dialled address then) */
    ws_header *headers; /* client: the other headers */
    size_t n_headers;
    uint32_t max_early; /* maxEarlyData */
    char *ed_header;    /* earlyDataHeaderName, or NULL */
    ws_net *trusted;    /* server: fronts whose X-Forwarded-For is believed */
    size_t n_trusted;
    int tls_below; /* streamSettings.security is "tls": wss's default port 443 */
} ws_config;

enum ws_state {
    WS_HANDSHAKE, /* server: reading the request; client: the request not sent yet */
    WS_WAIT_101,  /* client: request sent, reading the response */
    WS_PENDING,   /* server: EVP_TARGET returned, the request left unconsumed: answer it */
    WS_OPEN,      /* frames both ways */
    WS_ENDED,     /* decode returned EVP_EOF */
    WS_FAILED,    /* a hook returned EVP_ERR */
};

typedef struct ws_session {
    const ws_config *cfg;
    evp_addr peer;
    uint8_t state;       /* enum ws_state */
    uint8_t eof_pending; /* the layer above ended before the handshake was done */
    char key[32];        /* client: the Sec-WebSocket-Key sent (base64 of 16 bytes) */
    ws_frames frames;
} ws_session;

/* The layer's hooks (evp_transport_ops), in transport.c. */
extern const evp_transport_ops ws_transport_ops;

#endif
