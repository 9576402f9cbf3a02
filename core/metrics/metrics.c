/* One scrape: the counters of ended sessions and the running sessions' bytes so far, summed
 * per V2Ray stat name (user>>>EMAIL, inbound>>>TAG, outbound>>>TAG), then written out. Labels
 * are tags and the ABI's user labels only: no protocol is named here. */
#include "metrics.h"

#include "prom_text.h"
#include "status_limits.h"
#include "xudp_ports.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum scope { SCOPE_USER, SCOPE_INBOUND, SCOPE_OUTBOUND, N_SCOPES };
static const char *const scope_names[N_SCOPES] = {"user", "inbound", "outbound"};

typedef struct row {
    enum scope scope;
    char *name; /* a copy: the counters' lock is let go between the walks */
    uint64_t up, down, active, total;
} row;

typedef struct snapshot {
    row *rows;
    size_t n, cap;
    int failed;
} snapshot;

static row *row_of(snapshot *s, enum scope scope, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].scope == scope && strcmp(s->rows[i].name, name) == 0)
            return &s->rows[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        row *r = realloc(s->rows, cap * sizeof *r);
        if (r == NULL) {
            s->failed = 1;
            return NULL;
        }
        s->rows = r;
        s->cap = cap;
    }
    row *r = &s->rows[s->n];
    memset(r, 0, sizeof *r);
    r->scope = scope;
    r->name = strdup(name);
    if (r->name == NULL) {
        s->failed = 1;
        return NULL;
    }
    s->n++;
    return r;
}

static void add(snapshot *s, enum scope scope, const char *name, uint64_t up, uint64_t down,
                uint64_t active, uint64_t total)
{
    row *r = row_of(s, scope, name);
    if (r == NULL)
        return;
    r->up += up;
    r->down += down;
    r->active += active;
    r->total += total;
}

static void take_ended(const evp_counter *c, void *arg)
{
    snapshot *s = arg;
    if (c->outbound)
        add(s, SCOPE_OUTBOUND, c->outbound, c->up, c->down, 0, c->sessions);
    else if (c->user) /* V2Ray counts a user's traffic over every inbound */
        add(s, SCOPE_USER, c->user, c->up, c->down, 0, c->sessions);
    else
        add(s, SCOPE_INBOUND, c->inbound, c->up, c->down, 0, c->sessions);
}

static void take_live(const evp_live_traffic *t, void *arg)
{
    snapshot *s = arg;
    add(s, SCOPE_INBOUND, t->inbound, t->up, t->down, 1, 1);
    add(s, SCOPE_OUTBOUND, t->outbound, t->up, t->down, 1, 1);
    if (t->user)
        add(s, SCOPE_USER, t->user, t->up, t->down, 1, 1);
}

static int by_scope_then_name(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->scope != y->scope)
        return x->scope < y->scope ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void snapshot_take(snapshot *s, const evp_metrics_host *host)
{
    memset(s, 0, sizeof *s);
    evp_stats_each(take_ended, s);
    host->each_traffic(host->ctx, take_live, s);
    if (s->n)
        qsort(s->rows, s->n, sizeof *s->rows, by_scope_then_name);
}

static void snapshot_free(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].name);
    free(s->rows);
}

/* ---- /metrics ------------------------------------------------------------------------- */

static void traffic(evp_text *t, const snapshot *s)
{
    static const char name[] = "evproxy_traffic_bytes_total";
    evp_prom_family(t, name, "counter",
                    "Bytes relayed, client side, by V2Ray stat name (scope user, inbound or "
                    "outbound; name the email or tag)");
    for (size_t i = 0; i < s->n; i++) {
        const row *r = &s->rows[i];
        const char *sc = scope_names[r->scope];
        const char *up[] = {"scope", sc, "name", r->name, "direction", "uplink", NULL};
        const char *down[] = {"scope", sc, "name", r->name, "direction", "downlink", NULL};
        evp_prom_sample(t, name, up, r->up);
        evp_prom_sample(t, name, down, r->down);
    }
}

static void sessions(evp_text *t, const snapshot *s, const char *name, int active)
{
    evp_prom_family(t, name, active ? "gauge" : "counter",
                    active ? "Sessions relaying now" : "Sessions relayed (running ones included)");
    for (size_t i = 0; i < s->n; i++) {
        const row *r = &s->rows[i];
        const char *labels[] = {"scope", scope_names[r->scope], "name", r->name, NULL};
        evp_prom_sample(t, name, labels, active ? r->active : r->total);
    }
}

static void failure_sample(const char *inbound, const char *reason, uint64_t n, void *arg)
{
    const char *labels[] = {"inbound", inbound, "reason", reason, NULL};
    evp_prom_sample(arg, "evproxy_handshake_failures_total", labels, n);
}

/* Resident set size from /proc/self/statm (its second field, in pages). */
static uint64_t resident_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Entries of /proc/self/fd, less the one the listing itself holds open. */
static uint64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    uint64_t n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0;
}

char *evp_metrics_text(const evp_metrics_host *host)
{
    snapshot s;
    evp_text t = {0};
    uint64_t applied = 0, refused = 0;
    snapshot_take(&s, host);
    traffic(&t, &s);
    sessions(&t, &s, "evproxy_sessions_active", 1);
    sessions(&t, &s, "evproxy_sessions_total", 0);
    evp_prom_family(&t, "evproxy_handshake_failures_total", "counter",
                    "Clients refused in their handshake, by inbound tag and reason");
    evp_stats_each_failure(failure_sample, &t);
    host->reloads(host->ctx, &applied, &refused);
    evp_prom_family(&t, "evproxy_reloads_total", "counter", "Config reloads, by outcome");
    evp_prom_sample(&t, "evproxy_reloads_total", (const char *[]){"result", "applied", NULL},
                    applied);
    evp_prom_sample(&t, "evproxy_reloads_total", (const char *[]){"result", "refused", NULL},
                    refused);
    evp_prom_family(&t, "evproxy_xudp_ports_kept", "gauge",
                    "Outbound UDP sockets kept for an XUDP Global ID's next connection");
    evp_prom_sample(&t, "evproxy_xudp_ports_kept", NULL, evp_xudp_ports_kept());
    evp_prom_family(&t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
    evp_prom_sample(&t, "process_resident_memory_bytes", NULL, resident_bytes());
    evp_prom_family(&t, "process_open_fds", "gauge", "Number of open file descriptors");
    evp_prom_sample(&t, "process_open_fds", NULL, open_fds());
    if (s.failed)
        t.failed = 1;
    snapshot_free(&s);
    return evp_text_take(&t);
}

/* ---- the status page ------------------------------------------------------------------ */

static void status_table(evp_text *t, const snapshot *s, enum scope scope, const char *title)
{
    evp_text_printf(t, "<h2>%s</h2>\n<table>\n<tr><th>name</th><th>uplink</th>"
                       "<th>downlink</th><th>active sessions</th><th>sessions</th></tr>\n",
                    title);
    int any = 0;
    for (size_t i = 0; i < s->n; i++) {
        const row *r = &s->rows[i];
        if (r->scope != scope)
            continue;
        any = 1;
        evp_text_printf(t, "<tr><td>");
        evp_html_text(t, r->name);
        evp_text_printf(t, "</td><td>");
        evp_text_bytes(t, r->up);
        evp_text_printf(t, "</td><td>");
        evp_text_bytes(t, r->down);
        evp_text_printf(t, "</td><td>%llu</td><td>%llu</td></tr>\n",
                        (unsigned long long)r->active, (unsigned long long)r->total);
    }
    if (!any)
        evp_text_printf(t, "<tr><td colspan=\"5\">none yet</td></tr>\n");
    evp_text_printf(t, "</table>\n");
}

char *evp_metrics_status_page(const evp_metrics_host *host)
{
    snapshot s;
    evp_text t = {0};
    snapshot_take(&s, host);
    evp_text_printf(&t, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>evproxy status</title>\n<style>body{font-family:sans-serif}"
                        "table{border-collapse:collapse}td,th{border:1px solid #999;"
                        "padding:2px 8px;text-align:right}td:first-child{text-align:left}"
                        "</style></head>\n<body>\n<h1>evproxy</h1>\n"
                        "<p>Counters for Prometheus: <a href=\"/metrics\">/metrics</a></p>\n");
    status_table(&t, &s, SCOPE_USER, "Users");
    status_table(&t, &s, SCOPE_INBOUND, "Inbounds");
    status_table(&t, &s, SCOPE_OUTBOUND, "Outbounds");
    evp_status_limits(&t);
    evp_text_printf(&t, "</body></html>\n");
    if (s.failed)
        t.failed = 1;
    snapshot_free(&s);
    return evp_text_take(&t);
}
