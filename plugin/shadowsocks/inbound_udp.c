/* A shadowsocks inbound's UDP peer: each datagram is salt + sealed(address + payload). The
 * first names the session's target and user; later ones are opened with that user's key
 * and must name the same target (the ABI gives a session one target): others are dropped,
 * as are datagrams that do not open and salts seen recently. Replies carry the target's
 * address. */
#include "inbound_int.h"

#include "addr.h"
#include "mem.h"
#include "packet.h"

#include <stdio.h>
#include <string.h>

int ss_in_udp_first(ss_in_session *s, evp_io *io, int *rc)
{
    size_t off = 0, n;
    const uint8_t *d;
    if (!ss_record_next(io->in, io->in_len, &off, &d, &n) || off != io->in_len)
        return 0;
    ss_in_take_users(s);
    uint8_t *plain = ss_alloc(n ? n : 1);
    if (plain == NULL) {
        *rc = ss_in_broken(s, io, "out of memory");
        return 1;
    }
    size_t len = 0;
    const ss_user *user = ss_users_find_packet(s->users, d, n, plain, &len);
    int alen = user != NULL ? ss_addr_decode(&s->target, plain, len) : -1;
    ss_free_wiped(plain, n ? n : 1);
    if (alen < 0)
        return 0; /* not a datagram of ours: the stream path judges it */
    /* Only looked at here: ss_in_udp_decode opens this datagram again and records it. */
    if (s->inst->host->replay_peek(SS_SALT_SET, d, ss_key_size(user->method), SS_SALT_WINDOW)) {
        *rc = ss_in_broken(s, io, "replayed salt");
        return 1;
    }
    s->user = user;
    s->phase = P_UDP;
    io->target = s->target;
    io->network = EVP_NET_UDP;
    io->consumed = 0; /* the datagram is read again by ss_in_udp_decode */
    *rc = EVP_TARGET;
    return 1;
}

/* Opens one datagram and appends its payload as a record when it is for the target: 0, or
 * -1 when out of memory. */
static int open_one(ss_in_session *s, const uint8_t *d, size_t n, evp_io *io)
{
    const evp_host *h = s->inst->host;
    uint8_t *plain = ss_alloc(n ? n : 1);
    if (plain == NULL)
        return -1;
    long len = ss_packet_open(s->user->method, s->user->key, d, n, plain);
    evp_addr to;
    int alen = len >= 0 ? ss_addr_decode(&to, plain, (size_t)len) : -1;
    int rc = 0;
    if (len < 0 ||
        h->replay_seen(SS_SALT_SET, d, ss_key_size(s->user->method), SS_SALT_WINDOW) != 0) {
        /* a forged, damaged or replayed datagram: UDP may lose it */
    } else if (alen < 0 || !ss_addr_same(&to, &s->target)) {
        if (!s->warned && h->log_enabled(EVP_LOG_INFO))
            h->log(EVP_LOG_INFO, "shadowsocks: a UDP peer's datagrams for a second target "
                                 "are dropped (one target per peer)");
        s->warned = 1;
    } else {
        rc = ss_record_put(h, io->out, plain + alen, (size_t)len - (size_t)alen);
    }
    ss_free_wiped(plain, n ? n : 1);
    return rc;
}

int ss_in_udp_decode(ss_in_session *s, evp_io *io)
{
    size_t off = 0, n;
    const uint8_t *d;
    while (ss_record_next(io->in, io->in_len, &off, &d, &n)) {
        if (open_one(s, d, n, io) != 0)
            return ss_in_broken(s, io, "out of memory");
        io->consumed = off;
    }
    return EVP_OK;
}

int ss_in_udp_encode(ss_in_session *s, evp_io *io)
{
    const evp_host *h = s->inst->host;
    size_t off = 0, n;
    const uint8_t *d;
    while (ss_record_next(io->in, io->in_len, &off, &d, &n)) {
        if (ss_packet_seal(h, s->user->method, s->user->key, &s->target, d, n, io->out) < 0)
            return ss_in_broken(s, io, "out of memory");
        io->consumed = off;
    }
    return EVP_OK;
}
