/* Traffic counters per inbound tag and per user (email), as V2Ray's StatsService keeps. */
#ifndef EVP_STATS_H
#define EVP_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct evp_counter {
    char *inbound; /* inbound tag */
    char *user; /* email, or NULL for the inbound's own total */
    uint64_t up, down, sessions;
} evp_counter;

/* Adds a finished (or running) session's bytes to its inbound's and its user's counters. */
void evp_stats_add(const char *inbound, const char *user, uint64_t up, uint64_t down,
                   uint64_t sessions);
/* Calls fn with each counter so far, holding the counters' lock (fn must not add). */
void evp_stats_each(void (*fn)(const evp_counter *c, void *arg), void *arg);
/* Frees every counter. */
void evp_stats_clear(void);

#endif
