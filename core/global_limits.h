/* Global caps (the config's "limits" block, an evproxy extension V2Ray ignores): how many
 * sessions, handshakes, UDP associations and DNS lookups may run at once, and for how long
 * UDP associations and DNS answers live. */
#ifndef EVP_GLOBAL_LIMITS_H
#define EVP_GLOBAL_LIMITS_H

/* Defaults for a 512 MiB VPS. What a session costs: 1.3 KiB of session state, ~2 KiB of
 * codec state, and while it relays about two 68 KiB buffer blocks (a read and a write), so
 * ~140 KiB busy and ~4 KiB idle (buffers go back to the pool); the kernel adds up to about
 * 2 x (128 KiB rmem + 16 KiB wmem) for its two sockets.
 *   maxSessions 1024: all busy, 1024 x 140 KiB = 140 MiB of buffers, leaving the rest of
 *     512 MiB to the kernel's socket buffers (tcp_mem-bounded) and the system; 2 fds each.
 *   maxHandshakes 256: a client that has not named its target holds at most one read block,
 *     256 x 72 KiB = 18 MiB; with the 4 s handshake deadline an idle-connection flood costs
 *     honest clients at most that wait, never the memory.
 *   maxUdpAssociations 128: one UDP socket each; their per-destination sessions count
 *     against maxSessions.
 *   udpIdle 300 s: V2Ray's connIdle, for an association no datagram has crossed.
 *   dnsMaxInflight 64: lookups at once (each is an A and an AAAA query, ~1 KiB of c-ares
 *     state); the rest wait their turn, so a flood of names cannot flood the resolver.
 *   dnsCacheSeconds 60 (never longer than the record's TTL), dnsNegativeCacheSeconds 10;
 *     at most EVP_DNS_CACHE_MAX names, ~300 B each = 1.2 MiB. */
#define EVP_LIMITS_MAX_SESSIONS 1024
#define EVP_LIMITS_MAX_HANDSHAKES 256
#define EVP_LIMITS_MAX_UDP_ASSOCS 128
#define EVP_LIMITS_UDP_IDLE 300.0
#define EVP_LIMITS_DNS_MAX_INFLIGHT 64
#define EVP_LIMITS_DNS_CACHE 60.0
#define EVP_LIMITS_DNS_NEGATIVE_CACHE 10.0
#define EVP_DNS_CACHE_MAX 4096

typedef struct evp_limits {
    unsigned max_sessions;   /* TCP and UDP sessions; UDP ASSOCIATE control ones included */
    unsigned max_handshakes; /* TCP sessions that have not named a target yet */
    unsigned max_udp_assocs;
    double udp_idle; /* seconds without a datagram before an association ends */
    unsigned dns_max_inflight;
    double dns_cache, dns_negative_cache; /* seconds; 0 caches nothing */
} evp_limits;

static inline evp_limits evp_limits_default(void)
{
    return (evp_limits){EVP_LIMITS_MAX_SESSIONS, EVP_LIMITS_MAX_HANDSHAKES,
                        EVP_LIMITS_MAX_UDP_ASSOCS, EVP_LIMITS_UDP_IDLE,
                        EVP_LIMITS_DNS_MAX_INFLIGHT, EVP_LIMITS_DNS_CACHE,
                        EVP_LIMITS_DNS_NEGATIVE_CACHE};
}

#endif
