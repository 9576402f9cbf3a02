/* The api plugin's descriptor: an outbound that dials nothing (EVP_OUT_LOCAL) and answers
 * each session routed to it as a gRPC connection, as V2Ray's commander serves `api.tag`.
 * The core adds this outbound itself from the config's `api` block. */
#include "api_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifndef API_PLUGIN_VERSION
#define API_PLUGIN_VERSION "0.1.0"
#endif

typedef struct api_inst {
    const evp_host *host;
    unsigned services; /* API_*_SERVICE */
} api_inst;

typedef struct api_sess {
    const evp_host *host;
    api_conn *conn;
} api_sess;

static int api_init(const evp_host *host)
{
    if (host->abi_minor < 9 || host->size < offsetof(evp_host, stats_visit) + sizeof(void *))
        return -1; /* a host without the counters' service */
    return 0;
}

static void *api_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                              size_t errlen)
{
    json_error_t je;
    json_t *o = json_loads(args->settings_json, 0, &je);
    api_inst *in = host->mem_calloc(host, 1, sizeof *in);
    if (in == NULL) {
        json_decref(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->host = host;
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(o, "services"), i, s)
        if (json_is_string(s) && strcasecmp(json_string_value(s), "StatsService") == 0)
            in->services |= API_STATS_SERVICE;
    if (json_is_true(json_object_get(o, "stats")))
        in->services |= API_STATS_ENABLED;
    json_decref(o);
    return in;
}

static void api_instance_free(void *ip)
{
    api_inst *in = ip;
    if (in)
        in->host->mem_free(in->host, in);
}

static void *api_session_new(void *ip, const evp_addr *target, uint8_t network, evp_addr *dial,
                             char *err, size_t errlen)
{
    api_inst *in = ip;
    if (network != EVP_NET_TCP) {
        snprintf(err, errlen, "api: serves TCP (gRPC) only");
        return NULL;
    }
    api_sess *s = in->host->mem_calloc(in->host, 1, sizeof *s);
    if (s == NULL || (s->conn = api_conn_new(in->host, in->services)) == NULL) {
        if (s)
            in->host->mem_free(in->host, s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = in->host;
    memset(dial, 0, sizeof *dial);
    dial->type = EVP_ADDR_NONE;
    return s;
}

static void api_session_free(void *sp)
{
    api_sess *s = sp;
    if (s == NULL)
        return;
    api_conn_free(s->conn);
    s->host->mem_free(s->host, s);
}

/* The client's gRPC bytes: the answers go back (EVP_OUT_LOCAL: as the server's reply). */
static int api_encode(void *sp, evp_io *io)
{
    api_sess *s = sp;
    io->consumed = io->in_len;
    return api_conn_feed(s->conn, io->in, io->in_len, io->back, io->reason, sizeof io->reason) == 0
               ? EVP_OK
               : EVP_ERR;
}

/* The reply encode wrote, to the client unchanged. */
static int api_decode(void *sp, evp_io *io)
{
    api_sess *s = sp;
    if (io->in_len > 0) {
        uint8_t *p = s->host->buf_reserve(io->out, io->in_len);
        if (p == NULL) {
            snprintf(io->reason, sizeof io->reason, "api: out of memory");
            return EVP_ERR;
        }
        memcpy(p, io->in, io->in_len);
        io->out->len += io->in_len;
    }
    io->consumed = io->in_len;
    return io->in_eof ? EVP_EOF : EVP_OK;
}

static const evp_outbound_ops api_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = api_instance_new,
    .instance_free = api_instance_free,
    .session_new = api_session_new,
    .session_free = api_session_free,
    .encode = api_encode,
    .decode = api_decode,
    .flags = EVP_OUT_LOCAL,
};

static const evp_plugin api_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "api",
    .version = API_PLUGIN_VERSION,
    .init = api_init,
    .outbound = &api_outbound,
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &api_plugin;
}
