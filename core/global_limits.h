/* Global caps (the config's "limits" block, an evproxy extension V2Ray ignores): how many
 * sessions, handshakes, UDP associations and DNS lookups may run at once, and for how long
 * UDP associations and DNS answers live. */
#ifndef EVP_GLOBAL_LIMITS_H
#define EVP_GLOBAL_LIMITS_H

/* Defaults for a 512 MiB VPS. What a session costs: ~1.5 KiB of our memory when idle
 * (measured: RSS of 500 SOCKS sessions); while relaying it holds 68 KiB buffer blocks for a
 * moment, at most 2 x (512 KiB high water + 68 KiB) when both peers stall. What dominates is
 * the kernel's: two sockets, each with up to 128 KiB rmem + 16 KiB wmem by default (more
 * with autotuning, bounded system-wide by tcp_mem), so ~288 KiB for a busy session.
 *   maxSessions 1024: 1024 x 288 KiB = 288 MiB of socket buffers if every session is busy,
 *     plus ~2 MiB of session state, leaving ~220 MiB of 512 MiB to the system; 2 fds each.
 *   maxHandshakes 256: a client that has not named its target holds at most one 68 KiB read
 *     block and one socket's buffers, 256 x ~200 KiB = 50 MiB; with the 4 s handshake
 *     deadline an idle-connection flood costs honest clients a wait, never the memory.
 *   maxUdpAssociations 128: one UDP socket each; their per-destination sessions count
 *     against maxSessions.
 *   udpIdle 300 s: V2Ray's connIdle, for an association no datagram has crossed.
 *   dnsMaxInflight 64: lookups at once (each an A and/or an AAAA query, ~1 KiB of c-ares
 *     state); the rest wait their turn, so a flood of names cannot flood the resolver.
 *   dnsCacheSeconds 60 (never longer than the record's TTL), dnsNegativeCacheSeconds 10;
 *     at most EVP_DNS_CACHE_MAX answers (a name and a family each, up to 8 addresses),
 *     ~400 B each = 1.6 MiB. */
#define EVP_LIMITS_MAX_SESSIONS 1024
#define EVP_LIMITS_MAX_HANDSHAKES 256
#define EVP_LIMITS_MAX_UDP_ASSOCS 128
#define EVP_LIMITS_UDP_IDLE 300.0
#define EVP_LIMITS_DNS_MAX_INFLIGHT 64
#define EVP_LIMITS_DNS_CACHE 60.0
#define EVP_LIMITS_DNS_NEGATIVE_CACHE 10.0
#define EVP_DNS_CACHE_MAX 4096

/* policy.levels.N.bufferSize: the bytes a session queues per direction before it stops
 * reading the side that fills them. The default is V2Ray 4.34's on amd64 (features/policy);
 * a negative one (V2Ray: unlimited) or a larger one gets the max, so that one session cannot
 * take the memory of all. */
#define EVP_RELAY_BUFFER_DEFAULT (512 * 1024)
#define EVP_RELAY_BUFFER_MAX_KIB (64 * 1024)

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
