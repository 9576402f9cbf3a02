/* The control socket's transport: a Unix socket (mode 0600) in the event loop that answers
 * each connection's one request line with one reply line. What a request means is the
 * caller's business (control.c answers them for the server); this knows nothing of it. */
#ifndef EVP_CONTROL_SOCKET_H
#define EVP_CONTROL_SOCKET_H

#include <ev.h>

typedef struct evp_control_socket evp_control_socket;

/* Answers one request (a line, newline excluded) with a malloc'd reply (no newline), which the
 * socket takes; NULL when out of memory. */
typedef char *evp_control_answer(void *arg, const char *request);

/* Opens the control socket at path, answering with answer(arg, ...); NULL with a logged error.
 * Refuses a path that holds anything but a stale socket (one nobody answers on), which it
 * replaces. */
evp_control_socket *evp_control_socket_open(struct ev_loop *loop, const char *path,
                                            evp_control_answer *answer, void *arg);
/* Closes it (NULL is fine) and its connections, and removes the socket file if it is still
 * the one made. */
void evp_control_socket_close(evp_control_socket *ctl);

#endif
