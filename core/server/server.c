/* The running daemon's lifecycle: start (the first config, the workers, the control socket,
 * the signals), the config's policy, stop, and the config check without starting. Listeners
 * are in listener.c, applying a config and reloading in reload.c, the workers in worker.c. */
#include "server_int.h"

#include "access_log.h"
#include "admission.h"
#include "api_stats_conf.h"
#include "buf.h"
#include "control_socket.h"
#include "log.h"
#include "stats.h"
#include "users.h"
#include "v2stats.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* V2Ray's named counters the config calls for; its api outbound gets none, as V2Ray's
 * commander's has none. */
static void apply_v2stats(const evp_config *cfg)
{
    const char **ins = calloc(cfg->n_inbounds + 1, sizeof *ins);
    const char **outs = calloc(cfg->n_outbounds + 1, sizeof *outs);
    size_t n_outs = 0;
    for (size_t i = 0; ins && i < cfg->n_inbounds; i++)
        ins[i] = cfg->inbounds[i].tag;
    for (size_t i = 0; outs && i < cfg->n_outbounds; i++)
        if (strcmp(cfg->outbounds[i].protocol, EVP_API_PROTOCOL) != 0)
            outs[n_outs++] = cfg->outbounds[i].tag;
    if (ins && outs)
        evp_v2stats_configure(&cfg->v2stats, ins, cfg->n_inbounds, outs, n_outs);
    free(ins);
    free(outs);
}

/* Timeouts (level 0's, as V2Ray applies to handshakes) and per-level buffer sizes from the
 * config's policy. */
void evp_server_apply_policy(evp_runtime *rt, const evp_config *cfg)
{
    rt->handshake_timeout = cfg->handshake > 0 ? cfg->handshake : 4.0;
    rt->idle_timeout = cfg->conn_idle > 0 ? cfg->conn_idle : 300.0;
    rt->uplink_only = cfg->uplink_only;
    rt->downlink_only = cfg->downlink_only;
    for (int i = 1; i < EVP_POLICY_LEVELS; i++)
        rt->levels[i] = (evp_level_policy){cfg->levels[i].conn_idle, cfg->levels[i].uplink_only,
                                           cfg->levels[i].downlink_only};
    for (int i = 0; i < EVP_POLICY_LEVELS; i++)
        rt->relay_buffer[i] = cfg->buffer_bytes[i];
    rt->limits = cfg->limits;
    evp_resolver_configure(rt->resolver, &cfg->limits, cfg->dns_servers, cfg->dns_hosts);
    evp_admission_changed(rt); /* raised caps resume accepting at once */
    apply_v2stats(cfg);
}

static void on_stop_signal(EV_P_ ev_signal *w, int revents)
{
    evp_info("signal %d: shutting down", w->signum);
    ev_break(EV_A, EVBREAK_ALL);
}

static void on_hup(EV_P_ ev_signal *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, sighup));
    evp_info("SIGHUP: reloading %s", srv->files ? "the config files" : "(embedded)");
    evp_server_reload(srv);
}

int evp_server_start(evp_server *srv, struct ev_loop *loop, const evp_config_files *files,
                     const char *config_text, const char *schema_dir, const char *plugin_dir)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->files = files;
    srv->config_text = config_text ? strdup(config_text) : NULL;
    srv->schema_dir = strdup(schema_dir);
    if (evp_registry_init(&srv->reg, plugin_dir) != 0)
        return -1;
    char *errors = NULL;
    evp_config *cfg =
        evp_config_load_files(srv->files, srv->config_text, srv->schema_dir, &srv->reg, &errors);
    if (cfg == NULL) {
        fprintf(stderr, "%s", errors ? errors : "config: out of memory\n");
        free(errors);
        return -1;
    }
    if (cfg->loglevel >= 0)
        evp_log_level = cfg->loglevel;
    if (cfg->error_log && evp_log_to_file(cfg->error_log) != 0) {
        fprintf(stderr, "log.error: cannot open %s\n", cfg->error_log);
        evp_config_free(cfg);
        return -1;
    }
    if (cfg->access_log && evp_access_log_open(cfg->access_log) != 0) {
        evp_err("log.access: cannot open %s", cfg->access_log);
        evp_config_free(cfg);
        return -1;
    }
    evp_access_log_set_format(cfg->access_format);
    /* The control path first: "another evproxy is listening" says why a second start fails. */
    if (cfg->control_path &&
        (srv->control = evp_control_socket_open(loop, cfg->control_path,
                                                evp_server_control_answer, srv)) == NULL) {
        evp_config_free(cfg);
        return -1;
    }
    unsigned n;
    char err[128];
    if (evp_workers_wanted(cfg, &n, err, sizeof err) != 0) {
        evp_err("%s", err);
        evp_config_free(cfg);
        return -1;
    }
    if (evp_workers_start(srv, n) != 0) {
        evp_err("cannot start %u workers", n);
        evp_config_free(cfg);
        return -1;
    }
    if (evp_reload_apply_now(srv, cfg) != 0) {
        evp_config_free(cfg);
        return -1;
    }
    srv->cfg = cfg;
    evp_server_limits_apply(srv, cfg);
    if (evp_server_metrics_apply(srv, cfg) != 0)
        return -1; /* asked for and not served: say so at start, not at the first scrape */
    ev_signal_init(&srv->sigint, on_stop_signal, SIGINT);
    ev_signal_init(&srv->sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&srv->sighup, on_hup, SIGHUP);
    ev_signal_start(loop, &srv->sigint);
    ev_signal_start(loop, &srv->sigterm);
    ev_signal_start(loop, &srv->sighup);
    evp_reload_init(srv, cfg);
    return 0;
}

int evp_server_check(const evp_config_files *files, const char *config_text,
                     const char *schema_dir, const char *plugin_dir)
{
    evp_registry reg;
    if (evp_registry_init(&reg, plugin_dir) != 0)
        return -1;
    char *errors = NULL;
    evp_config *cfg = evp_config_load_files(files, config_text, schema_dir, &reg, &errors);
    int rc = cfg ? 0 : -1;
    if (cfg == NULL)
        fprintf(stderr, "%s", errors ? errors : "config: out of memory\n");
    free(errors);
    for (size_t i = 0; cfg && i < cfg->n_inbounds + cfg->n_outbounds; i++) {
        int inbound = i < cfg->n_inbounds;
        size_t k = inbound ? i : i - cfg->n_inbounds;
        char err[512];
        evp_instance *inst = inbound ? evp_inbound_instance_new(&cfg->inbounds[k], err, sizeof err)
                                     : evp_outbound_instance_new(&cfg->outbounds[k], err,
                                                                 sizeof err);
        if (inst == NULL) {
            fprintf(stderr, "%s[%zu].%s\n", inbound ? "inbounds" : "outbounds", k, err);
            rc = -1;
        }
        evp_instance_unref(inst);
    }
    evp_config_free(cfg);
    evp_registry_free(&reg);
    return rc;
}

void evp_server_stop(evp_server *srv)
{
    struct ev_loop *loop = srv->loop;
    evp_reload_stop(srv);
    evp_server_metrics_apply(srv, NULL);
    evp_control_socket_close(srv->control);
    srv->control = NULL;
    evp_workers_stop(srv);
    evp_server_limits_stop(srv); /* after the sessions: their last bytes are counted */
    ev_signal_stop(loop, &srv->sigint);
    ev_signal_stop(loop, &srv->sigterm);
    ev_signal_stop(loop, &srv->sighup);
    evp_config_free(srv->cfg);
    evp_registry_free(&srv->reg);
    free(srv->config_text);
    free(srv->schema_dir);
    evp_stats_clear();
    evp_v2stats_clear();
    evp_buf_pool_drain();
    evp_access_log_open(NULL);
}

const evp_inbound_conf *evp_server_inbound_conf(evp_server *srv, const char *tag)
{
    for (size_t i = 0; srv->cfg && i < srv->cfg->n_inbounds; i++)
        if (strcmp(srv->cfg->inbounds[i].tag, tag) == 0)
            return &srv->cfg->inbounds[i];
    return NULL;
}

/* The lookups below run on each worker in turn (its sessions are its own); the main thread
 * waits meanwhile, so the caller's fn and arg are used by one thread at a time. */

typedef struct modules_call {
    void (*fn)(evp_instance *, void *);
    void *arg;
} modules_call;

static void modules_on_worker(evp_worker *w, void *arg)
{
    modules_call *c = arg;
    evp_session_each_inbound(&w->rt, c->fn, c->arg);
}

void evp_server_each_session_module(evp_server *srv, void (*fn)(evp_instance *, void *),
                                    void *arg)
{
    modules_call c = {fn, arg};
    evp_workers_run(srv, modules_on_worker, &c);
}

typedef struct traffic_call {
    evp_traffic_fn *fn;
    void *arg;
} traffic_call;

static void traffic_on_worker(evp_worker *w, void *arg)
{
    traffic_call *c = arg;
    evp_session_each_traffic(&w->rt, c->fn, c->arg);
}

void evp_server_each_traffic(evp_server *srv, evp_traffic_fn *fn, void *arg)
{
    traffic_call c = {fn, arg};
    evp_workers_run(srv, traffic_on_worker, &c);
}

typedef struct worker_call {
    void (*fn)(unsigned, size_t, uint64_t, void *);
    void *arg;
} worker_call;

static void count_on_worker(evp_worker *w, void *arg)
{
    worker_call *c = arg;
    c->fn(w->id, w->rt.n_sessions, w->accepted, c->arg);
}

void evp_server_each_worker(evp_server *srv,
                            void (*fn)(unsigned id, size_t sessions, uint64_t accepted,
                                       void *arg),
                            void *arg)
{
    worker_call c = {fn, arg};
    evp_workers_run(srv, count_on_worker, &c);
}
