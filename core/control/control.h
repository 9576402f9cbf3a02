/* The control socket (Unix domain, mode 0600): list/add/remove users and read traffic
 * counters of a running daemon, one JSON request line and one JSON reply line per
 * connection. At most 16 connections at once, 64 KiB per request line, 5 s to send it and
 * 5 s to take the reply. `evproxy ctl` is its command-line client. */
#ifndef EVP_CONTROL_H
#define EVP_CONTROL_H

#include "evproxy/plugin.h"

/* The commands act on the server through server.h; this header needs only the name. */
typedef struct evp_server evp_server;
/* Answers one request (a JSON object) into a malloc'd JSON reply (no newline). */
char *evp_control_handle(evp_server *srv, const char *request);
/* A malloc'd {"ok": false, "error": ...} reply (no newline). */
char *evp_control_error(const char *fmt, ...) EVP_PRINTF(1, 2);
/* `evproxy ctl [-s SOCKET] COMMAND ARGS...`: exit 0 on success, 1 on a refused request,
 * 2 when the daemon cannot be reached. argv[0] = "ctl". */
int evp_ctl_main(int argc, char **argv);

#endif
