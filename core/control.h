/* The control socket (Unix domain, mode 0600): list/add/remove users and read traffic
 * counters of a running daemon, one JSON request line and one JSON reply line per
 * connection. `evproxy ctl` is its command-line client. */
#ifndef EVP_CONTROL_H
#define EVP_CONTROL_H

#include "server.h"

/* Opens the control socket at path for srv; -1 with a logged error. */
int evp_control_start(evp_server *srv, const char *path);
/* Closes it and removes the socket file. */
void evp_control_stop(evp_server *srv);
/* Answers one request (a JSON object) into a malloc'd JSON reply line. */
char *evp_control_handle(evp_server *srv, const char *request);
/* `evproxy ctl [-s SOCKET] COMMAND ARGS...`: exit 0 on success, 1 on a refused request,
 * 2 when the daemon cannot be reached. argv[0] = "ctl". */
int evp_ctl_main(int argc, char **argv);

#endif
