/* SOCKS5 UDP relay: datagrams from the client carry RSV FRAG ATYP DST DATA; replies go back
 * with the source in the same header. Only the control connection's peer host may use it. */
#include "udp_assoc.h"

#include "admission.h"
#include "builtin/socks_udp.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DESTINATIONS 256

typedef struct evp_assoc {
    ev_io io; /* first member */
    evp_companion companion; /* what the control connection's session holds */
    evp_udp_owner owner;
    evp_runtime *rt;
    evp_instance *in;
    evp_router *router;
    struct sockaddr_storage client; /* the control connection's peer (host only is checked) */
    evp_session *sessions[MAX_DESTINATIONS];
    size_t n;
    double last_active; /* a datagram crossed, either way (limits.udpIdle) */
} evp_assoc;

static evp_assoc *assoc_of(const evp_companion *c)
{
    return (evp_assoc *)((char *)c - offsetof(evp_assoc, companion));
}

/* The companion's close: closes the socket and ends its sessions. */
static void assoc_close(evp_companion *c)
{
    evp_assoc *a = assoc_of(c);
    ev_io_stop(a->rt->loop, &a->io);
    while (a->n > 0)
        evp_session_udp_orphan(a->sessions[--a->n]);
    close(a->owner.fd);
    evp_instance_unref(a->in);
    evp_router_unref(a->router);
    evp_admission_assoc_count(a->rt, -1);
    evp_admission_changed(a->rt);
    free(a);
}

static double assoc_last_active(const evp_companion *c)
{
    return assoc_of(c)->last_active;
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return 0;
    if (b->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static int same_addr(const evp_addr *a, const evp_addr *b)
{
    return a->type == b->type && a->port == b->port && a->len == b->len &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

static void forget(evp_udp_owner *o, evp_session *s)
{
    evp_assoc *a = (evp_assoc *)((char *)o - offsetof(evp_assoc, owner));
    evp_sessions_drop(a->sessions, &a->n, s);
}

static long send_wrapped(evp_udp_owner *o, const struct sockaddr *peer, socklen_t peer_len,
                         const evp_addr *source, const uint8_t *data, size_t len)
{
    uint8_t pkt[EVP_SOCKS_UDP_HDR_MAX + 65536];
    size_t h = evp_socks_udp_header(source, pkt, sizeof pkt);
    if (h == 0 || len > sizeof pkt - h)
        return (long)len; /* cannot be framed: dropped */
    memcpy(pkt + h, data, len);
    evp_assoc *a = (evp_assoc *)((char *)o - offsetof(evp_assoc, owner));
    a->last_active = ev_now(a->rt->loop);
    return (long)sendto(o->fd, pkt, h + len, 0, peer, peer_len);
}

static void on_datagram(EV_P_ ev_io *w, int revents)
{
    evp_assoc *a = (evp_assoc *)w;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = 0;
        uint8_t *pkt;
        ssize_t n = evp_recv_dgram(a->rt, a->owner.fd, &pkt, &peer, &plen);
        if (n < 0)
            return;
        if (n == 0)
            continue;
        if (!same_host(&a->client, (struct sockaddr *)&peer))
            continue; /* only the SOCKS client's host may relay through us */
        evp_addr dst;
        size_t off;
        if (evp_socks_udp_parse(pkt, (size_t)n, &dst, &off) != EVP_SOCKS_UDP_OK ||
            off == (size_t)n)
            continue;
        a->last_active = ev_now(EV_A);
        evp_session *s = NULL;
        for (size_t k = 0; k < a->n && s == NULL; k++)
            if (evp_session_udp_is(a->sessions[k], (struct sockaddr *)&peer, plen) &&
                same_addr(evp_session_target(a->sessions[k]), &dst))
                s = a->sessions[k];
        if (s == NULL) {
            if (a->n >= MAX_DESTINATIONS)
                continue;
            s = evp_session_udp_fixed(a->rt, &a->owner, (struct sockaddr *)&peer, plen, &dst,
                                      a->in, a->router);
            if (s == NULL)
                continue;
            a->sessions[a->n++] = s;
        }
        evp_session_udp_input(s, pkt + off, (size_t)n - off);
    }
}

evp_companion *evp_assoc_open(evp_runtime *rt, int tcp_fd, evp_instance *in, evp_router *router,
                              evp_addr *bound)
{
    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    if (!evp_admission_assoc(rt))
        return NULL;
    evp_assoc *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    socklen_t clen = sizeof a->client;
    if (getsockname(tcp_fd, (struct sockaddr *)&local, &llen) == -1 ||
        getpeername(tcp_fd, (struct sockaddr *)&a->client, &clen) == -1) {
        free(a);
        return NULL;
    }
    if (local.ss_family == AF_INET)
        ((struct sockaddr_in *)&local)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&local)->sin6_port = 0;
    int fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&local, llen) == -1 ||
        getsockname(fd, (struct sockaddr *)&local, &llen) == -1) {
        evp_warn("SOCKS UDP relay: %s", strerror(errno));
        if (fd != -1)
            close(fd);
        free(a);
        return NULL;
    }
    memset(bound, 0, sizeof *bound);
    if (local.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&local;
        bound->type = EVP_ADDR_IPV4;
        bound->len = 4;
        memcpy(bound->bytes, &sin->sin_addr, 4);
        bound->port = ntohs(sin->sin_port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&local;
        bound->type = EVP_ADDR_IPV6;
        bound->len = 16;
        memcpy(bound->bytes, &sin6->sin6_addr, 16);
        bound->port = ntohs(sin6->sin6_port);
    }
    a->rt = rt;
    a->in = evp_instance_ref(in);
    a->router = evp_router_ref(router);
    a->owner.fd = fd;
    a->owner.forget = forget;
    a->owner.send = send_wrapped;
    a->last_active = ev_now(rt->loop);
    a->companion.close = assoc_close;
    a->companion.last_active = assoc_last_active;
    ev_io_init(&a->io, on_datagram, fd, EV_READ);
    ev_io_start(rt->loop, &a->io);
    evp_admission_assoc_count(rt, +1);
    return &a->companion;
}
