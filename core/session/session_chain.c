/* proxySettings: an outbound whose server is reached through another outbound, as V2Ray's
 * handler dials through a pipe into the handler the tag names. The session's server side is
 * one end of a socketpair; on the other end a hop (a session of the host's codec) carries the
 * stream to the server's address through that outbound, whatever the routing says; the hop
 * may be proxied in turn, or multiplexed. The hop is part of its session, not a connection:
 * no access line and no counts of its own (the session above has them). */
#include "session_int.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The hop for above: fd (taken) is its client side, target the server above dials. */
static evp_session *hop_new(evp_session *above, int fd, evp_instance *via,
                            const evp_addr *target)
{
    evp_session *s = evp_sess_new_host_codec(above->rt, fd, above->in, above->router,
                                             &evp_sess_fixed_ops);
    if (s == NULL) {
        close(fd);
        return NULL;
    }
    s->carrier = 1; /* counted and logged as the session above */
    s->chained = 1;
    s->forced_out = evp_instance_ref(via);
    s->network = EVP_NET_TCP;
    s->target = *target;
    s->level = above->level; /* its user's timeouts and buffers, not level 0's */
    if (above->peer_len) {
        memcpy(&s->peer, &above->peer, above->peer_len);
        s->peer_len = above->peer_len;
    }
    evp_sess_handshake(s);
    return s;
}

void evp_sess_dial_chained(evp_session *s, const evp_addr *dial)
{
    char why[256];
    evp_instance *via = evp_router_outbound(s->router, s->out->proxy_via);
    if (s->network == EVP_NET_UDP && (evp_outops(s->out)->flags & EVP_OUT_DATAGRAM)) {
        /* Its datagrams go as they are, and a hop carries a stream. */
        snprintf(why, sizeof why, "proxySettings: UDP from [%s] cannot go through [%s] (a "
                 "datagram outbound; only streams are chained)", s->out->tag,
                 via ? via->tag : "?");
        evp_sess_connect_failed(s, why);
        return;
    }
    int pair[2];
    if (via == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                                  pair) == -1) {
        snprintf(why, sizeof why, "proxySettings: cannot open a stream through [%s]: %s",
                 via ? via->tag : "?", via ? strerror(errno) : "no such outbound");
        evp_sess_connect_failed(s, why);
        return;
    }
    evp_debug("%s: through [%s]", s->label, via->tag);
    s->sv.fd = pair[0];
    s->sv.kind = EP_STREAM;
    ev_io_set(&s->sv.rio, pair[0], EV_READ);
    ev_io_set(&s->sv.wio, pair[0], EV_WRITE);
    if (hop_new(s, pair[1], via, dial) == NULL) {
        evp_sess_connect_failed(s, "proxySettings: out of memory");
        return;
    }
    evp_sess_start_relay(s);
}
