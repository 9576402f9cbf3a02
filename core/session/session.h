/* A session joins a client endpoint (inbound codec) and a server endpoint (outbound codec)
 * and relays between them with backpressure, half-close and timeouts. */
#ifndef EVP_SESSION_H
#define EVP_SESSION_H

#include "instance.h"
#include "global_limits.h"
#include "router.h"
#include "resolver.h"
#include "stats.h"

#include <ev.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct evp_session evp_session;

/* When a cap's warning was last logged and how many episodes went unlogged since. Workers
 * share one per cap (in evp_load), so that reaching a cap together logs it once. */
typedef struct evp_warned {
    atomic_llong at_ms; /* loop time of the last warning, in ms */
    atomic_uint unwarned;
} evp_warned;

/* A stretch of time during which a cap refuses work. Its start is logged, but at most once a
 * minute: a daemon at its cap flips in and out of it with every session. */
typedef struct evp_episode {
    int on;
    evp_warned own; /* used when no load is shared */
} evp_episode;

/* Something a session keeps alive beside it, and ends with it (a SOCKS UDP relay): the
 * session's teardown calls close once, whatever ended the session; its idle timer asks
 * last_active. Embedded in its owner, which close frees. */
typedef struct evp_companion {
    void (*close)(struct evp_companion *c);
    /* Loop time of the companion's last traffic (for limits.udpIdle). */
    double (*last_active)(const struct evp_companion *c);
} evp_companion;

struct evp_runtime;
/* Opens the UDP relay an inbound asked for with EVP_NET_UDP_RELAY beside the TCP connection
 * tcp_fd (taking its own references to in and router) and sets *bound to its address; NULL
 * when it cannot. */
typedef evp_companion *(*evp_udp_relay_open_fn)(struct evp_runtime *rt, int tcp_fd,
                                                evp_instance *in, evp_router *router,
                                                evp_addr *bound);

/* What the caps count across every worker: a server's workers share one (admission.c). */
typedef struct evp_load {
    atomic_size_t sessions, handshakes, assocs;
    atomic_uint paused; /* workers whose listeners stopped at a cap */
    evp_warned accept_warned, udp_warned, assocs_warned; /* the episodes' warnings */
    atomic_uint starved; /* listeners out of descriptors: said once for all */
    atomic_uint dns_inflight; /* lookups out, every worker's resolver together */
} evp_load;

/* policy.levels entries 1..15 a user's level picks once it is known (level 0 is the
 * runtime's own fields); conn_idle 0: not configured, V2Ray's defaults apply. */
#define EVP_POLICY_LEVELS 16
typedef struct evp_level_policy {
    double conn_idle, uplink_only, downlink_only;
} evp_level_policy;

typedef struct evp_runtime {
    struct ev_loop *loop;
    evp_resolver *resolver;
    evp_session *sessions; /* every live session, for counting and shutdown */
    size_t n_sessions;
    double handshake_timeout; /* seconds until the inbound names its target */
    double connect_timeout;
    double idle_timeout; /* seconds without traffic before a TCP session ends */
    double udp_timeout; /* the same for UDP sessions */
    double uplink_only; /* idle limit once the server side has ended (0: idle_timeout) */
    double downlink_only; /* idle limit once the client side has ended (0: idle_timeout) */
    evp_level_policy levels[EVP_POLICY_LEVELS]; /* [0] unused: level 0 is the fields above */
    /* policy.levels.N.bufferSize in bytes, levels 0..15: what a session of that level queues
     * per direction before it stops reading (evp_sess_buffer_cap) */
    size_t relay_buffer[EVP_POLICY_LEVELS];
    evp_limits limits;
    size_t n_handshakes; /* TCP sessions that have not named a target yet */
    size_t n_assocs;     /* open SOCKS UDP associations */
    evp_load *load; /* the totals of every worker the caps bound; NULL: this runtime's own */
    int reserved;   /* a place in load taken for the connection being accepted */
    evp_episode accept_paused; /* a cap is reached: the listeners stopped accepting */
    evp_episode udp_full;      /* datagrams needing a new UDP session are dropped */
    evp_episode assocs_full;   /* new UDP associations are refused */
    /* Set by the server: starts the listeners again once there is room. */
    void (*resume_accepting)(struct evp_runtime *rt);
    /* Set by the server: opens the relay of EVP_NET_UDP_RELAY (NULL: such requests fail). */
    evp_udp_relay_open_fn open_udp_relay;
    /* Set by the server: there is room and another worker is paused; wake them all. */
    void (*wake_workers)(struct evp_runtime *rt);
    uint8_t *dgram; /* evp_recv_dgram's buffer; whoever ends the runtime frees it */
    struct evp_mux_conn *muxes; /* multiplexed connections being served (mux_conn.c) */
} evp_runtime;

/* What a session of level queues per direction: its bufferSize; a level above 15 (not read)
 * gets V2Ray's default, as V2Ray gives a level it has no policy for. */
static inline size_t evp_runtime_buffer_cap(const evp_runtime *rt, unsigned level)
{
    return level < EVP_POLICY_LEVELS ? rt->relay_buffer[level] : EVP_RELAY_BUFFER_DEFAULT;
}

#define EVP_DGRAM_MAX 65536
/* Receives one datagram from fd into rt->dgram, made with the first (a static _Thread_local
 * array would be zeroed, so resident, in every thread, UDP or not) and sets *data. Returns
 * recvfrom's; with no memory for the buffer the datagram is dropped and 0 returned. */
static inline ssize_t evp_recv_dgram(evp_runtime *rt, int fd, uint8_t **data,
                                     struct sockaddr_storage *peer, socklen_t *plen)
{
    if (rt->dgram == NULL)
        rt->dgram = malloc(EVP_DGRAM_MAX);
    *data = rt->dgram;
    if (rt->dgram == NULL)
        return recv(fd, NULL, 0, 0) < 0 ? -1 : 0;
    *plen = sizeof *peer;
    return recvfrom(fd, rt->dgram, EVP_DGRAM_MAX, 0, (struct sockaddr *)peer, plen);
}

/* Something that owns UDP sessions keyed by peer address (a UDP listener). */
typedef struct evp_udp_owner {
    int fd; /* the listening socket replies are sent from */
    /* Called when a session it owns ends, so it can forget it. */
    void (*forget)(struct evp_udp_owner *o, evp_session *s);
    /* Optional: sends one reply datagram that came from source (SOCKS wraps it in a
     * header); NULL sends data as it is. Returns what sendto returns. */
    long (*send)(struct evp_udp_owner *o, const struct sockaddr *peer, socklen_t peer_len,
                 const evp_addr *source, const uint8_t *data, size_t len);
} evp_udp_owner;

/* For a forget: drops s from an owner's unordered table of *n sessions, if it is there. */
static inline void evp_sessions_drop(evp_session **v, size_t *n, const evp_session *s)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == s) {
            v[i] = v[--*n];
            return;
        }
}

/* Starts a session on an accepted TCP socket (takes fd). NULL on failure (fd closed). */
evp_session *evp_session_tcp(evp_runtime *rt, int fd, evp_instance *in, evp_router *router);
/* UDP sessions are owned by a table keyed by peer (and target): owner->forget is how the
 * table hears that one ended, whatever path ended it. So a constructor only creates the
 * session: nothing that could end it runs before the owner has filed it and fed it its first
 * datagram with evp_session_udp_input.
 *
 * Creates a UDP session for datagrams from peer arriving on owner's socket; NULL when out of
 * memory or at limits.maxSessions (the datagram is then dropped). */
evp_session *evp_session_udp(evp_runtime *rt, evp_udp_owner *owner,
                             const struct sockaddr *peer, socklen_t peer_len, evp_instance *in,
                             evp_router *router);
/* Creates a UDP session whose target is fixed (a SOCKS UDP destination): datagrams pass
 * through unchanged to the outbound router picks; in is kept for its tag and counters. */
evp_session *evp_session_udp_fixed(evp_runtime *rt, evp_udp_owner *owner,
                                   const struct sockaddr *peer, socklen_t peer_len,
                                   const evp_addr *target, evp_instance *in, evp_router *router);
/* The target a UDP session was started for. */
const evp_addr *evp_session_target(const evp_session *s);
/* True when s is owner's session for peer. */
int evp_session_udp_is(const evp_session *s, const struct sockaddr *peer, socklen_t peer_len);
/* Feeds one datagram from the UDP session's peer (the first one starts the handshake). The
 * session may end inside this call; its owner has then been told. */
void evp_session_udp_input(evp_session *s, const uint8_t *data, size_t len);
/* The owner goes away: end the UDP session without telling it. */
void evp_session_udp_orphan(evp_session *s);
/* A sub-stream's session and the multiplexed connection carrying it (mux_conn.c) share this.
 * The carrier makes it; the session owns it from evp_session_sub on and frees it as it ends,
 * first calling ended (with failed) if carrier is still set. A carrier that goes first sets
 * carrier to NULL. */
typedef struct evp_sub_link {
    void *carrier; /* the carrier's record of the sub-stream, or NULL */
    void (*ended)(void *carrier, int failed);
    char *user; /* the carrying session's user label (owned), or NULL */
    uint8_t failed; /* the sub-stream's target failed or was cut (End with Error) */
    uint8_t carries_protocol; /* it runs the inbound's protocol (an HTTP/2 request), which
                                 may itself carry a multiplexer */
    uint8_t cone;             /* XUDP: its records carry addresses (cone_record.h) */
    uint8_t xudp_id[8];       /* cone: its Global ID */
} evp_sub_link;

/* Where a multiplexed session's sub-streams come from: its inbound (tag, counters), router
 * and client address (for the access log). */
typedef struct evp_sub_origin {
    evp_instance *in;
    evp_router *router;
    struct sockaddr_storage from;
    socklen_t from_len; /* 0: unknown */
    uint8_t level; /* the carrier's user's policy level: its sub-streams' too, as in V2Ray */
} evp_sub_origin;

/* Starts a sub-stream's session on fd (one end of a socketpair whose other end the carrier
 * feeds; taken) toward target over network, taking link. Its client side carries the
 * sub-stream's plain bytes (UDP: records, see evp_io); with no target (EVP_ADDR_NONE) it
 * carries a connection of o's inbound protocol, which names the target itself. NULL on
 * failure (fd closed, link freed). */
evp_session *evp_session_sub(evp_runtime *rt, int fd, const evp_sub_origin *o,
                             const evp_addr *target, uint8_t network, evp_sub_link *link);
/* Client side of a multiplexer: the session carrying a connection's stream, on fd (taken; the
 * multiplexer writes into its other end) toward the multiplexer's target name (a domain;
 * NULL: none) through outbound out, whatever the routing says. NULL on failure (fd closed). */
evp_session *evp_session_mux_carrier(evp_runtime *rt, int fd, const evp_sub_origin *o,
                                     evp_instance *out, const char *target_name);
/* Calls fn with each running session's inbound instance. */
void evp_session_each_inbound(evp_runtime *rt, void (*fn)(evp_instance *, void *), void *arg);
/* Calls fn with the tags, user and bytes so far of each relaying session. */
void evp_session_each_traffic(evp_runtime *rt, evp_traffic_fn *fn, void *arg);
/* Ends every session at once (shutdown). */
void evp_session_close_all(evp_runtime *rt);

#endif
