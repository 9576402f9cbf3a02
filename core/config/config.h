/* The V2Ray-shaped config: parsed with jansson, validated against schema/, then checked. */
#ifndef EVP_CONFIG_H
#define EVP_CONFIG_H

#include "allocate.h"
#include "global_limits.h"
#include "instance.h"
#include "module.h"
#include "registry.h"
#include "stream_settings.h"
#include "v2stats.h"

#include <jansson.h>
#include <stdint.h>

typedef struct evp_inbound_conf {
    const char *tag; /* "" when absent; points into the config's JSON */
    const char *listen; /* "0.0.0.0" when absent, as V2Ray */
    uint16_t port; /* the first port */
    uint16_t port_last; /* the last of a "from-to" range, else port */
    evp_allocate alloc; /* which ports of the range listen ("allocate") */
    const char *protocol;
    char *settings_json; /* owned */
    const char *clients_file; /* NULL when absent */
    char *users_json; /* owned: clientsFile's users (a JSON array text, opaque), or NULL */
    int want_tcp, want_udp; /* from settings.network ("tcp" default) or socks udp */
    evp_stream_conf stream; /* its transport layers (streamSettings) */
    uint8_t sniff; /* "sniffing": EVP_SNIFF_* bits (sniff.h), 0 off */
    evp_module *mod; /* owned reference */
} evp_inbound_conf;

typedef struct evp_outbound_conf {
    const char *tag;
    const char *protocol;
    char *settings_json; /* owned */
    evp_stream_conf stream; /* its transport layers (streamSettings) */
    unsigned mux_concurrency; /* "mux": sub-streams per connection; 0 off */
    evp_addr send_through; /* sendThrough: the source address of its sockets; type
                            * EVP_ADDR_NONE when absent or 0.0.0.0 (V2Ray's default) */
    const char *proxy_tag; /* proxySettings.tag: reached through that outbound, or NULL */
    size_t proxy_index;    /* proxy_tag's outbound (set by evp_proxy_chains_check) */
    uint8_t proxy_transport_layer; /* proxySettings.transportLayer: keep all stream layers */
    evp_module *mod; /* owned reference */
} evp_outbound_conf;

typedef struct evp_config {
    json_t *root;
    char *path; /* file it came from, or NULL for an embedded one */
    int loglevel;
    const char *error_log; /* log.error: a file for the log instead of stderr */
    const char *access_log; /* log.access: a file for one line per accepted connection */
    int access_format; /* log.accessFormat: an evp_access_format (access_log.h) */
    /* policy.levels["0"], V2Ray's defaults when absent; 0 for uplink/downlinkOnly means
     * "the idle limit" (half-closed sessions are not cut short unless asked) */
    double handshake, conn_idle, uplink_only, downlink_only;
    /* policy.levels "1".."15" (conn_idle 0 where absent: V2Ray's defaults); [0] unused */
    struct {
        double conn_idle, uplink_only, downlink_only;
    } levels[16];
    size_t buffer_bytes[16]; /* policy.levels.N.bufferSize in bytes, N 0..15 (policy_conf.h) */
    int workers; /* event-loop threads; 0: not set (one per core, see worker.c) */
    evp_limits limits; /* the "limits" block, defaults filled in */
    struct evp_dns_servers *dns_servers; /* dns.servers given by IP (owned reference); NULL:
                                          * the system's resolvers */
    struct evp_dns_hosts *dns_hosts; /* dns.hosts compiled (owned reference), or NULL */
    const char *control_path;
    const char *state_file; /* control.stateFile: the users' quota usage, or NULL */
    const char *metrics_listen; /* metrics.listen, checked to parse; NULL: no endpoint */
    evp_inbound_conf *inbounds;
    size_t n_inbounds;
    evp_outbound_conf *outbounds;
    size_t n_outbounds;
    struct evp_router *router; /* routing.rules compiled (owned reference) */
    evp_module *mux; /* the multiplexer (ABI 1.7) serving Mux sessions: the plugin named
                      * "mux" when there is one (owned reference), else NULL */
    evp_module *carrier; /* the built-in mux-carrier outbound (owned reference) */
    evp_v2stats_policy v2stats; /* which of V2Ray's named counters exist (`stats`, policy) */
} evp_config;

/* Parses, validates and checks the config in file path (or text when path is NULL).
 * NULL on any error, with every problem as "PATH: message" lines in *errors (malloc'd). */
evp_config *evp_config_load(const char *path, const char *text, const char *schema_dir,
                            evp_registry *reg, char **errors);
/* Frees the config and drops its module references. */
void evp_config_free(evp_config *c);
/* Validates instance against schema_dir/NAME.schema.json, adding errors under prefix. */
void evp_config_validate(const char *schema_dir, const char *name, json_t *instance,
                         const char *prefix, evp_errlist *errs);
/* Creates the instance of outbound oc with its transport layers. */
evp_instance *evp_outbound_instance_new(const evp_outbound_conf *oc, char *err, size_t errlen);
/* Creates the instance of inbound ic, with its transport layers and the users of its
 * clientsFile handed over. */
evp_instance *evp_inbound_instance_new(const evp_inbound_conf *ic, char *err, size_t errlen);

#endif
