/* Applying a config: the plan it needs (instances, router, new sockets) is built aside, on a
 * thread for a reload, and swapped in only when whole: the main thread hands it to each
 * worker in turn, which adopts it between two callbacks. Listeners whose address is
 * unchanged keep their socket; running sessions keep the instances they started with (the
 * old ones are freed by whichever worker drops the last reference). A clients file that
 * changes and settles triggers a reload. */
#include "server_int.h"

#include "access_log.h"
#include "log.h"
#include "users.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A file watched for changes (clients files). A change is acted on only once the file has
 * stood still for one poll: an editor or `printf > file` truncates before it writes, and a
 * reload that read the empty file in between would be refused for nothing. */
typedef struct watched {
    char *path;
    struct stat st;
    int exists;
    int unsettled; /* changed at the last poll; reload when the next one sees it still */
} watched;

static watched *watch_list;
static size_t n_watch;

/* What a new config needs, built aside before anything running is touched. */
typedef struct plan {
    evp_instance **ins, **outs;
    size_t n_ins, n_outs;
    evp_listener *fresh; /* listeners to add (bound, not started), one per worker each */
    evp_router *router; /* the config's rules with these outbounds */
    evp_port_alloc **allocs; /* per inbound: its dynamic ports, or NULL */
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n_ins; i++)
        evp_instance_unref(p->ins[i]);
    for (size_t i = 0; i < p->n_outs; i++)
        evp_instance_unref(p->outs[i]);
    for (size_t i = 0; p->allocs && i < p->n_ins; i++)
        evp_port_alloc_free(p->allocs[i]);
    free(p->allocs);
    p->allocs = NULL;
    free(p->ins);
    free(p->outs);
    evp_router_unref(p->router);
    p->router = NULL;
    while (p->fresh) {
        evp_listener *l = p->fresh;
        p->fresh = l->next;
        evp_listener_discard(l);
    }
}

/* An outbound with "mux" on gets the multiplexer and a carrier instance under its tag. */
static int plan_mux(evp_config *cfg, const evp_outbound_conf *oc, evp_instance *out, size_t i)
{
    char err[256];
    if (cfg->mux == NULL || cfg->carrier == NULL) {
        evp_warn("outbounds[%zu].mux: no multiplexer plugin (mux.so): connections go one per "
                 "stream", i);
        return 0;
    }
    out->mux_carrier = evp_instance_new(cfg->carrier, 0, oc->tag, "{}", 0, err, sizeof err);
    if (out->mux_carrier == NULL) {
        evp_err("outbounds[%zu].mux: %s", i, err);
        return -1;
    }
    out->mux = evp_module_ref(cfg->mux);
    out->mux_concurrency = oc->mux_concurrency;
    return 0;
}

static int plan_build(evp_server *srv, evp_config *cfg, plan *p)
{
    char err[512];
    memset(p, 0, sizeof *p);
    p->ins = calloc(cfg->n_inbounds, sizeof *p->ins);
    p->outs = calloc(cfg->n_outbounds, sizeof *p->outs);
    p->allocs = calloc(cfg->n_inbounds, sizeof *p->allocs);
    if (p->ins == NULL || p->outs == NULL || p->allocs == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_outbounds; i++) {
        evp_outbound_conf *oc = &cfg->outbounds[i];
        p->outs[i] = evp_outbound_instance_new(oc, err, sizeof err);
        if (p->outs[i] == NULL) {
            evp_err("outbounds[%zu].%s", i, err);
            return -1;
        }
        p->n_outs = i + 1; /* plan_free drops it from here on, whatever fails next */
        if (oc->mux_concurrency && plan_mux(cfg, oc, p->outs[i], i) != 0)
            return -1;
    }
    p->router = evp_router_ref(cfg->router);
    evp_router_set_outbounds(p->router, p->outs, p->n_outs);
    evp_instance *carrier =
        cfg->carrier ? evp_instance_new(cfg->carrier, 0, "mux", "{}", 0, err, sizeof err) : NULL;
    if (carrier) {
        evp_router_set_demux(p->router, carrier, cfg->mux);
        evp_instance_unref(carrier);
    }
    for (size_t i = 0; i < cfg->n_inbounds; i++) {
        evp_inbound_conf *ic = &cfg->inbounds[i];
        p->ins[i] = evp_inbound_instance_new(ic, err, sizeof err);
        if (p->ins[i] == NULL) {
            evp_err("inbounds[%zu].%s", i, err);
            return -1;
        }
        p->n_ins = i + 1; /* plan_free drops it (and its port plan) if a bind fails */
        if (evp_port_alloc_plan(srv, ic, p->ins[i], p->router, &p->allocs[i]) != 0)
            return -1;
        if (p->allocs[i] != NULL && srv->n_workers) {
            evp_port_alloc_bind(srv, p->allocs[i], &p->fresh);
            continue;
        }
        for (unsigned port = ic->port; port <= ic->port_last; port++)
        for (int udp = 0; udp <= 1; udp++) {
            if (!(udp ? ic->want_udp : ic->want_tcp) ||
                !evp_port_alloc_wants(p->allocs[i], port))
                continue;
            /* Worker 0's list is read here on the reload thread: only a commit changes it,
             * and none runs while a plan is built. */
            if (srv->n_workers &&
                evp_listener_find(srv->workers[0].listeners, ic->listen, (uint16_t)port, udp))
                continue; /* kept: its sockets stay open across the reload */
            if (srv->n_workers && evp_listener_claim(srv->workers[0].listeners, p->fresh,
                                                     ic->listen, (uint16_t)port, udp, err,
                                                     sizeof err) != 0) {
                evp_err("inbounds[%zu]: %s", i, err);
                return -1;
            }
            for (unsigned k = 0; k < srv->n_workers; k++) {
                evp_listener *l = evp_listener_bind(ic->listen, (uint16_t)port, udp,
                                                    srv->n_workers > 1, err, sizeof err);
                if (l == NULL) {
                    evp_err("inbounds[%zu]: %s", i, err);
                    return -1;
                }
                l->worker = k;
                l->next = p->fresh;
                p->fresh = l;
            }
        }
    }
    return 0;
}

/* Points listener l at inbound i of cfg and the new router. */
static void listener_assign(evp_listener *l, plan *p, evp_config *cfg, size_t i)
{
    evp_instance *in = evp_instance_ref(p->ins[i]);
    evp_router *router = evp_router_ref(p->router);
    evp_instance_unref(l->in);
    evp_router_unref(l->router);
    l->in = in;
    l->router = router;
    l->keep = 1;
}

typedef struct commit {
    evp_config *cfg;
    plan *p;
} commit;

/* On each worker: the policy, its share of the new sockets, the new instances and router. */
static void commit_on_worker(evp_worker *w, void *arg)
{
    evp_config *cfg = ((commit *)arg)->cfg;
    plan *p = ((commit *)arg)->p;
    evp_server_apply_policy(&w->rt, cfg);
    for (evp_listener *l = w->listeners; l; l = l->next)
        l->keep = 0;
    /* Start new listeners. */
    for (evp_listener **pl = &p->fresh; *pl;) {
        evp_listener *l = *pl;
        if (l->worker != w->id) {
            pl = &l->next;
            continue;
        }
        *pl = l->next;
        evp_listener_start(w, l);
    }
    for (size_t i = 0; i < cfg->n_inbounds; i++) {
        evp_inbound_conf *ic = &cfg->inbounds[i];
        for (unsigned port = ic->port; port <= ic->port_last; port++)
        for (int udp = 0; udp <= 1; udp++) {
            if (!(udp ? ic->want_udp : ic->want_tcp) ||
                !evp_port_alloc_wants(p->allocs[i], port))
                continue;
            evp_listener *l = evp_listener_find(w->listeners, ic->listen, (uint16_t)port, udp);
            if (l && !l->keep) {
                listener_assign(l, p, cfg, i);
                if (w->id == 0) /* once, not once per worker */
                    evp_info("inbound [%s] %s on %s %s:%u", ic->tag, ic->protocol,
                             udp ? "udp" : "tcp", ic->listen, port);
            }
        }
    }
    /* Close listeners the new config no longer has (after the new ones are open). */
    for (evp_listener **pl = &w->listeners; *pl;) {
        evp_listener *l = *pl;
        if (!l->keep) {
            *pl = l->next;
            if (w->id == 0)
                evp_info("closing listener %s:%u", l->listen, l->port);
            evp_listener_free(l);
        } else {
            pl = &l->next;
        }
    }
}

static void plan_commit(evp_server *srv, evp_config *cfg, plan *p)
{
    commit c = {cfg, p};
    evp_workers_run(srv, commit_on_worker, &c);
    evp_port_allocs_adopt(srv, p->allocs, p->n_ins);
    p->allocs = NULL;
    plan_free(p); /* drops the plan's references; listeners hold their own */
}

static void watch_files(const evp_config *cfg)
{
    for (size_t i = 0; i < n_watch; i++)
        free(watch_list[i].path);
    free(watch_list);
    watch_list = NULL;
    n_watch = 0;
    watch_list = calloc(cfg->n_inbounds, sizeof *watch_list);
    for (size_t i = 0; watch_list && i < cfg->n_inbounds; i++) {
        const char *f = cfg->inbounds[i].clients_file;
        if (f == NULL)
            continue;
        watched *w = &watch_list[n_watch++];
        w->path = strdup(f);
        w->exists = stat(f, &w->st) == 0;
    }
}

static int same_file_state(const watched *w, int exists, const struct stat *st)
{
    return exists == w->exists &&
           (!exists || (st->st_ino == w->st.st_ino && st->st_size == w->st.st_size &&
                        st->st_mtim.tv_sec == w->st.st_mtim.tv_sec &&
                        st->st_mtim.tv_nsec == w->st.st_mtim.tv_nsec));
}

/* 1 when a watched file changed and has since settled (see struct watched). */
static int watched_changed(void)
{
    int settled = 0;
    for (size_t i = 0; i < n_watch; i++) {
        watched *w = &watch_list[i];
        struct stat st;
        int exists = stat(w->path, &st) == 0;
        if (!same_file_state(w, exists, &st)) {
            w->exists = exists;
            w->st = st;
            w->unsettled = 1;
        } else if (w->unsettled) {
            w->unsettled = 0;
            settled = 1;
        }
    }
    return settled;
}

/* A reload in flight: everything slow (parsing, schema checks, dlopen, building user
 * tables, binding) happens on its own thread; only the swap runs on the loop. */
typedef struct reload_job {
    evp_server *srv;
    pthread_t thread;
    evp_registry fresh;
    evp_config *cfg;
    plan p;
    int ok;
    unsigned users_gen; /* the server's when the thread started reading */
} reload_job;

static void *reload_thread(void *arg)
{
    reload_job *job = arg;
    evp_server *srv = job->srv;
    char err[512];
    char *errors = NULL;
    job->ok = 0;
    if (evp_registry_reload_changed(&srv->reg, &job->fresh, err, sizeof err) != 0) {
        evp_err("reload refused, old config kept: %s", err);
        goto done;
    }
    job->cfg = evp_config_load_files(srv->files, srv->config_text, srv->schema_dir,
                                     &job->fresh, &errors);
    if (job->cfg == NULL) {
        evp_err("reload refused, old config kept:\n%s", errors ? errors : "");
        free(errors);
        evp_registry_free(&job->fresh);
        goto done;
    }
    if (plan_build(srv, job->cfg, &job->p) != 0) {
        evp_err("reload refused, old config kept");
        plan_free(&job->p);
        evp_config_free(job->cfg);
        evp_registry_free(&job->fresh);
        goto done;
    }
    job->ok = 1;
done:
    ev_async_send(srv->loop, &srv->reload_done);
    return NULL;
}

static int reload_start(evp_server *srv)
{
    reload_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -1;
    job->srv = srv;
    job->users_gen = srv->users_gen;
    srv->reload_job = job;
    if (pthread_create(&job->thread, NULL, reload_thread, job) != 0) {
        evp_err("reload: cannot start a thread");
        srv->reload_job = NULL;
        free(job);
        return -1;
    }
    return 0;
}

/* Frees what a reload thread built and nobody will apply. */
static void drop_build(reload_job *job)
{
    plan_free(&job->p);
    evp_config_free(job->cfg);
    evp_registry_free(&job->fresh);
}

/* Back on the loop: apply what the thread built, then start a reload asked for meanwhile. */
static void on_reload_done(EV_P_ ev_async *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, reload_done));
    reload_job *job = srv->reload_job;
    if (job == NULL)
        return;
    pthread_join(job->thread, NULL);
    srv->reload_job = NULL;
    if (job->ok && job->users_gen != srv->users_gen && srv->reload_again) {
        /* A ctl user change came while the files were read: this build has the clients
         * file from before it and would undo it until the next reload. Drop it; the next
         * one, asked for by the change, reads the newest file. */
        drop_build(job);
    } else if (job->ok) {
        evp_config *cfg = job->cfg;
        if (cfg->loglevel >= 0)
            evp_log_level = cfg->loglevel;
        unsigned want;
        char err[128];
        if (evp_workers_wanted(cfg, &want, err, sizeof err) == 0 && want != srv->n_workers)
            evp_warn("workers: %u asked; %u run until a restart", want, srv->n_workers);
        /* Reopen the log files, so that a rotated file is let go after a SIGHUP. */
        if (cfg->error_log && evp_log_to_file(cfg->error_log) != 0)
            evp_warn("log.error: cannot open %s; logging on as before", cfg->error_log);
        if (evp_access_log_open(cfg->access_log) != 0)
            evp_warn("log.access: cannot open %s", cfg->access_log);
        evp_access_log_set_format(cfg->access_format);
        plan_commit(srv, cfg, &job->p);
        evp_registry_adopt(&srv->reg, &job->fresh);
        evp_config_free(srv->cfg);
        srv->cfg = cfg;
        watch_files(cfg);
        srv->reloads++;
        evp_server_metrics_apply(srv, cfg);
        evp_server_limits_apply(srv, cfg);
        evp_info("reload applied");
    } else {
        srv->reloads_refused++;
    }
    free(job);
    if (srv->reload_again) {
        srv->reload_again = 0;
        reload_start(srv);
    }
}

int evp_server_reload(evp_server *srv)
{
    if (srv->reload_job) {
        srv->reload_again = 1; /* the newest file wins: read it once this one is done */
        return 0;
    }
    return reload_start(srv);
}

static void on_watch(EV_P_ ev_timer *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, watch));
    if (n_watch && watched_changed()) {
        evp_info("clients file changed: reloading");
        evp_server_reload(srv);
    }
}

int evp_reload_apply_now(evp_server *srv, evp_config *cfg)
{
    plan p;
    if (plan_build(srv, cfg, &p) != 0) {
        plan_free(&p);
        return -1;
    }
    plan_commit(srv, cfg, &p);
    return 0;
}

void evp_reload_init(evp_server *srv, const evp_config *cfg)
{
    watch_files(cfg);
    ev_timer_init(&srv->watch, on_watch, 0.25, 0.25);
    ev_timer_start(srv->loop, &srv->watch);
    ev_async_init(&srv->reload_done, on_reload_done);
    ev_async_start(srv->loop, &srv->reload_done);
    evp_port_allocs_init(srv);
}

void evp_reload_stop(evp_server *srv)
{
    if (srv->reload_job) {
        /* Let the thread finish, then drop what it built. */
        reload_job *job = srv->reload_job;
        pthread_join(job->thread, NULL);
        if (job->ok)
            drop_build(job);
        free(job);
        srv->reload_job = NULL;
    }
    ev_async_stop(srv->loop, &srv->reload_done);
    ev_timer_stop(srv->loop, &srv->watch);
    evp_port_allocs_stop(srv);
    for (size_t i = 0; i < n_watch; i++)
        free(watch_list[i].path);
    free(watch_list);
    watch_list = NULL;
    n_watch = 0;
}
