/* StatsService's three calls, as v2ray-core 4.34's app/stats/command answers them: GetStats
 * by exact name (an unknown one is an error), QueryStats by substring ("" every counter),
 * both resetting after reading when asked; GetSysStats from what a C process has. */
#include "api_int.h"

#include "stats_command.pb-c.h"

#include <stdio.h>
#include <string.h>

typedef V2ray__Core__App__Stats__Command__Stat stat_msg;

/* What V2Ray 4.34's errors from this package start with. */
#define ERR_PREFIX "v2ray.com/core/app/stats/command"


static void *pb_alloc(void *data, size_t size)
{
    return ((const evp_host *)data)->alloc(size);
}

static void pb_free(void *data, void *p)
{
    ((const evp_host *)data)->free(p);
}

/* Packs m into a->msg (status OK), or says INTERNAL. */
static void pack(const evp_host *host, const ProtobufCMessage *m, api_answer *a)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    a->msg = host->alloc(n ? n : 1);
    if (a->msg == NULL) {
        a->status = API_GRPC_INTERNAL;
        snprintf(a->message, sizeof a->message, "out of memory");
        return;
    }
    a->len = protobuf_c_message_pack(m, a->msg);
    a->status = API_GRPC_OK;
}

typedef struct get_visit {
    const char *name;
    int reset, found;
    int64_t value;
} get_visit;

static int get_one(void *ctx, const char *name, uint64_t value)
{
    get_visit *g = ctx;
    if (strcmp(name, g->name) != 0)
        return 0;
    g->found = 1;
    g->value = (int64_t)value;
    return g->reset;
}

static void get_stats(const evp_host *host,
                      const V2ray__Core__App__Stats__Command__GetStatsRequest *r, api_answer *a)
{
    get_visit g = {r->name, r->reset, 0, 0};
    host->stats_visit(r->name, get_one, &g);
    if (!g.found) {
        a->status = API_GRPC_UNKNOWN;
        snprintf(a->message, sizeof a->message, "%s: %.180s not found.", ERR_PREFIX, r->name);
    } else {
        stat_msg s = V2RAY__CORE__APP__STATS__COMMAND__STAT__INIT;
        s.name = r->name;
        s.value = g.value;
        V2ray__Core__App__Stats__Command__GetStatsResponse resp =
            V2RAY__CORE__APP__STATS__COMMAND__GET_STATS_RESPONSE__INIT;
        resp.stat = &s;
        pack(host, &resp.base, a);
    }
}

/* The counters QueryStats matched: names copied, as the lock is released before packing. */
typedef struct query_visit {
    const evp_host *host;
    const char *pattern;
    int reset, failed;
    stat_msg *stats;
    stat_msg **ptrs;
    size_t n, cap;
} query_visit;

static int query_one(void *ctx, const char *name, uint64_t value)
{
    query_visit *q = ctx;
    if (q->failed || strstr(name, q->pattern) == NULL)
        return 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        stat_msg *s = q->host->realloc(q->stats, cap * sizeof *s);
        if (s == NULL) {
            q->failed = 1;
            return 0;
        }
        q->stats = s;
        q->cap = cap;
    }
    stat_msg *s = &q->stats[q->n];
    *s = (stat_msg)V2RAY__CORE__APP__STATS__COMMAND__STAT__INIT;
    size_t len = strlen(name);
    if ((s->name = q->host->alloc(len + 1)) == NULL) {
        q->failed = 1;
        return 0;
    }
    memcpy(s->name, name, len + 1);
    s->value = (int64_t)value;
    q->n++;
    return q->reset;
}

static void query_stats(const evp_host *host,
                        const V2ray__Core__App__Stats__Command__QueryStatsRequest *r,
                        api_answer *a)
{
    query_visit q = {.host = host, .pattern = r->pattern, .reset = r->reset};
    host->stats_visit("", query_one, &q);
    q.ptrs = host->calloc(q.n ? q.n : 1, sizeof *q.ptrs);
    if (q.failed || q.ptrs == NULL) {
        a->status = API_GRPC_INTERNAL;
        snprintf(a->message, sizeof a->message, "out of memory");
    } else {
        for (size_t i = 0; i < q.n; i++)
            q.ptrs[i] = &q.stats[i];
        V2ray__Core__App__Stats__Command__QueryStatsResponse resp =
            V2RAY__CORE__APP__STATS__COMMAND__QUERY_STATS_RESPONSE__INIT;
        resp.n_stat = q.n;
        resp.stat = q.ptrs;
        pack(host, &resp.base, a);
    }
    for (size_t i = 0; i < q.n; i++)
        host->free(q.stats[i].name);
    host->free(q.stats);
    host->free(q.ptrs);
}

/* The request message, or NULL with INTERNAL said in a. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *pa,
                                const uint8_t *req, size_t len, api_answer *a)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, pa, len, req);
    if (m == NULL) {
        a->status = API_GRPC_INTERNAL;
        snprintf(a->message, sizeof a->message, "grpc: failed to unmarshal the request");
    }
    return m;
}

void api_stats_call(const evp_host *host, int stats, const char *method, const uint8_t *req,
                    size_t len, api_answer *a)
{
    ProtobufCAllocator pa = {pb_alloc, pb_free, (void *)host};
    ProtobufCMessage *m = NULL;
    memset(a, 0, sizeof *a);
    if (strcmp(method, "GetStats") == 0) {
        m = unpack(&v2ray__core__app__stats__command__get_stats_request__descriptor, &pa, req,
                   len, a);
        if (m)
            get_stats(host, (V2ray__Core__App__Stats__Command__GetStatsRequest *)m, a);
    } else if (strcmp(method, "QueryStats") == 0) {
        m = unpack(&v2ray__core__app__stats__command__query_stats_request__descriptor, &pa,
                   req, len, a);
        if (m && !stats) { /* no `stats` block: V2Ray's manager is a no-op one */
            a->status = API_GRPC_UNKNOWN;
            snprintf(a->message, sizeof a->message,
                     "%s: QueryStats only works its own stats.Manager.", ERR_PREFIX);
        } else if (m) {
            query_stats(host, (V2ray__Core__App__Stats__Command__QueryStatsRequest *)m, a);
        }
    } else if (strcmp(method, "GetSysStats") == 0) {
        V2ray__Core__App__Stats__Command__SysStatsResponse resp =
            V2RAY__CORE__APP__STATS__COMMAND__SYS_STATS_RESPONSE__INIT;
        api_sys_stats(&resp);
        pack(host, &resp.base, a);
    } else {
        a->status = API_GRPC_UNIMPLEMENTED;
        snprintf(a->message, sizeof a->message,
                 "unknown method %.100s for service v2ray.core.app.stats.command.StatsService",
                 method);
    }
    if (m)
        protobuf_c_message_free_unpacked(m, &pa);
}
