/* The running daemon: listeners and instances built from a config, reload, shutdown. */
#ifndef EVP_SERVER_H
#define EVP_SERVER_H

#include "config.h"
#include "config_files.h"
#include "registry.h"
#include "session.h"

typedef struct evp_listener evp_listener;
typedef struct evp_worker evp_worker;
struct evp_control_socket;
struct evp_http_server;

typedef struct evp_server {
    struct ev_loop *loop; /* the main thread's: signals, reload, control; worker 0 runs on it */
    evp_worker *workers;  /* each with its own loop, listeners and sessions (worker.c) */
    unsigned n_workers;
    evp_load load; /* what the caps count, summed over the workers */
    evp_dns_cache *dns_cache; /* every worker's resolver answers from it */
    evp_registry reg;
    evp_config *cfg;
    const evp_config_files *files; /* the caller's, outlives the server; NULL if embedded */
    char *config_text; /* the embedded config, when there is no file */
    char *schema_dir;
    ev_signal sigint, sigterm, sighup;
    ev_timer watch; /* polls clients files for changes (plugin files change on reload) */
    struct evp_control_socket *control; /* when control.path is configured */
    struct evp_http_server *metrics; /* when metrics.listen is configured */
    ev_timer state_save; /* writes control.stateFile now and then (server_limits.c) */
    char *state_file;    /* the one in use, or NULL */
    ev_async reload_done; /* the reload thread has finished */
    void *reload_job; /* the reload in flight, or NULL */
    int reload_again; /* another reload was asked for meanwhile */
    unsigned users_gen; /* counts ctl user changes: a reload read before one is stale */
    unsigned reloads, reloads_refused;
    struct evp_port_alloc **allocs; /* per inbound: its dynamic ports, or NULL */
    size_t n_allocs;
    ev_timer repick; /* re-picks dynamic ports when due */
    int exit_code;
} evp_server;

/* Loads and validates the config, binds every inbound. -1 with errors printed. */
int evp_server_start(evp_server *srv, struct ev_loop *loop, const evp_config_files *files,
                     const char *config_text, const char *schema_dir, const char *plugin_dir);
/* Checks a config as start would, creating every instance but binding nothing.
 * 0 good; -1 with every error printed to stderr. */
int evp_server_check(const evp_config_files *files, const char *config_text,
                     const char *schema_dir, const char *plugin_dir);
/* Starts re-reading the config on a thread; it is applied (on the loop) only when whole and
 * valid, and "reload applied" or "reload refused" is logged. A reload asked for while one
 * runs follows it. 0 started or queued, -1 could not start. */
int evp_server_reload(evp_server *srv);
/* Closes listeners and sessions and frees everything. */
void evp_server_stop(evp_server *srv);
/* Finds the inbound instance tagged tag (NULL when none); no reference is taken. */
evp_instance *evp_server_inbound(evp_server *srv, const char *tag);
/* Points every listener serving old at replacement (new sessions only). */
void evp_server_replace_inbound(evp_server *srv, evp_instance *old, evp_instance *replacement);
/* The config entry of the inbound tagged tag, or NULL. */
const evp_inbound_conf *evp_server_inbound_conf(evp_server *srv, const char *tag);
/* Calls fn for the inbound instance of each running session (old modules included). */
void evp_server_each_session_module(evp_server *srv, void (*fn)(evp_instance *, void *),
                                    void *arg);
/* Calls fn for each inbound instance. */
void evp_server_each_inbound(evp_server *srv, void (*fn)(evp_instance *, void *), void *arg);
/* Answers one control request for the server srv (an evp_server *) into a malloc'd reply:
 * control.c's commands through the table server_control.c gives them (control.h). */
char *evp_server_control_answer(void *srv, const char *request);
/* Calls fn with the traffic so far of every relaying session on every worker. */
void evp_server_each_traffic(evp_server *srv, evp_traffic_fn *fn, void *arg);
/* Calls fn with each worker's number, its running sessions and the TCP connections it
 * accepted so far. */
void evp_server_each_worker(evp_server *srv,
                            void (*fn)(unsigned id, size_t sessions, uint64_t accepted,
                                       void *arg),
                            void *arg);

#endif
