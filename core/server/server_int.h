/* Internals shared by the server files: server.c (start, stop, signals, the config's policy),
 * listener.c (binding, accepting, pausing, the inbound lookups), reload.c (the plan a
 * config needs, the reload thread, the swap, the clients-file watch) and server_control.c
 * (what the control socket may do). Nothing outside those files includes it. */
#ifndef EVP_SERVER_INT_H
#define EVP_SERVER_INT_H

#include "server.h"

#include <stdint.h>

struct evp_listener {
    ev_io io; /* first member: the accept callback casts back */
    evp_udp_owner owner; /* UDP listeners own their sessions by peer address */
    evp_server *srv;
    evp_listener *next;
    int fd;
    int udp;
    char *listen;
    uint16_t port;
    evp_instance *in; /* current; new sessions take references */
    evp_router *router; /* picks each session's outbound once its target is known */
    ev_timer pause; /* accepting paused while out of descriptors */
    int starved;    /* out of descriptors: said once, until the backlog is drained */
    evp_session **peers; /* UDP sessions by peer */
    size_t n_peers;
    int keep; /* reload bookkeeping */
};

/* listener.c */

/* A listener bound to host:port (not started, serving nothing yet); NULL with the reason in
 * err. */
evp_listener *evp_listener_bind(const char *host, uint16_t port, int udp, char *err,
                                size_t errlen);
/* Starts accepting (or reading datagrams) on a bound listener and puts it on srv's list. */
void evp_listener_start(evp_server *srv, evp_listener *l);
/* Closes a bound listener that was never started. */
void evp_listener_discard(evp_listener *l);
/* Closes a started listener (already off the list) and lets its UDP sessions run out. */
void evp_listener_free(evp_server *srv, evp_listener *l);
/* The running listener on host:port, or NULL. */
evp_listener *evp_listener_find(evp_server *srv, const char *host, uint16_t port, int udp);
/* The runtime's resume_accepting hook: room again, start the TCP listeners not starved. */
void evp_listeners_resume(evp_runtime *rt);

/* reload.c */

/* Builds what cfg needs (instances, router, new sockets) and swaps it in; -1 with the errors
 * logged and nothing running touched. Used for the first config; reloads build on a thread. */
int evp_reload_apply_now(evp_server *srv, evp_config *cfg);
/* Watches cfg's clients files and starts the reload machinery (the watch timer, the async
 * the reload thread signals). */
void evp_reload_init(evp_server *srv, const evp_config *cfg);
/* Waits for a reload in flight and drops what it built; stops the watch. */
void evp_reload_stop(evp_server *srv);

/* server.c */

/* Timeouts, limits and DNS from the config's policy. */
void evp_server_apply_policy(evp_server *srv, const evp_config *cfg);

#endif
