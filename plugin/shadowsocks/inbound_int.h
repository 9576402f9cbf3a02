/* What the shadowsocks inbound's files share (private to the plugin): the instance
 * (inbound.c), a connection's stream path (inbound_tcp.c) and its datagram path
 * (inbound_udp.c). */
#ifndef SS_INBOUND_INT_H
#define SS_INBOUND_INT_H

#include "evproxy/plugin.h"
#include "stream.h"
#include "users.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The host's set of salts seen recently (streams and datagrams, as ss-libev's one filter),
 * shared by every instance and loaded copy of the plugin. */
#define SS_SALT_SET "shadowsocks.salt"
#define SS_SALT_WINDOW 3600 /* seconds a salt stays refused, at least */

typedef struct ss_inbound {
    const evp_host *host;
    atomic_uint refs;     /* the host's, plus one per session */
    pthread_mutex_t lock; /* guards users and settings */
    ss_users *users;      /* the current table; the instance holds one reference */
    char *settings;       /* the settings text users came from (owned), for the users ops */
    uint32_t drain_base;  /* a failed handshake drains base + [0, span) bytes in all */
    uint32_t drain_span;
} ss_inbound;

enum ss_phase {
    P_SALT = 0,  /* stream: waiting for the salt and the first sealed length */
    P_UDP_FIRST, /* datagrams: waiting for the first, which names the target and user */
    P_FIRST,     /* stream: user found, waiting for the first chunk (the address) */
    P_RELAY,     /* stream: target named */
    P_UDP,       /* datagrams: target named by the first one */
    P_FAILED,
};

typedef struct ss_in_session {
    ss_inbound *inst;
    ss_users *users;     /* the table the user was found in (a reference), or NULL */
    const ss_user *user; /* in users */
    uint8_t phase;       /* enum ss_phase */
    uint8_t tx_started;  /* the response's salt is written */
    uint8_t warned;      /* a datagram to another target was logged */
    uint16_t skip;       /* the address's bytes still to drop from the first chunk */
    uint32_t drain;      /* a failed handshake ends once this many bytes came in all */
    uint32_t taken;      /* handshake bytes consumed by earlier decode calls */
    evp_addr target;     /* datagrams: the one target of this peer */
    ss_reader rx;
    ss_aead tx;
} ss_in_session;

/* Drops one reference (the host's or a session's); the last one frees the instance. */
void ss_in_instance_unref(ss_inbound *in);
/* The session's user table and user from now on: a reference to the instance's table. */
void ss_in_take_users(ss_in_session *s);
/* A failure: the session fails and the host closes (no drain). */
int ss_in_broken(ss_in_session *s, evp_io *io, const char *why);

/* Stream path: client bytes -> target plaintext, and back. */
int ss_in_stream_decode(ss_in_session *s, evp_io *io);
int ss_in_stream_encode(ss_in_session *s, evp_io *io);
/* Datagram path. ss_in_udp_first: the first input is exactly one record that opens as a
 * datagram: names its target (EVP_TARGET) and returns 1; 0 when it is not one. */
int ss_in_udp_first(ss_in_session *s, evp_io *io, int *rc);
int ss_in_udp_decode(ss_in_session *s, evp_io *io);
int ss_in_udp_encode(ss_in_session *s, evp_io *io);

#endif
