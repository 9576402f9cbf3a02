/* Internals shared by the server files: server.c (start, stop, signals, the config's policy),
 * listener.c (binding, accepting, pausing, the inbound lookups), reload.c (the plan a
 * config needs, the reload thread, the swap, the clients-file watch), server_control.c (what
 * the control socket may do) and worker.c (the event-loop threads and calls into them).
 * Nothing outside those files includes it. */
#ifndef EVP_SERVER_INT_H
#define EVP_SERVER_INT_H

#include "server.h"

#include <pthread.h>
#include <stdint.h>

/* One event loop and everything on it: share-nothing but the instances and routers (atomic
 * refcounts) and the load. Worker 0 runs on the main thread's loop, the others each on their
 * own thread; only a worker touches its loop, runtime and listeners, so the main thread
 * reaches them through evp_workers_run. */
struct evp_worker {
    evp_server *srv;
    unsigned id;
    struct ev_loop *loop;
    evp_runtime rt;
    evp_listener *listeners; /* this worker's sockets: one per inbound address */
    uint64_t accepted; /* TCP connections taken, for ctl stats */
    pthread_t thread;
    int threaded; /* 0 for worker 0 */
    ev_async call_w; /* the main thread left a call */
    ev_async wake_w; /* another worker made room under a cap */
    pthread_mutex_t lock; /* guards call and call_arg */
    pthread_cond_t answered;
    void (*call)(evp_worker *w, void *arg);
    void *call_arg;
};

struct evp_listener {
    ev_io io; /* first member: the accept callback casts back */
    evp_udp_owner owner; /* UDP listeners own their sessions by peer address */
    evp_worker *w; /* the one that accepts on it */
    unsigned worker; /* its number, set when bound */
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

/* An inbound with allocate "random" (dynamic_port.c): the ports it listens on. As in V2Ray,
 * two picks are open at once: the newest, which clients are told of, and the one before it,
 * kept one more refresh for clients told of it then; a pick avoids the ports still open. */
typedef struct evp_port_alloc {
    char *tag, *listen; /* owned copies */
    uint16_t first, last;
    evp_allocate a;
    int want_tcp, want_udp;
    uint16_t *cur, *prev; /* a.concurrency room each */
    size_t n_cur, n_prev;
    double picked; /* monotonic seconds of the newest pick */
    evp_instance *in; /* references: what new listeners serve */
    evp_router *router;
} evp_port_alloc;

/* listener.c */

/* A listener bound to host:port (not started, serving nothing yet); NULL with the reason in
 * err. shared: SO_REUSEPORT, so that each worker binds its own socket to the address. */
evp_listener *evp_listener_bind(const char *host, uint16_t port, int udp, int shared,
                                char *err, size_t errlen);
/* 0 when host:port may be bound: a listener of ours (ours: started, fresh: bound in this
 * plan) has the port, or nothing holds it. Workers share a port (SO_REUSEPORT, and UDP
 * sockets share one with SO_REUSEADDR alone), which let a second daemon of the same user
 * bind it too and take some of the first one's clients; a probe bound without sharing
 * fails then: -1 with the reason (address in use) in err. */
int evp_listener_claim(const evp_listener *ours, const evp_listener *fresh, const char *host,
                       uint16_t port, int udp, char *err, size_t errlen);
/* Starts accepting (or reading datagrams) on a bound listener and puts it on w's list. */
void evp_listener_start(evp_worker *w, evp_listener *l);
/* Closes a bound listener that was never started. */
void evp_listener_discard(evp_listener *l);
/* Closes a started listener (already off the list) and lets its UDP sessions run out. */
void evp_listener_free(evp_listener *l);
/* The listener on host:port in list, or NULL. */
evp_listener *evp_listener_find(evp_listener *list, const char *host, uint16_t port, int udp);
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

/* dynamic_port.c */

/* For inbound ic (instance in, router) of a new config: *out is NULL unless it allocates
 * "random"; then its ports, carried over from the running one with the same tag, listen
 * address, range and allocate, else a first pick. Reload thread; 0, or -1 out of memory. */
int evp_port_alloc_plan(evp_server *srv, const evp_inbound_conf *ic, evp_instance *in,
                        evp_router *router, evp_port_alloc **out);
/* Binds, one socket per worker each, a's ports not open on worker 0 yet, onto *fresh (with
 * l->worker set); a port that cannot be bound is warned about and replaced by another free
 * one of the range when there is one, else left out (as V2Ray goes on without it). */
void evp_port_alloc_bind(evp_server *srv, evp_port_alloc *a, evp_listener **fresh);
/* Whether port of its range should listen (a NULL a: every port). */
int evp_port_alloc_wants(const evp_port_alloc *a, unsigned port);
void evp_port_alloc_free(evp_port_alloc *a);
/* Main thread, once a config is committed: the server runs allocs (n of them, NULL entries
 * fine; taken over) from now, the old ones are freed, and the ports are announced. */
void evp_port_allocs_adopt(evp_server *srv, evp_port_alloc **allocs, size_t n);
/* Starts and stops the timer that re-picks ports when their refresh is due. */
void evp_port_allocs_init(evp_server *srv);
void evp_port_allocs_stop(evp_server *srv);

/* server.c */

/* Timeouts, limits and DNS from the config's policy, on the worker owning rt. */
void evp_server_apply_policy(evp_runtime *rt, const evp_config *cfg);

/* server_metrics.c */

/* Opens, moves or closes the metrics endpoint as cfg's metrics.listen says (NULL cfg: close).
 * -1 (logged) when the address cannot be bound: no endpoint is left then. */
int evp_server_metrics_apply(evp_server *srv, const evp_config *cfg);

/* server_limits.c */

/* Takes the users' limits of every inbound of the running config; loads control.stateFile
 * on the first call and writes it every minute (a new path from then on). */
void evp_server_limits_apply(evp_server *srv, const evp_config *cfg);
/* Writes the state file a last time and stops the timer. */
void evp_server_limits_stop(evp_server *srv);

/* worker.c */

/* How many workers to run: EVPROXY_WORKERS, else the config's "workers", else one per
 * online core. -1 with the reason in err when EVPROXY_WORKERS is not 1..64. */
int evp_workers_wanted(const evp_config *cfg, unsigned *n, char *err, size_t errlen);
/* Starts n workers (worker 0 on srv->loop, the others on threads); -1 when out of memory. */
int evp_workers_start(evp_server *srv, unsigned n);
/* Runs fn on each worker's own thread in turn, between its callbacks, and returns when all
 * have run it. Main thread only; fn must not wait for another worker. */
void evp_workers_run(evp_server *srv, void (*fn)(evp_worker *w, void *arg), void *arg);
/* Closes every worker's listeners and sessions, ends the threads and frees the workers. */
void evp_workers_stop(evp_server *srv);

#endif
