/* Workers: N event loops, each with its own SO_REUSEPORT listeners, sessions, timers, DNS
 * resolver and cache, and buffer pool, so no lock sits on the data path. Worker 0 runs on the
 * main thread's loop (which also keeps the signals, reloads and the control socket), the
 * others on threads of their own. The main thread reaches a worker only through
 * evp_workers_run: it leaves a call, wakes the loop with an ev_async and waits until the
 * worker has run it between two callbacks. */
#include "server_int.h"

#include "admission.h"
#include "buf.h"
#include "dns_answerer.h"
#include "log.h"
#include "memtrim.h"
#include "udp_assoc.h"
#include "xudp_ports.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 64 /* the schema's maximum for "workers" */

int evp_workers_wanted(const evp_config *cfg, unsigned *n, char *err, size_t errlen)
{
    const char *env = getenv("EVPROXY_WORKERS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > MAX_WORKERS) {
            snprintf(err, errlen, "EVPROXY_WORKERS: \"%s\" is not a number from 1 to %d", env,
                     MAX_WORKERS);
            return -1;
        }
        *n = (unsigned)v;
        return 0;
    }
    if (cfg->workers > 0) {
        *n = (unsigned)cfg->workers;
        return 0;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *n = cores < 1 ? 1 : cores > MAX_WORKERS ? MAX_WORKERS : (unsigned)cores;
    return 0;
}

/* Another worker made room under a cap: resume accepting if this one had paused. */
static void on_wake(EV_P_ ev_async *a, int revents)
{
    evp_worker *w = (evp_worker *)((char *)a - offsetof(evp_worker, wake_w));
    evp_admission_changed(&w->rt);
}

/* The runtime's wake_workers hook: every other worker looks for room (ev_async coalesces). */
static void wake_all(evp_runtime *rt)
{
    evp_worker *self = (evp_worker *)((char *)rt - offsetof(evp_worker, rt));
    evp_server *srv = self->srv;
    for (unsigned i = 0; i < srv->n_workers; i++)
        if (&srv->workers[i] != self)
            ev_async_send(srv->workers[i].loop, &srv->workers[i].wake_w);
}

/* Runs the call the main thread left, then tells it so. */
static void on_call(EV_P_ ev_async *a, int revents)
{
    evp_worker *w = (evp_worker *)((char *)a - offsetof(evp_worker, call_w));
    pthread_mutex_lock(&w->lock);
    void (*fn)(evp_worker *, void *) = w->call;
    void *arg = w->call_arg;
    pthread_mutex_unlock(&w->lock);
    if (fn == NULL)
        return;
    fn(w, arg);
    pthread_mutex_lock(&w->lock);
    w->call = NULL;
    pthread_cond_signal(&w->answered);
    pthread_mutex_unlock(&w->lock);
}

void evp_workers_run(evp_server *srv, void (*fn)(evp_worker *w, void *arg), void *arg)
{
    for (unsigned i = 0; i < srv->n_workers; i++) {
        evp_worker *w = &srv->workers[i];
        if (!w->threaded) {
            fn(w, arg); /* worker 0: this is its thread */
            continue;
        }
        pthread_mutex_lock(&w->lock);
        w->call = fn;
        w->call_arg = arg;
        ev_async_send(w->loop, &w->call_w);
        while (w->call != NULL)
            pthread_cond_wait(&w->answered, &w->lock);
        pthread_mutex_unlock(&w->lock);
    }
}

static void *worker_main(void *arg)
{
    evp_worker *w = arg;
    evp_memtrim_start(w->loop, &w->rt); /* its pool is this thread's */
    ev_run(w->loop, 0);
    /* Once more: sessions closed by the stop free their memory on the next turn. */
    ev_run(w->loop, EVRUN_NOWAIT);
    evp_memtrim_stop(w->loop);
    evp_buf_pool_drain();
    return NULL;
}

/* -1 with nothing left to free when out of memory. */
static int worker_init(evp_server *srv, evp_worker *w, unsigned id)
{
    w->srv = srv;
    w->id = id;
    w->loop = id > 0 ? ev_loop_new(EVFLAG_AUTO) : srv->loop;
    evp_runtime *rt = &w->rt;
    rt->resolver = w->loop ? evp_resolver_new(w->loop) : NULL; /* its c-ares channel, cache */
    if (rt->resolver == NULL) {
        if (w->loop && w->loop != srv->loop)
            ev_loop_destroy(w->loop);
        return -1;
    }
    rt->loop = w->loop;
    rt->handshake_timeout = 4.0; /* V2Ray's policy defaults */
    rt->connect_timeout = 10.0;
    rt->idle_timeout = 300.0;
    rt->udp_timeout = 60.0;
    for (int i = 0; i < EVP_POLICY_LEVELS; i++)
        rt->relay_buffer[i] = EVP_RELAY_BUFFER_DEFAULT;
    rt->limits = evp_limits_default();
    rt->load = &srv->load;
    evp_resolver_share(rt->resolver, srv->dns_cache, &srv->load.dns_inflight);
    rt->resume_accepting = evp_listeners_resume;
    rt->open_udp_relay = evp_assoc_open; /* SOCKS5's, for any inbound that asks */
    rt->wake_workers = wake_all;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->answered, NULL);
    ev_async_init(&w->call_w, on_call);
    ev_async_init(&w->wake_w, on_wake);
    ev_async_start(w->loop, &w->call_w);
    ev_async_start(w->loop, &w->wake_w);
    return 0;
}

int evp_workers_start(evp_server *srv, unsigned n)
{
    srv->workers = calloc(n, sizeof *srv->workers);
    srv->dns_cache = evp_dns_cache_new(EVP_DNS_CACHE_MAX);
    if (srv->workers == NULL || srv->dns_cache == NULL)
        return -1;
    /* Signals stay with the main thread: the threads start with every one blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        evp_worker *w = &srv->workers[i];
        rc = worker_init(srv, w, i);
        if (rc != 0)
            break;
        srv->n_workers = i + 1; /* evp_workers_stop frees it from here on */
        w->threaded = i > 0 && pthread_create(&w->thread, NULL, worker_main, w) == 0;
        if (i > 0 && !w->threaded) {
            evp_err("cannot start worker %u", i);
            rc = -1; /* no thread runs its loop: evp_workers_stop stops it from here */
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        evp_memtrim_start(srv->loop, &srv->workers[0].rt);
        evp_dns_answerer_start(srv->loop, srv->workers[0].rt.resolver); /* logs a failure */
        evp_info("%u worker%s", n, n == 1 ? "" : "s");
    }
    return rc;
}

/* On each worker: everything it holds goes; a thread's loop then ends. */
static void stop_one(evp_worker *w, void *arg)
{
    while (w->listeners) {
        evp_listener *l = w->listeners;
        w->listeners = l->next;
        evp_listener_free(l);
    }
    evp_session_close_all(&w->rt);
    if (w->id == 0)
        evp_dns_answerer_stop(); /* its lookups are worker 0's resolver's */
    evp_resolver_free(w->rt.resolver);
    w->rt.resolver = NULL;
    free(w->rt.dgram);
    w->rt.dgram = NULL;
    ev_async_stop(w->loop, &w->wake_w);
    if (w->loop != w->srv->loop) {
        ev_async_stop(w->loop, &w->call_w);
        ev_break(w->loop, EVBREAK_ALL);
    }
}

void evp_workers_stop(evp_server *srv)
{
    if (srv->workers == NULL) {
        evp_dns_cache_free(srv->dns_cache);
        srv->dns_cache = NULL;
        return;
    }
    /* Every worker stops before any loop is destroyed: the wake-ups a closing session sends
     * other workers find their loop still there. */
    evp_workers_run(srv, stop_one, NULL);
    evp_xudp_ports_clear(); /* the sockets XUDP IDs kept: every session that held one ended */
    evp_memtrim_stop(srv->loop);
    for (unsigned i = 0; i < srv->n_workers; i++) {
        evp_worker *w = &srv->workers[i];
        if (w->threaded)
            pthread_join(w->thread, NULL);
        if (w->loop != srv->loop)
            ev_loop_destroy(w->loop);
        else
            ev_async_stop(w->loop, &w->call_w);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->answered);
    }
    free(srv->workers);
    srv->workers = NULL;
    srv->n_workers = 0;
    evp_dns_cache_free(srv->dns_cache); /* after the last resolver */
    srv->dns_cache = NULL;
}
