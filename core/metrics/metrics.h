/* What the metrics endpoint serves: Prometheus text at /metrics and a status page at /,
 * built from the traffic counters (stats.h), the running sessions and the reload counts. */
#ifndef EVP_METRICS_H
#define EVP_METRICS_H

#include "stats.h"

#include <stdint.h>

/* What the pages need of the running daemon, handed over by the server (as control.h's
 * table): metrics/ depends on this, never on the server. Called on the main loop. */
typedef struct evp_metrics_host {
    void *ctx; /* the first argument of every call */
    /* Calls fn for each relaying session on every worker. */
    void (*each_traffic)(void *ctx, evp_traffic_fn *fn, void *arg);
    /* Reloads applied and refused so far. */
    void (*reloads)(void *ctx, uint64_t *applied, uint64_t *refused);
} evp_metrics_host;

/* The /metrics body (text format 0.0.4), malloc'd; NULL when out of memory. */
char *evp_metrics_text(const evp_metrics_host *host);
/* The status page (plain HTML, no script), malloc'd; NULL when out of memory. */
char *evp_metrics_status_page(const evp_metrics_host *host);

#endif
