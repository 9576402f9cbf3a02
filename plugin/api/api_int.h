/* The api plugin (V2Ray's `api` outbound, app/commander): each session routed to it is a
 * gRPC connection (HTTP/2 without TLS) whose calls are answered here, from the host's
 * counters (evp_host.stats_visit). */
#ifndef EVP_API_INT_H
#define EVP_API_INT_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* Services an instance serves (api.services), and whether `stats` is configured. */
#define API_STATS_SERVICE 1u
#define API_STATS_ENABLED 2u

/* gRPC status codes used (google.golang.org/grpc/codes). */
enum api_grpc_code {
    API_GRPC_OK = 0,
    API_GRPC_UNKNOWN = 2, /* what a Go handler's plain error becomes (GetStats: not found) */
    API_GRPC_UNIMPLEMENTED = 12,
    API_GRPC_INTERNAL = 13,
};

/* A call's answer: status OK and msg (malloc'd with host->alloc, the caller frees it), or
 * another status and a message for grpc-message. */
typedef struct api_answer {
    int status;
    uint8_t *msg;
    size_t len;
    char message[256];
} api_answer;

/* Answers method ("GetStats", ...) of StatsService given its request message; stats: the
 * config has a `stats` block (without it V2Ray's QueryStats fails). */
void api_stats_call(const evp_host *host, int stats, const char *method, const uint8_t *req,
                    size_t len, api_answer *a);
/* Fills a SysStatsResponse's figures (sys_stats.c); the others stay 0. */
struct V2ray__Core__App__Stats__Command__SysStatsResponse;
void api_sys_stats(struct V2ray__Core__App__Stats__Command__SysStatsResponse *r);

/* One gRPC connection, sans-I/O (grpc_conn.c). */
typedef struct api_conn api_conn;
api_conn *api_conn_new(const evp_host *host, unsigned services);
void api_conn_free(api_conn *c);
/* Takes the client's bytes (any split) and appends the server's to out: 0, or -1 with a
 * one-line reason (a broken HTTP/2 stream). */
int api_conn_feed(api_conn *c, const uint8_t *in, size_t len, evp_buf *out, char *reason,
                  size_t n);

#endif
