/* What the VMess inbound's files share (private to the plugin): the instance (inbound.c),
 * the per-connection handshake (inbound_handshake.c) and the relay once a request is
 * accepted (inbound_relay.c). */
#ifndef VMESS_INBOUND_INT_H
#define VMESS_INBOUND_INT_H

#include "detour.h"
#include "evproxy/plugin.h"
#include "proto.h"
#include "settings.h"
#include "users.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct vmess_inbound {
    const evp_host *host;
    atomic_uint refs;     /* the host's, plus one per session */
    atomic_int detour_warned; /* a missing detour target is said once */
    pthread_mutex_t lock; /* guards users, cfg and reg */
    vmess_users *users;   /* the current table; the instance holds one reference */
    vmess_inbound_cfg cfg;
    char *settings;       /* the settings text cfg came from (owned), for the users ops */
    uint32_t drain_base;     /* a failed handshake drains base + [0, span) bytes (§10) */
    uint32_t drain_span;
    vmess_detour_reg reg;    /* as a detour target, under the host's state store */
    _Atomic uint64_t detour_version; /* the store's accounts the table was built with */
    uint8_t detour_digest[16];       /* and a digest of those for this tag */
} vmess_inbound;

enum phase {
    P_AUTH = 0,   /* waiting for the 16-byte AuthID / legacy auth */
    P_AEAD_LEN,   /* waiting for EncLen and the connection nonce */
    P_AEAD_HDR,   /* waiting for the sealed header */
    P_LEGACY_HDR, /* decrypting the CFB header as it arrives */
    P_BODY,       /* target named: request body */
    P_FAILED,
};

typedef struct vmess_in_session {
    vmess_inbound *inst;
    vmess_users *users; /* the table the user was found in (a reference), or NULL */
    const vmess_user *user;
    uint8_t phase; /* enum phase */
    uint8_t aead;
    uint8_t disable_insecure; /* the setting when the handshake began */
    uint8_t aead_forced;      /* likewise: legacy headers refused */
    uint8_t resp_sent;
    uint16_t hdr_len;    /* AEAD: sealed header plaintext length */
    uint32_t drain;      /* a failed handshake ends once this many bytes came in all */
    uint32_t taken;      /* handshake bytes consumed by earlier decode calls */
    int64_t t;           /* legacy: the time the auth matched */
    uint8_t auth[16];    /* the AuthID or legacy auth */
    uint8_t nonce[8];    /* AEAD connection nonce */
    char detour_to[128]; /* "" without a detour */
    vmess_request req;
    uint8_t resp_key[16];
    uint8_t resp_iv[16];
    uint8_t len_key[16];
    /* Request reader and response writer (compact keys and stream state, ~400 bytes each;
     * their expanded ciphers come and go with activity): allocated once the header is
     * accepted, so a connection still in its handshake holds only what the header needs. */
    vmess_body *rx, *tx;
} vmess_in_session;

/* Drops one reference (the host's or a session's); the last one frees the instance. */
void vmess_in_instance_unref(vmess_inbound *in);
/* Rebuilds the user table when the host's detour accounts changed since it was built (a
 * detour source made one for this target): called before a handshake looks a user up. */
void vmess_in_detour_refresh(vmess_inbound *in);
/* A failure after authentication: the session fails and the host just closes. */
int vmess_in_broken(vmess_in_session *s, evp_io *io, const char *why);
/* Accepted session: client body bytes -> target plaintext (evp_inbound_ops.decode). */
int vmess_in_relay_decode(vmess_in_session *s, evp_io *io);

#endif
