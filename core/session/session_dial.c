/* Dialling the outbound a session's target routes to: routing, the outbound's session, name
 * resolution, the connect and its failure (the inbound told, the client answered). Where a
 * target names a multiplexer, or the outbound multiplexes, session_sub.c takes over. */
#include "session_int.h"

#include "builtin/builtin.h"
#include "ip_literal.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void evp_sess_connect_failed(evp_session *s, const char *why)
{
    const evp_inbound_ops *in = s->inops;
    if (s->sub_link)
        s->sub_link->failed = 1; /* its carrier ends the sub-stream with Error */
    evp_warn("%s: %s", s->label, why);
    if (in->connected && !s->answered) { /* answered: V2Ray's client sees a close too */
        evp_io io;
        memset(&io, 0, sizeof io);
        io.out = &s->plain.b;
        io.back = &s->cl.wbuf.b;
        in->connected(s->ins, 0, &io);
    }
    if (s->sv.fd != -1) {
        ev_io_stop(s->rt->loop, &s->sv.rio);
        ev_io_stop(s->rt->loop, &s->sv.wio);
        close(s->sv.fd);
        s->sv.fd = -1;
    }
    s->state = S_CLOSING;
    s->cl.shut_pending = 1;
    evp_sess_flush_all(s);
}

void evp_sess_on_connected(evp_session *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->sv.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    if (err) {
        char why[160];
        snprintf(why, sizeof why, "connect failed: %s", strerror(err));
        evp_sess_connect_failed(s, why);
        return;
    }
    evp_sess_start_relay(s);
}

/* The outbound's sendThrough: binds fd to it before the connect to an address of family.
 * 0, or -1 with why (a family it cannot reach is refused, as V2Ray's dialer refuses it). */
static int bind_send_through(const evp_session *s, int fd, int family, int stream, char *why,
                             size_t n)
{
    evp_addr src = s->out->send_through;
    if (src.type == EVP_ADDR_NONE)
        return 0;
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(src.type == EVP_ADDR_IPV4 ? AF_INET : AF_INET6, src.bytes, ip, sizeof ip);
    struct sockaddr_storage ss;
    src.port = 0;
    socklen_t len = evp_addr_to_sockaddr(&src, &ss);
    if (ss.ss_family != family) {
        snprintf(why, n, "sendThrough %s cannot reach an %s address", ip,
                 family == AF_INET6 ? "IPv6" : "IPv4");
        return -1;
    }
    /* The port comes at connect: a bind must not hold one per connection for nothing. */
    int one = 1;
    if (stream)
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        snprintf(why, n, "sendThrough %s: %s", ip, strerror(errno));
        return -1;
    }
    return 0;
}

static void dial_sockaddr(evp_session *s, const struct sockaddr *sa, socklen_t len)
{
    int dgram = s->network == EVP_NET_UDP && (evp_outops(s->out)->flags & EVP_OUT_DATAGRAM);
    if (dgram && s->cone) { /* full cone: one unconnected socket sends everywhere */
        if (evp_sess_cone_dial(s, sa, len) != 0) {
            evp_sess_connect_failed(s, "cannot create socket");
            return;
        }
        s->sv.kind = EP_DGRAM;
        evp_tstack_free(s->sv.stack);
        s->sv.stack = NULL;
        ev_io_set(&s->sv.rio, s->sv.fd, EV_READ);
        ev_io_set(&s->sv.wio, s->sv.fd, EV_WRITE);
        evp_sess_start_relay(s);
        return;
    }
    int fd = socket(sa->sa_family,
                    (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    char why[160];
    if (fd == -1) {
        evp_sess_connect_failed(s, "cannot create socket");
        return;
    }
    if (bind_send_through(s, fd, sa->sa_family, !dgram, why, sizeof why) != 0) {
        close(fd);
        evp_sess_connect_failed(s, why);
        return;
    }
    if (!dgram) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->sv.fd = fd;
    s->sv.kind = dgram ? EP_DGRAM : EP_STREAM;
    if (dgram) { /* transport layers carry streams: datagrams go as they are */
        evp_tstack_free(s->sv.stack);
        s->sv.stack = NULL;
    }
    ev_io_set(&s->sv.rio, fd, EV_READ);
    ev_io_set(&s->sv.wio, fd, EV_WRITE);
    if (connect(fd, sa, len) == 0) {
        evp_sess_start_relay(s);
        return;
    }
    if (errno != EINPROGRESS) {
        snprintf(why, sizeof why, "connect failed: %s", strerror(errno));
        evp_sess_connect_failed(s, why);
        return;
    }
    s->state = S_CONNECTING;
    evp_sess_touch(s);
    evp_sess_update_watchers(s);
}

/* The target's own name resolved to sa: refuses (1) when an ip rule sends that address
 * to a blackhole. Routing saw only the name; without this a name pointing into a blocked
 * range (the server's own network, say) would reach it. A name the outbound dials for
 * itself (a proxy server's, a redirect) is the config's, not the client's: not checked. */
static int refused_after_resolve(evp_session *s, const evp_addr *dial, const struct sockaddr *sa)
{
    evp_addr addr;
    size_t rule, k;
    if (s->target.type != EVP_ADDR_DOMAIN || s->target.len != dial->len ||
        memcmp(s->target.bytes, dial->bytes, dial->len) != 0 ||
        evp_addr_from_sockaddr(sa, &addr) != 0 ||
        !evp_router_ip_blocked(s->router, s->in->tag, &addr, s->network, &rule, &k))
        return 0;
    char name[4 * 255 + 1], ip[INET6_ADDRSTRLEN], why[1200];
    evp_log_escape(s->target.bytes, s->target.len, name, sizeof name);
    inet_ntop(addr.type == EVP_ADDR_IPV4 ? AF_INET : AF_INET6, addr.bytes, ip, sizeof ip);
    const evp_instance *out = evp_router_outbound(s->router, k);
    snprintf(why, sizeof why, "refused: %s resolved to %s, which routing.rules[%zu] sends to "
             "blackhole [%s]", name, ip, rule, out ? out->tag : "?");
    evp_sess_connect_failed(s, why);
    return 1;
}

static void on_resolved(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    evp_session *s = arg;
    evp_addr *dial = s->dial;
    s->resolving = NULL;
    s->dial = NULL;
    if (sa == NULL) {
        char name[4 * 255 + 1], why[1200];
        evp_log_escape(dial->bytes, dial->len, name, sizeof name);
        snprintf(why, sizeof why, "cannot resolve %s: %s", name, err ? err : "no address");
        free(dial);
        evp_sess_connect_failed(s, why);
        return;
    }
    int refused = refused_after_resolve(s, dial, sa);
    free(dial);
    if (!refused)
        dial_sockaddr(s, sa, len);
}

/* The addresses of the family the outbound wants (freedom's UseIPv4/UseIPv6): the first is
 * dialled (V2Ray picks one at random); none, and the name is looked up as is, as V2Ray then
 * dials the domain itself. */
static void on_family_resolved(void *arg, const evp_dns_sockaddr *addrs, unsigned n,
                               const char *err)
{
    evp_session *s = arg;
    if (n > 0) {
        on_resolved(s, &addrs[0].sa, evp_dns_sockaddr_len(&addrs[0]), NULL);
        return;
    }
    evp_debug("%s: no address of the family asked (%s): resolving as is", s->label, err);
    s->resolving = evp_resolve(s->rt->resolver, (const char *)s->dial->bytes, s->dial->port,
                               on_resolved, s);
    if (s->resolving == NULL)
        on_resolved(s, NULL, 0, "cannot start name resolution");
}

/* Looks up the name s dials in s->dial, of the family its outbound asks. */
static evp_resolve_req *resolve_dial(evp_session *s)
{
    int family = evp_builtin_dial_family(s->out->mod->desc, s->out->inst, &s->out->send_through);
    const char *name = (const char *)s->dial->bytes;
    if (family == AF_UNSPEC)
        return evp_resolve(s->rt->resolver, name, s->dial->port, on_resolved, s);
    return evp_resolve_family(s->rt->resolver, name, s->dial->port, family, on_family_resolved, s);
}

/* The session's outbound is chosen: ask it where to go and go there. */
static void open_chosen(evp_session *s)
{
    char err[256] = "";
    evp_addr dial;
    memset(&dial, 0, sizeof dial);
    if (s->cone && !(evp_outops(s->out)->flags & EVP_OUT_DATAGRAM)) {
        /* Its records carry addresses that only a socket of ours or a Mux hop can honour. */
        evp_sess_connect_failed(s, "XUDP: full-cone UDP goes out only through a datagram "
                                   "outbound (freedom) or one with mux");
        return;
    }
    s->outs = evp_outops(s->out)->session_new(s->out->inst, &s->target, (uint8_t)s->network,
                                              &dial, err, sizeof err);
    if (s->outs == NULL) {
        evp_sess_connect_failed(s, err[0] ? err : "outbound refused the session");
        return;
    }
    s->state = S_RESOLVING;
    evp_sess_update_watchers(s);
    if (dial.type == EVP_ADDR_NONE && (evp_outops(s->out)->flags & EVP_OUT_LOCAL)) {
        s->local_out = 1; /* a service that answers itself (the api): relay with no socket */
        evp_sess_start_relay(s);
        return;
    }
    if (dial.type == EVP_ADDR_NONE) {
        /* Nowhere to dial (blackhole): let the outbound answer, then close. */
        evp_io io;
        s->state = S_RELAY;
        if (s->inops->connected && !s->answered) {
            /* V2Ray answers success first, then the blackhole's response. */
            memset(&io, 0, sizeof io);
            io.out = &s->plain.b;
            io.back = &s->cl.wbuf.b;
            s->inops->connected(s->ins, 1, &io);
        }
        evp_qbuf_take(&s->plain, evp_qbuf_len(&s->plain)); /* and what sniffing decoded */
        evp_sess_run_codec(evp_outops(s->out)->decode, s->outs, NULL, 0, 1, &s->plain.b,
                           &s->sv.wbuf.b, &io);
        if (evp_qbuf_len(&s->plain))
            evp_sess_run_codec(s->inops->encode, s->ins, evp_qbuf_head(&s->plain),
                               evp_qbuf_len(&s->plain), 0, &s->cl.wbuf.b, &s->sv.wbuf.b, &io);
        evp_qbuf_take(&s->plain, evp_qbuf_len(&s->plain));
        evp_info("%s blocked [%s -> %s]", s->label, s->in->tag, s->out->tag);
        s->state = S_CLOSING;
        s->cl.shut_pending = 1;
        evp_sess_flush_all(s);
        return;
    }
    if (s->out->transports && evp_sess_stack_client(s, &dial) != 0) {
        evp_sess_connect_failed(s, "out of memory");
        return;
    }
    if (s->out->proxied) {
        evp_sess_dial_chained(s, &dial);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t ss_len = evp_addr_to_sockaddr(&dial, &ss);
    if (ss_len) {
        dial_sockaddr(s, (struct sockaddr *)&ss, ss_len);
        return;
    }
    /* A name: kept on the heap only while it resolves (most sessions never need it). */
    dial.bytes[dial.len] = '\0';
    s->dial = malloc(sizeof dial);
    if (s->dial != NULL)
        *s->dial = dial;
    s->resolving = s->dial ? resolve_dial(s) : NULL;
    if (s->resolving == NULL) {
        free(s->dial);
        s->dial = NULL;
        evp_sess_connect_failed(s, "cannot start name resolution");
    }
}


/* s->out is chosen: join its Mux connections when it multiplexes, else dial it. */
static void open_or_join(evp_session *s)
{
    if (s->out->mux_carrier && s->network != EVP_NET_UDP_RELAY) {
        evp_sess_join_mux(s);
        return;
    }
    open_chosen(s);
}

static void use_outbound(evp_session *s, size_t k)
{
    s->out = evp_instance_ref(evp_router_outbound(s->router, k));
    open_or_join(s);
}

/* What routing sees of s; source is filled with the client's address when known. */
static void route_query(evp_session *s, evp_route_query *q, evp_addr *source)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const struct sockaddr *sa = NULL;
    if (s->peer_len)
        sa = &s->peer.sa;
    else if (s->cl.fd != -1 && getpeername(s->cl.fd, (struct sockaddr *)&ss, &len) == 0)
        sa = (const struct sockaddr *)&ss;
    *q = (evp_route_query){.inbound_tag = s->in->tag, .target = &s->target,
                           .network = s->network};
    if (sa && evp_addr_from_sockaddr(sa, source) == 0)
        q->source = source;
    q->user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    q->protocol = s->sniffed_protocol;
}

/* domainStrategy asked for the target name's address: route with it (or without, when the
 * name did not resolve, as V2Ray's rules then see no IP). */
static void on_route_resolved(void *arg, const struct sockaddr *sa, socklen_t len,
                              const char *err)
{
    evp_session *s = arg;
    evp_route_query q;
    evp_addr source, ip;
    s->resolving = NULL;
    if (s->state != S_RESOLVING)
        return; /* it timed out meanwhile: nothing more to open */
    route_query(s, &q, &source);
    q.resolved = 1;
    if (sa && evp_addr_from_sockaddr(sa, &ip) == 0)
        q.target_ip = &ip;
    long k = evp_router_route(s->router, &q);
    use_outbound(s, k < 0 ? 0 : (size_t)k);
}

/* Routes s by its target now, as V2Ray's dispatcher does; resolves the target's name first
 * when domainStrategy needs its address. */
static void route(evp_session *s)
{
    evp_route_query q;
    evp_addr source;
    char name[256];
    route_query(s, &q, &source);
    long k = evp_router_route(s->router, &q);
    if (k == EVP_ROUTE_NEEDS_IP) {
        memcpy(name, s->target.bytes, s->target.len);
        name[s->target.len] = '\0';
        s->state = S_RESOLVING;
        evp_sess_update_watchers(s);
        s->resolving = evp_resolve(s->rt->resolver, name, s->target.port, on_route_resolved, s);
        if (s->resolving)
            return;
        q.resolved = 1;
        k = evp_router_route(s->router, &q);
    }
    use_outbound(s, k < 0 ? 0 : (size_t)k);
}

/* The inbound named its target: route it, then open the outbound. */
void evp_sess_open_outbound(evp_session *s)
{
    evp_sess_addr_label(&s->target, s->network, s->label, sizeof s->label);
    if (s->layer_mux) {
        const evp_tlayer *top = evp_sess_layer_mux(s->in);
        evp_sess_start_demux(s, top->mod, top->inst);
        return;
    }
    /* A Mux sub-stream cannot carry another; an HTTP/2 request's protocol may. A client
     * connection's carrier goes where it is sent. */
    evp_module *mux = s->forced_out || (s->sub_link && !s->sub_link->carries_protocol)
                          ? NULL
                          : evp_router_demux(s->router, &s->target);
    if (mux && s->network == EVP_NET_TCP) {
        evp_sess_start_demux(s, mux, NULL);
        return;
    }
    if (evp_sess_sniff_wanted(s)) {
        evp_sess_sniff_start(s); /* which routes once it is over */
        return;
    }
    evp_sess_route(s);
}

void evp_sess_route(evp_session *s)
{
    if (s->forced_out) {
        /* A Mux connection's carrier is the multiplexed stream: it dials. A hop goes as
         * any session through its outbound does. */
        s->out = evp_instance_ref(s->forced_out);
        if (s->chained)
            open_or_join(s);
        else
            open_chosen(s);
        return;
    }
    route(s);
}
