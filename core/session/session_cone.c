/* Full-cone UDP sessions (Xray's XUDP). A sub-stream whose New frame names a Global ID sends
 * each datagram where its Keep frame says and answers with each reply's source, from one
 * unconnected socket that is kept under the ID when the sub-stream ends (xudp_ports.c), so a
 * client that comes back on a new connection keeps its public port. On the client side a
 * SOCKS relay's session joining a Mux connection asks for the same, and hands each reply to
 * its client with the address it came from. Records carry addresses (cone_record.h) only
 * inside such a session; its codecs pass them through. */
#include "session_int.h"

#include "cone_record.h"
#include "ip_literal.h"
#include "log.h"
#include "xudp_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int evp_sess_cone_begin(evp_session *s, const uint8_t *id)
{
    s->cone = calloc(1, sizeof *s->cone);
    if (s->cone == NULL)
        return -1;
    atomic_init(&s->cone->stolen, 0);
    if (id && evp_xudp_id_set(id)) {
        memcpy(s->cone->id, id, sizeof s->cone->id);
        s->cone->has_id = 1;
    }
    return 0;
}

void evp_sess_cone_for_mux(evp_session *s)
{
    if (s->cone || s->network != EVP_NET_UDP || s->cl.kind != EP_PEER || s->udp_owner == NULL ||
        s->udp_owner->send == NULL)
        return; /* already one, or a client that could not tell one source from another */
    char who[64 + sizeof s->label];
    evp_addr from;
    uint8_t id[EVP_XUDP_ID_LEN];
    memset(&from, 0, sizeof from);
    evp_addr_from_sockaddr(&s->peer.sa, &from);
    int n = snprintf(who, sizeof who, "%u:", from.port);
    if (n > 0 && (size_t)n + from.len < sizeof who) {
        memcpy(who + n, from.bytes, from.len); /* raw bytes, then the label: unambiguous */
        snprintf(who + n + from.len, sizeof who - (size_t)n - from.len, "|%s", s->label);
    }
    evp_xudp_id_for(who, id);
    if (evp_sess_cone_begin(s, id) != 0)
        return; /* stays a plain UDP sub-stream */
    evp_cone_records_address(&s->cl.rbuf, &s->target);
    evp_cone_records_address(&s->plain, &s->target);
}

int evp_sess_cone_dial(evp_session *s, const struct sockaddr *sa, socklen_t len)
{
    evp_cone *c = s->cone;
    int fd = c->has_id ? evp_xudp_port_take(c->id, sa->sa_family) : -1;
    if (fd != -1) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        evp_addr me;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
            evp_addr_from_sockaddr((struct sockaddr *)&ss, &me) == 0)
            evp_info("%s: XUDP: goes on from kept port %u", s->label, me.port);
    } else {
        fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd == -1)
            return -1;
    }
    memcpy(&c->dst, sa, len);
    c->dst_len = len;
    s->sv.fd = fd;
    if (c->has_id) {
        evp_xudp_port_hold(c->id, fd, &c->stolen);
        c->held = 1;
    }
    return 0;
}

/* Where a record's address goes: an IP as it is, the target's own name to its address; 0, or
 * -1 for another name (the client resolves names before it sends them, as Xray's does). */
static int dest_of(evp_session *s, const evp_addr *peer, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    if (peer->type == EVP_ADDR_DOMAIN) {
        if (s->target.type != EVP_ADDR_DOMAIN || s->target.len != peer->len ||
            memcmp(s->target.bytes, peer->bytes, peer->len) != 0 || peer->port != s->target.port)
            return -1;
        memcpy(ss, &s->cone->dst, s->cone->dst_len);
        *len = s->cone->dst_len;
        return 0;
    }
    *len = evp_addr_to_sockaddr(peer, ss);
    return *len ? 0 : -1;
}

/* A datagram that cannot go where it says is lost; the first one is logged. */
static long lost(evp_session *s, size_t n, const char *why)
{
    if (!s->cone->warned)
        evp_info("%s: XUDP: a datagram is dropped: %s", s->label, why);
    s->cone->warned = 1;
    return (long)n;
}

long evp_sess_cone_send(evp_session *s, const uint8_t *rec, size_t n)
{
    evp_addr peer;
    size_t off;
    struct sockaddr_storage ss;
    socklen_t len;
    if (evp_cone_record_split(rec, n, &peer, &off) != 0)
        return lost(s, n, "a record without an address");
    if (dest_of(s, &peer, &ss, &len) != 0)
        return lost(s, n, "to a name other than the target's");
    if (ss.ss_family != s->cone->dst.ss_family)
        return lost(s, n, "to another address family than the target's");
    ssize_t r = sendto(s->sv.fd, rec + off, n - off, 0, (struct sockaddr *)&ss, len);
    return r < 0 ? -1 : (long)n;
}

int evp_sess_cone_recv(evp_session *s, evp_qbuf *q)
{
    uint8_t *dgram;
    struct sockaddr_storage from;
    socklen_t flen = 0;
    evp_addr peer;
    if (atomic_load(&s->cone->stolen)) {
        /* A sub-stream with its Global ID came on another connection and took the socket:
         * this one (its client gone quiet) ends, leaving the replies to the new one. */
        errno = ECONNABORTED;
        return -1;
    }
    ssize_t n = evp_recv_dgram(s->rt, s->sv.fd, &dgram, &from, &flen);
    if (n >= 0 && dgram == NULL)
        return 2; /* no memory for the buffer: dropped */
    if (n == -1)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNREFUSED)
                   ? 2
                   : -1;
    if (evp_addr_from_sockaddr((struct sockaddr *)&from, &peer) != 0)
        return 2;
    if (evp_cone_record_put(q, &peer, dgram, (size_t)n) != 0)
        return 2; /* too long to frame with its address: lost */
    return 1;
}

long evp_sess_cone_send_peer(evp_session *s, const uint8_t *rec, size_t n)
{
    evp_addr peer;
    size_t off;
    if (evp_cone_record_split(rec, n, &peer, &off) != 0)
        return (long)n;
    long r = s->udp_owner->send(s->udp_owner, &s->peer.sa, s->peer_len, &peer, rec + off,
                                n - off);
    return r < 0 ? -1 : (long)n;
}

void evp_sess_cone_end(evp_session *s)
{
    evp_cone *c = s->cone;
    s->cone = NULL;
    if (c->held && s->sv.kind == EP_DGRAM && s->sv.fd != -1) {
        ev_io_stop(s->rt->loop, &s->sv.rio);
        ev_io_stop(s->rt->loop, &s->sv.wio);
        evp_xudp_port_release(c->id, s->sv.fd, &c->stolen); /* kept, or closed if taken */
        s->sv.fd = -1;
    }
    free(c);
}
