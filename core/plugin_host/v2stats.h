/* V2Ray's named traffic counters, as its StatsService serves them (app/stats): present
 * exactly when the config's `stats` block and `policy` switches say, kept for the life of
 * the process (a reload keeps their values), read and reset through the plugin ABI
 * (evp_host.stats_visit). */
#ifndef EVP_V2STATS_H
#define EVP_V2STATS_H

#include <stddef.h>
#include <stdint.h>

#include "evproxy/plugin.h"

/* Which counters exist: `stats` present, then policy.system's and each level's switches. */
typedef struct evp_v2stats_policy {
    uint8_t enabled; /* a `stats` object in the config: without it no counter exists */
    uint8_t inbound_up, inbound_down;   /* policy.system.statsInboundUplink/Downlink */
    uint8_t outbound_up, outbound_down; /* policy.system.statsOutboundUplink/Downlink */
    uint16_t user_up, user_down; /* bit N: policy.levels.N.statsUserUplink/Downlink */
} evp_v2stats_policy;

/* A session's bytes (since it last gave them), as V2Ray counts them: a user's are the payload (plaintext) its
 * link carried; an inbound's are what its connection read and wrote, an outbound's the same
 * of the connection it dialled (protocol headers and padding included). */
typedef struct evp_v2stats_traffic {
    const char *inbound, *outbound; /* tags, "" or NULL when absent */
    const char *user; /* email, NULL when the user has none */
    unsigned level; /* the user's policy level */
    uint64_t user_up, user_down;
    uint64_t in_read, in_written;
    uint64_t out_written, out_read;
} evp_v2stats_traffic;

/* The longest counter name kept; a longer one (a huge email) is not counted. */
#define EVP_V2STATS_NAME_MAX 600

/* Sets the switches and creates the inbounds' and outbounds' counters they call for, at 0,
 * as V2Ray creates them with their handlers (a user's appears with its first session).
 * Counters already there keep their values. Tags "" get none. */
void evp_v2stats_configure(const evp_v2stats_policy *p, const char *const *inbound_tags,
                           size_t n_inbounds, const char *const *outbound_tags,
                           size_t n_outbounds);
/* Whether any counter is kept (the config has `stats`): callers skip their work when not. */
int evp_v2stats_enabled(void);
/* Adds a session's bytes (since it last gave them) to the counters the switches name. */
void evp_v2stats_count(const evp_v2stats_traffic *t);
/* evp_host.stats_visit: fn on each counter named prefix..., in creation order. */
size_t evp_v2stats_visit(const char *prefix, evp_stats_fn fn, void *ctx);
/* Drops every counter and switch. */
void evp_v2stats_clear(void);

#endif
