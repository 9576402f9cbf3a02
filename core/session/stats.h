/* Traffic counters per inbound tag, per user (email) and per outbound tag, as V2Ray's
 * StatsService keeps, and the handshakes each inbound refused, by reason. */
#ifndef EVP_STATS_H
#define EVP_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct evp_counter {
    char *inbound; /* inbound tag; NULL for an outbound's counter */
    char *user; /* email, or NULL for the inbound's own total */
    char *outbound; /* outbound tag of an outbound's counter, else NULL */
    uint64_t up, down, sessions;
} evp_counter;

/* One relaying session's traffic so far, as the live walks (each_traffic) hand it over. */
typedef struct evp_live_traffic {
    const char *inbound, *outbound; /* tags */
    const char *user; /* the inbound's user label, or NULL */
    uint64_t up, down;
    unsigned level; /* its user's policy level (16: one above those read) */
    size_t queued_up, queued_down; /* read from one side, not yet written to the other */
} evp_live_traffic;
typedef void evp_traffic_fn(const evp_live_traffic *t, void *arg);

/* Adds an ended session's bytes to its inbound's, its user's and its outbound's counters. */
void evp_stats_add(const char *inbound, const char *outbound, const char *user, uint64_t up,
                   uint64_t down);
/* Calls fn with each counter so far, holding the counters' lock (fn must not add). */
void evp_stats_each(void (*fn)(const evp_counter *c, void *arg), void *arg);

/* Distinct (inbound, reason) pairs kept; later ones count under the reason "other", so that
 * reasons carrying details cannot grow the table (or a scrape) without bound. */
#define EVP_STATS_MAX_FAILURE_KINDS 128

/* Counts one refused handshake on inbound. */
void evp_stats_handshake_failed(const char *inbound, const char *reason);
/* Calls fn with each (inbound, reason) and its count, holding the lock (fn must not add). */
void evp_stats_each_failure(void (*fn)(const char *inbound, const char *reason, uint64_t n,
                                       void *arg),
                            void *arg);
/* Frees every counter. */
void evp_stats_clear(void);

#endif
