/* Listeners and instances from a config; reload applies a new config only when it is whole:
 * instances are built and sockets bound aside, then swapped in. Listeners whose address is
 * unchanged keep their socket; running sessions keep the instances they started with. */
#include "server.h"

#include "admission.h"
#include "buf.h"
#include "control.h"
#include "log.h"
#include "stats.h"
#include "users.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_UDP_SESSIONS 1024

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

static void on_accept_resume(EV_P_ ev_timer *w, int revents)
{
    evp_listener *l = (evp_listener *)((char *)w - offsetof(evp_listener, pause));
    if (!l->srv->rt.accept_paused.on)
        ev_io_start(EV_A, &l->io);
}

/* A session cap is reached: stop every TCP listener; the backlog keeps new clients waiting. */
static void pause_accepting(evp_server *srv)
{
    evp_admission_pause(&srv->rt);
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (!l->udp)
            ev_io_stop(srv->rt.loop, &l->io);
}

static void resume_accepting(evp_runtime *rt)
{
    evp_server *srv = (evp_server *)((char *)rt - offsetof(evp_server, rt));
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (!l->udp && !ev_is_active(&l->pause))
            ev_io_start(rt->loop, &l->io);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    evp_listener *l = (evp_listener *)w;
    for (int i = 0; i < 64; i++) {
        if (!evp_admission_room(&l->srv->rt)) {
            pause_accepting(l->srv);
            return;
        }
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection keeps the socket readable, so
                 * pause accepting for a moment instead of spinning on the error. */
                if (!l->starved)
                    evp_warn("accept on %s:%u: %s; retrying every 0.2 s", l->listen, l->port,
                             strerror(errno));
                l->starved = 1;
                ev_io_stop(EV_A, &l->io);
                ev_timer_set(&l->pause, 0.2, 0.);
                ev_timer_start(EV_A, &l->pause);
            } else if ((errno == EAGAIN || errno == EWOULDBLOCK) && l->starved) {
                l->starved = 0; /* everyone who waited has been taken */
                evp_info("accept on %s:%u: caught up", l->listen, l->port);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                evp_warn("accept on %s:%u: %s", l->listen, l->port, strerror(errno));
            }
            return;
        }
        evp_session_tcp(&l->srv->rt, fd, l->in, l->router);
    }
}

static void udp_forget(evp_udp_owner *o, evp_session *s)
{
    evp_listener *l = (evp_listener *)((char *)o - offsetof(evp_listener, owner));
    for (size_t i = 0; i < l->n_peers; i++)
        if (l->peers[i] == s) {
            l->peers[i] = l->peers[--l->n_peers];
            return;
        }
}

static void on_datagram(EV_P_ ev_io *w, int revents)
{
    evp_listener *l = (evp_listener *)w;
    static uint8_t dgram[65536];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        ssize_t n = recvfrom(l->fd, dgram, sizeof dgram, 0, (struct sockaddr *)&peer, &plen);
        if (n < 0)
            return;
        if (n == 0)
            continue; /* empty datagrams carry nothing, as V2Ray skips them */
        evp_session *s = NULL;
        for (size_t k = 0; k < l->n_peers && s == NULL; k++)
            if (evp_session_udp_is(l->peers[k], (struct sockaddr *)&peer, plen))
                s = l->peers[k];
        if (s == NULL) {
            if (l->n_peers >= MAX_UDP_SESSIONS)
                continue;
            s = evp_session_udp(&l->srv->rt, &l->owner, (struct sockaddr *)&peer, plen, l->in,
                                l->router);
            if (s == NULL)
                continue;
            l->peers[l->n_peers++] = s;
        }
        evp_session_udp_input(s, dgram, (size_t)n);
    }
}

/* Binds listen:port; -1 with the reason in err. */
static int bind_socket(const char *host, uint16_t port, int udp, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot use listen address \"%s\": %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd != -1)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd == -1 || bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
        (!udp && listen(fd, 1024) == -1)) {
        snprintf(err, errlen, "cannot listen on %s %s:%u: %s", udp ? "udp" : "tcp", host, port,
                 strerror(errno));
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void listener_free(evp_server *srv, evp_listener *l)
{
    ev_io_stop(srv->rt.loop, &l->io);
    ev_timer_stop(srv->rt.loop, &l->pause);
    if (l->fd != -1)
        close(l->fd);
    evp_instance_unref(l->in);
    evp_router_unref(l->router);
    /* UDP sessions outlive their listener's socket only as long as their own timers. */
    for (size_t i = 0; i < l->n_peers; i++)
        evp_session_udp_orphan(l->peers[i]);
    free(l->peers);
    free(l->listen);
    free(l);
}

static evp_listener *listener_find(evp_server *srv, const char *host, uint16_t port, int udp)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (l->port == port && l->udp == udp && strcmp(l->listen, host) == 0)
            return l;
    return NULL;
}

/* What a new config needs, built aside before anything running is touched. */
typedef struct plan {
    evp_instance **ins, **outs;
    size_t n_ins, n_outs;
    evp_listener *fresh; /* listeners to add (bound, not started) */
    evp_router *router; /* the config's rules with these outbounds */
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n_ins; i++)
        evp_instance_unref(p->ins[i]);
    for (size_t i = 0; i < p->n_outs; i++)
        evp_instance_unref(p->outs[i]);
    free(p->ins);
    free(p->outs);
    evp_router_unref(p->router);
    p->router = NULL;
    while (p->fresh) {
        evp_listener *l = p->fresh;
        p->fresh = l->next;
        close(l->fd);
        free(l->listen);
        free(l);
    }
}

static int plan_build(evp_server *srv, evp_config *cfg, plan *p)
{
    char err[512];
    memset(p, 0, sizeof *p);
    p->ins = calloc(cfg->n_inbounds, sizeof *p->ins);
    p->outs = calloc(cfg->n_outbounds, sizeof *p->outs);
    if (p->ins == NULL || p->outs == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_outbounds; i++, p->n_outs++) {
        evp_outbound_conf *oc = &cfg->outbounds[i];
        p->outs[i] =
            evp_instance_new(oc->mod, 0, oc->tag, oc->settings_json, 0, err, sizeof err);
        if (p->outs[i] == NULL) {
            evp_err("outbounds[%zu].settings: %s", i, err);
            return -1;
        }
    }
    p->router = evp_router_ref(cfg->router);
    evp_router_set_outbounds(p->router, p->outs, p->n_outs);
    for (size_t i = 0; i < cfg->n_inbounds; i++, p->n_ins++) {
        evp_inbound_conf *ic = &cfg->inbounds[i];
        p->ins[i] = evp_inbound_instance_new(ic, err, sizeof err);
        if (p->ins[i] == NULL) {
            evp_err("inbounds[%zu].settings: %s", i, err);
            return -1;
        }
        for (unsigned port = ic->port; port <= ic->port_last; port++)
        for (int udp = 0; udp <= 1; udp++) {
            if (!(udp ? ic->want_udp : ic->want_tcp))
                continue;
            if (listener_find(srv, ic->listen, (uint16_t)port, udp))
                continue; /* kept: its socket stays open across the reload */
            int fd = bind_socket(ic->listen, (uint16_t)port, udp, err, sizeof err);
            if (fd == -1) {
                evp_err("inbounds[%zu]: %s", i, err);
                return -1;
            }
            evp_listener *l = calloc(1, sizeof *l);
            if (l == NULL || (l->listen = strdup(ic->listen)) == NULL) {
                free(l);
                close(fd);
                return -1;
            }
            l->fd = fd;
            l->udp = udp;
            l->port = (uint16_t)port;
            l->next = p->fresh;
            p->fresh = l;
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

static void plan_commit(evp_server *srv, evp_config *cfg, plan *p)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        l->keep = 0;
    /* Start new listeners. */
    while (p->fresh) {
        evp_listener *l = p->fresh;
        p->fresh = l->next;
        l->srv = srv;
        l->owner.fd = l->fd;
        l->owner.forget = udp_forget;
        if (l->udp)
            l->peers = calloc(MAX_UDP_SESSIONS, sizeof *l->peers);
        ev_io_init(&l->io, l->udp ? on_datagram : on_accept, l->fd, EV_READ);
        ev_timer_init(&l->pause, on_accept_resume, 0.2, 0.);
        if (l->udp || !srv->rt.accept_paused.on)
            ev_io_start(srv->rt.loop, &l->io);
        l->next = srv->listeners;
        srv->listeners = l;
    }
    for (size_t i = 0; i < cfg->n_inbounds; i++) {
        evp_inbound_conf *ic = &cfg->inbounds[i];
        for (unsigned port = ic->port; port <= ic->port_last; port++)
        for (int udp = 0; udp <= 1; udp++) {
            if (!(udp ? ic->want_udp : ic->want_tcp))
                continue;
            evp_listener *l = listener_find(srv, ic->listen, (uint16_t)port, udp);
            if (l && !l->keep) {
                listener_assign(l, p, cfg, i);
                evp_info("inbound [%s] %s on %s %s:%u", ic->tag, ic->protocol,
                         udp ? "udp" : "tcp", ic->listen, port);
            }
        }
    }
    /* Close listeners the new config no longer has (after the new ones are open). */
    for (evp_listener **pl = &srv->listeners; *pl;) {
        evp_listener *l = *pl;
        if (!l->keep) {
            *pl = l->next;
            evp_info("closing listener %s:%u", l->listen, l->port);
            listener_free(srv, l);
        } else {
            pl = &l->next;
        }
    }
    plan_free(p); /* drops the plan's references; listeners hold their own */
}

static void watch_files(evp_config *cfg)
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

/* Timeouts from the config's policy (level 0, as V2Ray applies to handshakes). */
static void apply_policy(evp_server *srv, const evp_config *cfg)
{
    srv->rt.handshake_timeout = cfg->handshake > 0 ? cfg->handshake : 4.0;
    srv->rt.idle_timeout = cfg->conn_idle > 0 ? cfg->conn_idle : 300.0;
    srv->rt.uplink_only = cfg->uplink_only;
    srv->rt.downlink_only = cfg->downlink_only;
    srv->rt.limits = cfg->limits;
    evp_resolver_configure(srv->rt.resolver, &cfg->limits, cfg->dns_servers);
    evp_admission_changed(&srv->rt); /* raised caps resume accepting at once */
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
    job->cfg = evp_config_load(srv->config_path, srv->config_text, srv->schema_dir,
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
    ev_async_send(srv->rt.loop, &srv->reload_done);
    return NULL;
}

static int reload_start(evp_server *srv)
{
    reload_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -1;
    job->srv = srv;
    srv->reload_job = job;
    if (pthread_create(&job->thread, NULL, reload_thread, job) != 0) {
        evp_err("reload: cannot start a thread");
        srv->reload_job = NULL;
        free(job);
        return -1;
    }
    return 0;
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
    if (job->ok) {
        evp_config *cfg = job->cfg;
        if (cfg->loglevel >= 0)
            evp_log_level = cfg->loglevel;
        apply_policy(srv, cfg);
        /* Reopen the log files, so that a rotated file is let go after a SIGHUP. */
        if (cfg->error_log && evp_log_to_file(cfg->error_log) != 0)
            evp_warn("log.error: cannot open %s; logging on as before", cfg->error_log);
        if (evp_access_log_open(cfg->access_log) != 0)
            evp_warn("log.access: cannot open %s", cfg->access_log);
        plan_commit(srv, cfg, &job->p);
        evp_registry_adopt(&srv->reg, &job->fresh);
        evp_config_free(srv->cfg);
        srv->cfg = cfg;
        watch_files(cfg);
        srv->reloads++;
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

static void on_stop_signal(EV_P_ ev_signal *w, int revents)
{
    evp_info("signal %d: shutting down", w->signum);
    ev_break(EV_A, EVBREAK_ALL);
}

static void on_hup(EV_P_ ev_signal *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, sighup));
    evp_info("SIGHUP: reloading %s", srv->config_path ? srv->config_path : "(embedded)");
    evp_server_reload(srv);
}

static void on_watch(EV_P_ ev_timer *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, watch));
    if (n_watch && watched_changed()) {
        evp_info("clients file changed: reloading");
        evp_server_reload(srv);
    }
}

int evp_server_start(evp_server *srv, struct ev_loop *loop, const char *config_path,
                     const char *config_text, const char *schema_dir, const char *plugin_dir)
{
    memset(srv, 0, sizeof *srv);
    srv->rt.loop = loop;
    srv->rt.handshake_timeout = 4.0; /* V2Ray's policy defaults */
    srv->rt.connect_timeout = 10.0;
    srv->rt.idle_timeout = 300.0;
    srv->rt.udp_timeout = 60.0;
    srv->rt.limits = evp_limits_default();
    srv->rt.resume_accepting = resume_accepting;
    srv->rt.resolver = evp_resolver_new(loop);
    if (srv->rt.resolver == NULL) {
        evp_err("cannot start the resolver");
        return -1;
    }
    srv->config_path = config_path ? strdup(config_path) : NULL;
    srv->config_text = config_text ? strdup(config_text) : NULL;
    srv->schema_dir = strdup(schema_dir);
    if (evp_registry_init(&srv->reg, plugin_dir) != 0)
        return -1;
    char *errors = NULL;
    evp_config *cfg =
        evp_config_load(srv->config_path, srv->config_text, srv->schema_dir, &srv->reg, &errors);
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
    /* The control path first: "another evproxy is listening" says why a second start fails. */
    if (cfg->control_path && evp_control_start(srv, cfg->control_path) != 0) {
        evp_config_free(cfg);
        return -1;
    }
    apply_policy(srv, cfg);
    plan p;
    if (plan_build(srv, cfg, &p) != 0) {
        plan_free(&p);
        evp_config_free(cfg);
        return -1;
    }
    plan_commit(srv, cfg, &p);
    srv->cfg = cfg;
    watch_files(cfg);
    ev_signal_init(&srv->sigint, on_stop_signal, SIGINT);
    ev_signal_init(&srv->sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&srv->sighup, on_hup, SIGHUP);
    ev_signal_start(loop, &srv->sigint);
    ev_signal_start(loop, &srv->sigterm);
    ev_signal_start(loop, &srv->sighup);
    ev_timer_init(&srv->watch, on_watch, 0.25, 0.25);
    ev_timer_start(loop, &srv->watch);
    ev_async_init(&srv->reload_done, on_reload_done);
    ev_async_start(loop, &srv->reload_done);
    return 0;
}

int evp_server_check(const char *config_path, const char *config_text, const char *schema_dir,
                     const char *plugin_dir)
{
    evp_registry reg;
    if (evp_registry_init(&reg, plugin_dir) != 0)
        return -1;
    char *errors = NULL;
    evp_config *cfg = evp_config_load(config_path, config_text, schema_dir, &reg, &errors);
    int rc = cfg ? 0 : -1;
    if (cfg == NULL)
        fprintf(stderr, "%s", errors ? errors : "config: out of memory\n");
    free(errors);
    for (size_t i = 0; cfg && i < cfg->n_inbounds + cfg->n_outbounds; i++) {
        int inbound = i < cfg->n_inbounds;
        size_t k = inbound ? i : i - cfg->n_inbounds;
        evp_module *mod = inbound ? cfg->inbounds[k].mod : cfg->outbounds[k].mod;
        const char *tag = inbound ? cfg->inbounds[k].tag : cfg->outbounds[k].tag;
        const char *settings =
            inbound ? cfg->inbounds[k].settings_json : cfg->outbounds[k].settings_json;
        char err[512];
        evp_instance *inst = inbound ? evp_inbound_instance_new(&cfg->inbounds[k], err, sizeof err)
                                     : evp_instance_new(mod, 0, tag, settings, 0, err, sizeof err);
        if (inst == NULL) {
            fprintf(stderr, "%s[%zu].settings: %s\n", inbound ? "inbounds" : "outbounds", k, err);
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
    struct ev_loop *loop = srv->rt.loop;
    if (srv->reload_job) {
        /* Let the thread finish, then drop what it built. */
        reload_job *job = srv->reload_job;
        pthread_join(job->thread, NULL);
        if (job->ok) {
            plan_free(&job->p);
            evp_config_free(job->cfg);
            evp_registry_free(&job->fresh);
        }
        free(job);
        srv->reload_job = NULL;
    }
    ev_async_stop(loop, &srv->reload_done);
    evp_control_stop(srv);
    while (srv->listeners) {
        evp_listener *l = srv->listeners;
        srv->listeners = l->next;
        listener_free(srv, l);
    }
    evp_session_close_all(&srv->rt);
    ev_signal_stop(loop, &srv->sigint);
    ev_signal_stop(loop, &srv->sigterm);
    ev_signal_stop(loop, &srv->sighup);
    ev_timer_stop(loop, &srv->watch);
    evp_resolver_free(srv->rt.resolver);
    evp_config_free(srv->cfg);
    evp_registry_free(&srv->reg);
    for (size_t i = 0; i < n_watch; i++)
        free(watch_list[i].path);
    free(watch_list);
    watch_list = NULL;
    n_watch = 0;
    free(srv->config_path);
    free(srv->config_text);
    free(srv->schema_dir);
    evp_stats_clear();
    evp_buf_pool_drain();
    evp_access_log_open(NULL);
}

evp_instance *evp_server_inbound(evp_server *srv, const char *tag)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (strcmp(l->in->tag, tag) == 0)
            return l->in;
    return NULL;
}

void evp_server_each_inbound(evp_server *srv, void (*fn)(evp_instance *, void *), void *arg)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (!l->udp || listener_find(srv, l->listen, l->port, 0) == NULL)
            fn(l->in, arg);
}

void evp_server_replace_inbound(evp_server *srv, evp_instance *old, evp_instance *replacement)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (l->in == old) {
            evp_instance_unref(l->in);
            l->in = evp_instance_ref(replacement);
        }
}

const evp_inbound_conf *evp_server_inbound_conf(evp_server *srv, const char *tag)
{
    for (size_t i = 0; srv->cfg && i < srv->cfg->n_inbounds; i++)
        if (strcmp(srv->cfg->inbounds[i].tag, tag) == 0)
            return &srv->cfg->inbounds[i];
    return NULL;
}

void evp_server_each_session_module(evp_server *srv, void (*fn)(evp_instance *, void *),
                                    void *arg)
{
    evp_session_each_inbound(&srv->rt, fn, arg);
}
