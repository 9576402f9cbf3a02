/* Internals shared by the session files: session.c (lifecycle, handshake, callbacks),
 * session_dial.c (routing and dialling the outbound), session_relay.c (the relay's start, the
 * two directions, the writing), session_udp.c (UDP sessions and the start of a UDP relay), session_report.c (labels, access
 * log, counters), session_idle.c (quiet sessions), session_transport.c (endpoints with
 * transport layers), session_sub.c (multiplexed sessions and their sub-streams) and
 * session_fixed.c (the codec of a session whose target is fixed), session_sniff.c (the
 * first payload read for a domain before routing) and session_chain.c (proxySettings). Nothing outside
 * core/session/session*.c
 * includes it. */
#ifndef EVP_SESSION_INT_H
#define EVP_SESSION_INT_H

#include "buf.h"
#include "session.h"
#include "sniff.h"
#include "transport_stack.h"

#include <ev.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdint.h>

#define READ_CHUNK 65536 /* the least a relay read asks for: it asks for all the room */
#define HANDSHAKE_READ 4096 /* one read before the target is named */
#define FIRST_PAYLOAD_WAIT 0.1 /* V2Ray's client waits this long to send data with its header */
#define UDP_QUEUE_MAX (512 * 1024) /* datagrams pushed in beyond this queue are dropped */
#define MAX_DATAGRAM 65535

enum ep_kind {
    EP_STREAM, /* a TCP socket */
    EP_DGRAM,  /* a connected UDP socket: each record is one datagram */
    EP_PEER,   /* a peer behind a UDP listener: datagrams are pushed in, sent with sendto */
};

/* A full-cone UDP session's (XUDP): its records carry addresses (cone_record.h). */
typedef struct evp_cone {
    uint8_t id[8];          /* its Global ID: the server keeps its socket under it */
    uint8_t has_id;
    uint8_t warned;         /* a datagram it could not send was logged */
    uint8_t held;           /* its socket is recorded under its ID (xudp_ports.c) */
    atomic_int stolen;      /* a sub-stream with its ID took the socket over: stop */
    socklen_t dst_len;      /* the server side: where a record with the target's name goes */
    struct sockaddr_storage dst;
} evp_cone;

typedef struct endpoint {
    ev_io rio; /* first member: read callbacks find the endpoint by a cast */
    ev_io wio;
    struct evp_session *s;
    int fd;
    uint8_t kind;         /* enum ep_kind */
    uint8_t eof;          /* nothing more will be read */
    uint8_t shut_pending; /* shut the write side once wbuf is flushed */
    uint8_t shut_done;
    evp_qbuf rbuf; /* read, not yet taken by the codec */
    evp_qbuf wbuf; /* waiting to be written */
    evp_tstack *stack; /* owned: transport layers between the socket and rbuf/wbuf
                               * (session_transport.c), NULL for plain TCP */
    uint64_t wire_in, wire_out; /* bytes its socket read and wrote (V2Ray's inbound and
                                 * outbound counters) */
} endpoint;

enum pass {
    PASS_IN = 1,  /* the inbound's codec copies bytes unchanged both ways (EVP_IN_PASS) */
    PASS_OUT = 2, /* the outbound's codec does (EVP_OUT_PASS) */
};

enum state {
    S_HANDSHAKE, /* the inbound has not named a target yet */
    S_SNIFF,     /* the target is named; its first payload is read for a domain (sniffing) */
    S_RESOLVING,
    S_CONNECTING,
    S_RELAY,
    S_DRAIN,   /* a rejected client: swallow some bytes, then close */
    S_CLOSING, /* write what is queued for the client, then close */
    S_ASSOC,   /* a control connection with a companion UDP relay: they live and end together */
    S_RESETTING, /* the server reset after the client's end: once the kernel has sent the
                    client what came before, reset the client too */
    S_DEAD,    /* torn down; the struct is freed from the loop, so callers may still look */
};

struct evp_session {
    ev_timer timer; /* first member */
    evp_runtime *rt;
    evp_session *prev, *next;
    endpoint cl, sv;
    evp_instance *in, *out; /* out: chosen by router once the target is known */
    evp_router *router;
    const evp_inbound_ops *inops; /* in's, or pass-through for a SOCKS UDP sub-session */
    void *ins, *outs;
    evp_qbuf plain; /* scratch between the two codecs (unused when either passes through) */
    uint8_t state;  /* enum state */
    uint8_t network;
    uint8_t up_done, down_done;
    uint8_t pass;        /* PASS_*: which codecs now pass bytes through unchanged */
    uint8_t first_wait;  /* S_RELAY: waiting for the client's first bytes to go with the header */
    uint8_t out_started; /* the outbound's encode has been called */
    uint8_t target_named; /* pass-through inbound: EVP_TARGET given */
    uint8_t handshaking;  /* counted in rt->n_handshakes */
    uint8_t told_idle;    /* the codecs were told the session is quiet (session_idle) */
    uint8_t level;        /* its user's policy level (EVP_POLICY_LEVELS: one not read) */
    uint8_t carrier;      /* its server side is a multiplexer serving sub-streams (mux_conn.c),
                             or it is a proxySettings hop (chained): they are routed and
                             counted, this session is not */
    uint8_t chained;      /* a proxySettings hop (session_chain.c): forced_out may multiplex */
    uint8_t layer_mux;    /* its inbound's top layer is a multiplexer, served at once: the
                             session below it is a connection, not logged */
    uint8_t local_out;    /* its outbound answers itself (EVP_OUT_LOCAL): no server socket;
                             what encode writes back is the server's reply (sv.rbuf) */
    struct evp_sess_lim *lim; /* its user's limits (session_limits.c), NULL: none */
    uint8_t answered;     /* the inbound's connected() ran before the dial (sniffing) */
    uint8_t sniffed;      /* sniffing is over: route */
    uint8_t sniff_reads;  /* reads of the first payload so far (at most EVP_SNIFF_READS) */
    uint16_t sniff_seen;  /* plaintext bytes the last of them saw */
    evp_sniffer sniffer;
    const char *sniffed_protocol; /* "http1", "tls", "bittorrent" (static), or NULL */
    char *access_to; /* the target the client named, for the access log, when sniffing
                        replaced it (owned), else NULL */
    evp_sub_link *sub_link; /* a sub-stream's session: shared with its carrier (owned) */
    evp_cone *cone;         /* full-cone UDP (XUDP), or NULL (owned) */
    evp_instance *forced_out; /* the outbound it goes through whatever the routing (a Mux
                                 client connection's carrier), or NULL (owned reference) */
    int down_err; /* errno of a server read failure after the client's end (S_RESETTING) */
    double reset_since; /* S_RESETTING: when it began waiting for the client's send queue */
    uint32_t drain_left;
    socklen_t peer_len;
    evp_resolve_req *resolving;
    evp_addr *dial; /* while a name the outbound dials is resolved: that name */
    evp_addr target;
    double last_active;
    double started; /* accept time: the handshake deadline counts from it */
    uint64_t bytes_up, bytes_down; /* plaintext relayed, for the stats */
    /* What V2Ray's counters have been given so far (evp_sess_v2stats_flush): user up/down,
     * the client socket's in/out, the server socket's out/in. */
    uint64_t v2_given[6];
    evp_udp_owner *udp_owner;
    evp_companion *companion; /* S_ASSOC: the UDP relay this connection keeps alive */
    union { /* a UDP peer behind a listener (EP_PEER) */
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } peer;
    char label[96]; /* "tcp:host:port" for logs */
};

/* Sets the timer to watch for the next quiet spell (session_idle.c): when the relay starts,
 * and when a session told it was quiet is active again. */
void evp_sess_wake(evp_session *s);

/* Bytes waiting to be written to ep's socket: wbuf's and, with layers, theirs. */
static inline size_t evp_sess_pending(const endpoint *ep)
{
    return evp_qbuf_len(&ep->wbuf) + (ep->stack ? evp_tstack_queued_down(ep->stack) : 0);
}

/* Whether a queue of pending bytes is below limit: an empty one always is, so that a limit
 * of 0 still lets one read through (V2Ray's pipe takes a write while it holds <= its limit). */
static inline int evp_sess_below(size_t pending, size_t limit)
{
    return pending < limit || pending == 0;
}

/* s's per-direction queue limit: its user's level's bufferSize. A side reads on while the
 * other side's queue is below it; once stopped, it reads again only below a quarter of it,
 * so that it does not flip on and off with every write near the mark. */
static inline size_t evp_sess_high(const evp_session *s)
{
    return evp_runtime_buffer_cap(s->rt, s->level);
}

static inline size_t evp_sess_low(const evp_session *s)
{
    return evp_sess_high(s) / 4;
}

/* Marks the session alive now (for the idle timer). */
static inline void evp_sess_touch(evp_session *s)
{
    s->last_active = ev_now(s->rt->loop);
    if (s->told_idle)
        evp_sess_wake(s);
}

/* session.c */
/* A new session on fd (-1 for a UDP peer) holding in and router; NULL when out of memory. */
evp_session *evp_sess_new(evp_runtime *rt, int fd, evp_instance *in, evp_router *router);
/* The same with a codec of the host's own (ops, whose session is the evp_session itself)
 * instead of in's; in is still held for its tag and counters. */
evp_session *evp_sess_new_host_codec(evp_runtime *rt, int fd, evp_instance *in,
                                     evp_router *router, const evp_inbound_ops *ops);

/* session_dial.c */
/* The outbound could not be reached: tell the inbound, log why, close once the client has
 * its answer. */
void evp_sess_connect_failed(evp_session *s, const char *why);
/* The inbound named the target: route it, ask the outbound where to go and go there. */
void evp_sess_open_outbound(evp_session *s);
/* Its second half, after sniffing: routing.rules pick the outbound, which is dialled. */
void evp_sess_route(evp_session *s);
/* The server socket's connect completed (or failed): start the relay or fail. */
void evp_sess_on_connected(evp_session *s);
/* Feeds the inbound what the client sent so far until it names a target or fails. */
void evp_sess_handshake(evp_session *s);
/* The one teardown, whatever went wrong; the memory goes on the next loop turn. */
void evp_sess_close(evp_session *s, const char *why);
/* The teardown after a socket error: the one log line names it ("what: strerror(err)"). The
 * other side is reset, not closed with a FIN, so that a cut stream never looks complete. */
void evp_sess_close_err(evp_session *s, const char *what, int err);
/* The server failed after the client's end and everything read before it is queued for the
 * client: reset the client once the kernel has sent it (see S_RESETTING). */
void evp_sess_reset_client(evp_session *s);

/* session_relay.c */
/* The outbound connected: tell the inbound, then wait for the client's first bytes. */
void evp_sess_start_relay(evp_session *s);
/* Ends that wait: the outbound's first encode, with what the client sent by now. */
void evp_sess_first_encode(evp_session *s);
/* Runs one codec hook with a fresh evp_io; returns what the hook returned. */
int evp_sess_run_codec(int (*fn)(void *, evp_io *), void *sess, const uint8_t *in, size_t len,
                       int eof, evp_buf *out, evp_buf *back, evp_io *io);
/* The outbound's encode into the server's write buffer (the first call may carry its
 * header); what the hook returned. */
int evp_sess_encode_out(evp_session *s, const uint8_t *in, size_t len, int eof, evp_io *io);
/* Client bytes through both codecs into the server's write buffer. */
void evp_sess_pump_up(evp_session *s);
/* Server bytes through both codecs into the client's write buffer. */
void evp_sess_pump_down(evp_session *s);
/* Writes both endpoints, ends a finished session, re-arms watchers; 1 when it is gone. */
int evp_sess_flush_all(evp_session *s);
/* Starts and stops the io watchers for the session's state and buffers. */
void evp_sess_update_watchers(evp_session *s);
/* Reads into ep->rbuf: 1 data, 0 EOF, -1 error, 2 nothing now. */
int evp_sess_read_endpoint(endpoint *ep);

/* session_transport.c: endpoints with transport layers */
/* Builds the client endpoint's stack from the inbound's layers: 0, or -1 out of memory. */
int evp_sess_stack_server(evp_session *s);
/* Builds the server endpoint's stack toward dial from the outbound's layers: 0 or -1. */
int evp_sess_stack_client(evp_session *s, const evp_addr *dial);
/* The server socket connected: the layers that speak first do. 0, or -1 when the session
 * was closed. */
int evp_sess_stack_start(evp_session *s);
/* evp_sess_read_endpoint for an endpoint with a stack (same returns; a layer's failure is
 * handled here and returns 2). */
int evp_sess_read_stacked(endpoint *ep);
/* Encodes ep's wbuf down through its layers: the queue to write to the socket, or NULL when a
 * layer failed (then call evp_sess_stack_failed). */
evp_qbuf *evp_sess_stack_encode(endpoint *ep);
/* A layer of ep failed: log it, then close (or drain a client still in its handshake). */
void evp_sess_stack_failed(evp_session *s, endpoint *ep);

/* session_chain.c */
/* s's outbound is proxied: reach dial through the outbound its proxySettings name (a hop on
 * a socketpair), then start the relay, or fail the session. */
void evp_sess_dial_chained(evp_session *s, const evp_addr *dial);

/* session_fixed.c: the host's codec for sessions whose target is fixed before they start
 * (its session is the evp_session): decode names s->target over s->network at once, then
 * both copy bytes unchanged. */
int evp_sess_fixed_decode(void *sess, evp_io *io);
int evp_sess_fixed_encode(void *sess, evp_io *io);
/* Those two as a pass-through inbound whose session needs no freeing (EVP_IN_PASS); its
 * policy level is the one set before its handshake. */
extern const evp_inbound_ops evp_sess_fixed_ops;

/* session_sub.c */
/* The target names a multiplexer (mux, from the router; conn_inst NULL), or the inbound's top
 * layer is one (conn_inst: the layer's instance): serve it instead of dialling. */
void evp_sess_start_demux(evp_session *s, evp_module *mux, void *conn_inst);
/* The outbound has "mux": join one of its shared connections instead of dialling. */
void evp_sess_join_mux(evp_session *s);
/* A sub-stream's session ends: tells its carrier how (link->ended), frees the link. */
void evp_sess_sub_link_end(evp_session *s);
/* A session carrying the multiplexer of in's top layer (see layer_mux); NULL when out of
 * memory. */
evp_session *evp_sess_new_layer_carrier(evp_runtime *rt, int fd, evp_instance *in,
                                        evp_router *router);
/* The top layer of the inbound's stack when it is a multiplexer (server side), else NULL. */
const evp_tlayer *evp_sess_layer_mux(const evp_instance *in);

/* session_sniff.c */
/* s is to be sniffed before it is routed (its inbound's "sniffing", a TCP target). */
int evp_sess_sniff_wanted(const evp_session *s);
/* Starts the sniff (S_SNIFF): answers the client if its inbound answers before the dial. */
void evp_sess_sniff_start(evp_session *s);
/* S_SNIFF: the client sent bytes (or ended); its wait ran out. Either may end the sniff. */
void evp_sess_sniff_input(evp_session *s);
void evp_sess_sniff_timeout(evp_session *s);

/* session_udp.c */
/* The inbound asked for a SOCKS UDP relay beside this TCP connection: open it. */
void evp_sess_start_assoc(evp_session *s);

/* session_cone.c: full-cone UDP (XUDP) */
/* Makes s full-cone with Global ID id (NULL: none); 0, or -1 out of memory. */
int evp_sess_cone_begin(evp_session *s, const uint8_t *id);
/* A SOCKS relay's session about to join a Mux connection: turns it full-cone under an ID of
 * its client and target, so replies from any address reach the client with theirs. */
void evp_sess_cone_for_mux(evp_session *s);
/* The server side of a full-cone session: an unconnected socket (the one kept under its
 * Global ID if any) with sa as the target's address; 0, or -1 with errno. */
int evp_sess_cone_dial(evp_session *s, const struct sockaddr *sa, socklen_t len);
/* Sends one record body (address, datagram) from the server side's socket: the sendto's
 * result (a datagram that cannot be addressed counts as sent: it is lost). */
long evp_sess_cone_send(evp_session *s, const uint8_t *rec, size_t n);
/* Reads one datagram from the server side's socket into q as a record with its source:
 * as evp_sess_read_endpoint. */
int evp_sess_cone_recv(evp_session *s, evp_qbuf *q);
/* Sends one record body to a SOCKS relay's client, from the record's address. */
long evp_sess_cone_send_peer(evp_session *s, const uint8_t *rec, size_t n);
/* The session ends: its server socket is kept under its Global ID, and the rest freed. */
void evp_sess_cone_end(evp_session *s);

/* session_idle.c */
/* The timer's look at a session idle for `idle` s whose limit is `next` s away: tells a quiet
 * relaying session's codecs (session_idle); returns when to look again. */
double evp_sess_idle_check(evp_session *s, double idle, double next);

/* session_limits.c: per-user limits (core/limits) */
typedef struct evp_sess_lim evp_sess_lim;
/* The inbound named the user: take a place for the session, or refuse it (a rejected
 * handshake naming the limit; the session is closed). 0 admitted or no limits, -1 refused. */
int evp_sess_limits_admit(evp_session *s);
/* Charges the bytes relayed since last time (s->lim set): pauses or cuts. */
void evp_sess_limits_account(evp_session *s);
/* The session became a Mux carrier: its sub-streams count as sessions, it does not. */
void evp_sess_limits_carrier(evp_session *s);
/* The session ends: gives its places back (s->lim set). */
void evp_sess_limits_end(evp_session *s);
/* True while reads from the client (down 0) or the server (down 1) are paused. */
int evp_sess_limits_hold(const evp_session *s, int down);

/* session_report.c */
/* The client's address: the one a trusted front named, else the socket's peer; NULL when
 * unknown. ss is the storage it may use. */
const struct sockaddr *evp_sess_client_sockaddr(evp_session *s, struct sockaddr_storage *ss);
/* "tcp:host:port" for a, into out. */
void evp_sess_addr_label(const evp_addr *a, int network, char *out, size_t n);
/* One line in the access log for s. */
void evp_sess_access_line(evp_session *s);
/* The client failed its handshake (why: the protocol's or layer's reason): a warning, a
 * "rejected" access line and a count for the metrics. */
void evp_sess_rejected(evp_session *s, const char *why);

/* Gives V2Ray's counters (plugin_host/v2stats) what the session moved since the last call:
 * from its timer while it relays, so a long session (a Mux connection) counts as it goes, as
 * V2Ray's do, and at its end. user is its inbound's user; relayed: its payload counts. */
void evp_sess_v2stats_flush(evp_session *s, const char *user, int relayed);

#endif
