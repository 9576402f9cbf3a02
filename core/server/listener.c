/* Listeners: binding an inbound's address, accepting TCP connections into sessions, handing
 * datagrams to UDP sessions by peer, and pausing while a cap is reached or descriptors run
 * out. Also the lookups of inbound instances by listener. */
#include "server_int.h"

#include "admission.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_UDP_SESSIONS 1024

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

void evp_listeners_resume(evp_runtime *rt)
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
    static _Thread_local uint8_t dgram[65536]; /* one per worker */
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

evp_listener *evp_listener_bind(const char *host, uint16_t port, int udp, char *err,
                                size_t errlen)
{
    int fd = bind_socket(host, port, udp, err, errlen);
    if (fd == -1)
        return NULL;
    evp_listener *l = calloc(1, sizeof *l);
    if (l == NULL || (l->listen = strdup(host)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(l);
        close(fd);
        return NULL;
    }
    l->fd = fd;
    l->udp = udp;
    l->port = port;
    return l;
}

void evp_listener_start(evp_server *srv, evp_listener *l)
{
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

void evp_listener_discard(evp_listener *l)
{
    close(l->fd);
    free(l->listen);
    free(l);
}

void evp_listener_free(evp_server *srv, evp_listener *l)
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

evp_listener *evp_listener_find(evp_server *srv, const char *host, uint16_t port, int udp)
{
    for (evp_listener *l = srv->listeners; l; l = l->next)
        if (l->port == port && l->udp == udp && strcmp(l->listen, host) == 0)
            return l;
    return NULL;
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
        if (!l->udp || evp_listener_find(srv, l->listen, l->port, 0) == NULL)
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
