/* The control socket (Unix domain, mode 0600): list/add/remove users and read traffic
 * counters of a running daemon, one JSON request line and one JSON reply line per
 * connection. At most 16 connections at once, 64 KiB per request line, 5 s to send it and
 * 5 s to take the reply. `evproxy ctl` is its command-line client. */
#ifndef EVP_CONTROL_H
#define EVP_CONTROL_H

#include "evproxy/plugin.h"
#include "instance.h"
#include "stats.h"

#include <stdint.h>

/* Calls of evp_control_host.each_traffic: one relaying session's tags, user and bytes. */
typedef evp_traffic_fn evp_control_traffic_fn;

/* What the commands need of the running daemon, handed over by whoever runs the control
 * socket (the server): control/ depends on this table, never on the server itself. Every
 * call comes from the thread that runs the control socket. */
typedef struct evp_control_host {
    void *ctx; /* the first argument of every call */
    const char *schema_dir; /* where the plugins' user schemas are */
    /* The inbound instance tagged tag, or NULL; no reference is taken. */
    evp_instance *(*inbound)(void *ctx, const char *tag);
    /* The clientsFile of the inbound tagged tag into out (n bytes), "" when it has none. */
    void (*clients_file)(void *ctx, const char *tag, char *out, size_t n);
    /* Starts a reload (its outcome is logged); 0, or -1 when it cannot start. */
    int (*reload)(void *ctx);
    /* Calls fn for every loaded module: current ones, and older copies that an inbound or a
     * running session still holds (a module may come more than once). */
    void (*each_module)(void *ctx, void (*fn)(const evp_module *m, void *arg), void *arg);
    /* Calls fn for each relaying session. */
    void (*each_traffic)(void *ctx, evp_control_traffic_fn *fn, void *arg);
    /* Optional: calls fn with each worker's number, running sessions and TCP accepts. */
    void (*each_worker)(void *ctx,
                        void (*fn)(unsigned id, size_t sessions, uint64_t accepted, void *arg),
                        void *arg);
} evp_control_host;

/* Answers one request (a JSON object) into a malloc'd JSON reply (no newline). */
char *evp_control_handle(const evp_control_host *host, const char *request);
/* A malloc'd {"ok": false, "error": ...} reply (no newline). */
char *evp_control_error(const char *fmt, ...) EVP_PRINTF(1, 2);
/* `evproxy ctl [-s SOCKET] COMMAND ARGS...`: exit 0 on success, 1 on a refused request,
 * 2 when the daemon cannot be reached. argv[0] = "ctl". */
int evp_ctl_main(int argc, char **argv);

#endif
