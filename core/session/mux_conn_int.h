/* Internals shared by mux_conn.c (a multiplexed connection, the server side) and mux_client.c
 * (the client side's pools): the records and the steps both sides take. Nothing else
 * includes it. */
#ifndef EVP_MUX_CONN_INT_H
#define EVP_MUX_CONN_INT_H

#include "mux_conn.h"

#include "buf.h"

#include <ev.h>

#define SUBS_MAX 128            /* sub-streams open at once on one connection */
#define SUB_HIGH (256 * 1024)   /* queued toward one sub-stream: the connection stops reading */
#define SUB_STALL 10.0          /* seconds a full sub-stream may hold the connection */
#define OUT_HIGH (512 * 1024)   /* queued toward the client: sub-streams stop being read */
#define OUT_LOW (128 * 1024)
#define IN_CHUNK 65536
#define SUB_CHUNK 16384         /* one read of a sub-stream: one frame */
#define CLIENT_SUBS_LIFE 128    /* V2Ray 4.34's client: sub-streams over a connection's life */
#define CLIENT_IDLE 16.0        /* V2Ray 4.34's client: how often an empty connection is looked at */

typedef struct mux_sub {
    ev_io rio; /* first member: the read callback finds the sub-stream by a cast */
    ev_io wio;
    struct evp_mux_conn *c;
    struct mux_sub *next;
    evp_sub_link *link; /* the session's, until it ends */
    uint32_t id;
    int fd;
    uint8_t network;
    uint8_t peer_ended; /* the client's End came: shut the write side once wq is written */
    uint8_t shut;       /* write side shut, or the session stopped reading: wq is dropped */
    uint8_t failed;     /* the session said its target failed */
    uint8_t read_done;  /* client side: the session's upload ended (End sent) */
    uint8_t cone;       /* XUDP: its records carry addresses (cone_record.h) */
    uint8_t new_pending; /* client side, XUDP: the New goes with the first datagram */
    uint8_t xudp_id[8];
    evp_addr target;    /* UDP: where a datagram with no address of its own goes */
    evp_qbuf wq;        /* toward the session */
    evp_qbuf rq;        /* from the session (UDP): a record not yet whole */
} mux_sub;

struct evp_mux_conn {
    ev_io rio; /* first member */
    ev_io wio;
    ev_timer timer; /* the stall watch; at the end, the deferred free */
    evp_runtime *rt;
    struct evp_mux_conn *prev, *next;
    int fd;
    evp_module *mux;
    const evp_mux_ops *ops;
    void *conn;
    evp_sub_origin origin;
    char *user;
    evp_qbuf rq; /* the multiplexed stream, read and not yet decoded */
    evp_qbuf wq; /* frames toward the client */
    mux_sub *subs;
    size_t n_subs;
    mux_sub *blocker; /* the sub-stream whose full queue stopped the reading */
    double blocked_since;
    uint8_t eof;      /* the carrying session ended the stream */
    uint8_t dead;
    uint8_t decoding; /* inside conn_decode: do not re-enter */
    uint8_t subs_paused;
    uint8_t warned_cap;
    /* The client side (an outbound with "mux"): */
    uint8_t client;
    evp_instance *client_out; /* the outbound whose sessions join (owned reference) */
    unsigned concurrency;     /* sub-streams at once */
    unsigned opened;          /* sub-streams over its life */
    uint32_t next_id;
    ev_timer idle;            /* closes it once it has had no sub-stream for a while */
};

/* A connection of the multiplexer mux on fd (taken), in rt's list, reading; server: 1 on
 * the accepting side. NULL out of memory (fd closed). */
evp_mux_conn *evp_mux_conn_alloc(evp_runtime *rt, int fd, evp_module *mux, void *conn_inst,
                                 const evp_sub_origin *o, const char *user, int server);
/* A sub-stream record on our end (fd) of its socketpair, filed in c; NULL out of memory (fd
 * left open). Reading starts with evp_mux_sub_start. */
mux_sub *evp_mux_sub_attach(evp_mux_conn *c, uint32_t id, int fd, uint8_t network);
void evp_mux_sub_start(mux_sub *s);
/* Forgets s and closes its end (its session sees the end). */
void evp_mux_sub_free(mux_sub *s);
/* The link's callback: the sub-stream's session ended. */
void evp_mux_sub_ended(void *carrier, int failed);
/* Appends one event to the client's queue; 0, or -1 when the connection was closed. */
int evp_mux_emit(evp_mux_conn *c, uint8_t kind, uint32_t id, int error, const uint8_t *data,
                 size_t len);
/* Appends ev to the client's queue; 0, or -1 when the connection was closed. */
int evp_mux_emit_event(evp_mux_conn *c, const evp_mux_event *ev);
/* mux_dgram.c: UDP sub-streams' datagrams. */
/* Server side: whether a New opens a full-cone sub-stream (XUDP: a Global ID, and a route to
 * an outbound that can honour per-datagram addresses). */
int evp_mux_wants_cone(const evp_mux_conn *c, const evp_mux_event *ev);
/* Queues one datagram from the client for s's session (its address: peer, or none); 0, or -1
 * out of memory. One s cannot deliver (another address on a plain sub-stream) is dropped. */
int evp_mux_dgram_queue(mux_sub *s, const evp_addr *peer, const uint8_t *data, size_t len);
/* Frames the whole records s->rq holds (read from its session) toward the client: 0, or -1
 * when the connection was closed. */
int evp_mux_dgram_frame(mux_sub *s);
/* Writes what it can toward the client; pauses or resumes reading the sub-streams. */
void evp_mux_conn_flush(evp_mux_conn *c);
/* Ends the connection and its sub-streams (why: a warning, or NULL). */
void evp_mux_conn_close(evp_mux_conn *c, const char *why);
/* mux_client.c: the client side's look at an idle connection (c->idle's callback). */
void evp_mux_client_idle(EV_P_ ev_timer *w, int revents);

#endif
