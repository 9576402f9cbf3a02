/* Config loading: jansson parse, schema validation, then the checks schemas cannot say. */
#include "config.h"

#include "access_log.h"
#include "api_stats_conf.h"
#include "dns_hosts.h"
#include "dns_servers.h"
#include "errlist.h"
#include "ip_literal.h"
#include "json_comments.h"
#include "jsonschema.h"
#include "legacy_forms.h"
#include "listen_addr.h"
#include "log.h"
#include "policy_conf.h"
#include "proxy_chain.h"
#include "router.h"
#include "sniff_conf.h"
#include "stream_settings.h"
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SCHEMA_ERRORS 20

void evp_config_validate(const char *schema_dir, const char *name, json_t *instance,
                     const char *prefix, evp_errlist *errs)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s.schema.json", schema_dir, name);
    evp_schema *s = evp_schema_load(path, err, sizeof err);
    if (s == NULL) {
        evp_errlist_add(errs, "%s: cannot load schema: %s", prefix[0] ? prefix : "(root)", err);
        return;
    }
    char *lines = NULL;
    int n = evp_schema_validate(s, instance, prefix, MAX_SCHEMA_ERRORS, &lines);
    if (n > 0)
        evp_errlist_add_lines(errs, lines, n);
    free(lines);
    evp_schema_free(s);
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

static long port_number(const char *s, char **end)
{
    long p = strtol(s, end, 10);
    return *end == s || p < 1 || p > 65535 ? -1 : p;
}

/* V2Ray accepts a port as a number, a numeric string, a range "from-to" or "env:NAME".
 * Sets *first and *last; -1 when invalid. */
static int parse_port(json_t *v, uint16_t *first, uint16_t *last)
{
    long a = -1, b = -1;
    if (json_is_integer(v)) {
        a = b = (long)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strncmp(s, "env:", 4) == 0)
            s = getenv(s + 4) ? getenv(s + 4) : "";
        char *end;
        a = b = port_number(s, &end);
        if (a > 0 && *end == '-')
            b = port_number(end + 1, &end);
        if (*end != '\0')
            a = -1;
    }
    if (a < 1 || a > 65535 || b < a || b > 65535)
        return -1;
    *first = (uint16_t)a;
    *last = (uint16_t)b;
    return 0;
}

/* Reads a clients file: a JSON array of users or an object holding them under "clients" (the
 * file format's key, whatever the protocol). The users stay opaque: the plugin reads them. */
static json_t *load_clients_file(const char *file, const char *where, evp_errlist *errs)
{
    json_error_t je;
    struct stat st;
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
        evp_errlist_add(errs, "%s: %s: not a regular file", where, file);
        return NULL;
    }
    json_t *doc = json_load_file(file, 0, &je);
    if (doc == NULL) {
        evp_errlist_add(errs, "%s: %s:%d:%d: %s", where, file, je.line, je.column, je.text);
        return NULL;
    }
    json_t *clients = json_is_array(doc) ? doc : json_object_get(doc, "clients");
    if (!json_is_array(clients)) {
        evp_errlist_add(errs, "%s: %s: expected an array of clients or {\"clients\": [...]}",
                        where, file);
        json_decref(doc);
        return NULL;
    }
    json_incref(clients);
    json_decref(doc);
    return clients;
}

static void network_flags(json_t *settings, const char *protocol, int *tcp, int *udp)
{
    const char *net = str_or(settings, "network", NULL);
    *tcp = net == NULL || strstr(net, "tcp") != NULL;
    *udp = net != NULL && strstr(net, "udp") != NULL;
    if (strcmp(protocol, "socks") == 0 && json_is_true(json_object_get(settings, "udp")))
        *udp = 1;
}

/* settings object of a bound, made {} when absent so that protocols see an object. */
static json_t *settings_of(json_t *bound)
{
    json_t *s = json_object_get(bound, "settings");
    if (s == NULL || json_is_null(s)) {
        s = json_object();
        json_object_set_new(bound, "settings", s);
    }
    return s;
}

static unsigned count_or(json_t *obj, const char *key, unsigned dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (unsigned)json_integer_value(v) : dflt;
}

/* The evproxy "limits" block; the schema has checked types and ranges. */
static void load_limits(evp_config *c)
{
    json_t *l = json_object_get(c->root, "limits");
    evp_limits d = evp_limits_default();
    c->limits.max_sessions = count_or(l, "maxSessions", d.max_sessions);
    c->limits.max_handshakes = count_or(l, "maxHandshakes", d.max_handshakes);
    c->limits.max_udp_assocs = count_or(l, "maxUdpAssociations", d.max_udp_assocs);
    c->limits.udp_idle = evp_conf_seconds_or(l, "udpIdle", d.udp_idle);
    c->limits.dns_max_inflight = count_or(l, "dnsMaxInflight", d.dns_max_inflight);
    c->limits.dns_cache = evp_conf_seconds_or(l, "dnsCacheSeconds", d.dns_cache);
    c->limits.dns_negative_cache =
        evp_conf_seconds_or(l, "dnsNegativeCacheSeconds", d.dns_negative_cache);
}

/* metrics.listen must parse before anything starts; Xray's {"tag": ...} form (metrics served
 * through an inbound of that tag) is accepted, and said to serve nothing. */
static void load_metrics(evp_config *c, evp_errlist *errs)
{
    json_t *m = json_object_get(c->root, "metrics");
    c->metrics_listen = str_or(m, "listen", NULL);
    const char *tag = str_or(m, "tag", NULL);
    if (c->metrics_listen == NULL && tag)
        evp_warn("metrics.tag: Xray's form (metrics through the inbound \"%s\") is not "
                 "supported; set metrics.listen to serve /metrics", tag);
    struct sockaddr_storage ss;
    socklen_t len;
    char err[160];
    if (c->metrics_listen &&
        evp_listen_addr_parse(c->metrics_listen, &ss, &len, err, sizeof err) != 0)
        evp_errlist_add(errs, "metrics.listen: %s", err);
}

/* dns.servers (dns_servers.h) and dns.hosts (dns_hosts.h). */
static void load_dns(evp_config *c, evp_errlist *errs)
{
    json_t *servers = json_object_get(json_object_get(c->root, "dns"), "servers");
    evp_dns_servers_parse(servers, &c->dns_servers, errs);
    evp_dns_hosts_parse(json_object_get(json_object_get(c->root, "dns"), "hosts"), &c->dns_hosts,
                        errs);
}

static void load_inbound(evp_config *c, size_t i, json_t *in, const char *schema_dir,
                         evp_registry *reg, evp_errlist *errs)
{
    evp_inbound_conf *ic = &c->inbounds[i];
    char where[64], err[512];
    ic->tag = str_or(in, "tag", "");
    ic->listen = str_or(in, "listen", "0.0.0.0");
    ic->protocol = str_or(in, "protocol", "");
    ic->clients_file = str_or(in, "clientsFile", NULL);
    if (parse_port(json_object_get(in, "port"), &ic->port, &ic->port_last) != 0) {
        snprintf(where, sizeof where, "inbounds[%zu].port", i);
        evp_errlist_add(errs, "%s: must be a port 1..65535, a range \"from-to\" or \"env:NAME\" "
                        "naming one", where);
    } else {
        snprintf(where, sizeof where, "inbounds[%zu].allocate", i);
        evp_allocate_parse(json_object_get(in, "allocate"), ic->port, ic->port_last, where,
                           &ic->alloc, errs);
    }
    snprintf(where, sizeof where, "inbounds[%zu]", i);
    evp_stream_conf_load(&ic->stream, in, 1, where, schema_dir, reg, errs);
    if (evp_sniff_conf(in, where, &ic->sniff, err, sizeof err) != 0)
        evp_errlist_add(errs, "%s", err);
    json_t *settings = settings_of(in);
    json_t *users = NULL;
    if (ic->clients_file) {
        snprintf(where, sizeof where, "inbounds[%zu].clientsFile", i);
        users = load_clients_file(ic->clients_file, where, errs);
    }
    snprintf(where, sizeof where, "inbounds[%zu].protocol", i);
    ic->mod = evp_registry_get(reg, ic->protocol, err, sizeof err);
    if (ic->mod == NULL || ic->mod->desc->inbound == NULL) {
        if (ic->mod == NULL)
            evp_errlist_add(errs, "%s: %s", where, err);
        else
            evp_errlist_add(errs, "%s: \"%s\" has no inbound", where, ic->protocol);
        json_decref(users);
        return;
    }
    snprintf(where, sizeof where, "inbounds[%zu].clientsFile", i);
    if (users && !evp_users_supported(ic->mod))
        evp_errlist_add(errs, "%s: \"%s\" inbounds have no users", where, ic->protocol);
    else if (users && evp_users_validate(schema_dir, ic->mod, users, 1, where, errs) == 0)
        ic->users_json = json_dumps(users, JSON_COMPACT);
    json_decref(users);
    network_flags(settings, ic->protocol, &ic->want_tcp, &ic->want_udp);
    snprintf(where, sizeof where, "inbounds[%zu].settings", i);
    if (ic->mod->desc->inbound_schema)
        evp_config_validate(schema_dir, ic->mod->desc->inbound_schema, settings, where, errs);
    ic->settings_json = json_dumps(settings, JSON_COMPACT);
}

/* outbounds[i].sendThrough: an IP, as V2Ray 4.34 reads it (a name is refused there too). */
static void load_send_through(evp_outbound_conf *oc, json_t *out, size_t i, evp_errlist *errs)
{
    const char *ip = json_string_value(json_object_get(out, "sendThrough"));
    evp_addr *a = &oc->send_through;
    memset(a, 0, sizeof *a);
    if (ip == NULL || strcmp(ip, "0.0.0.0") == 0)
        return;
    if (!evp_ip_literal(ip, strlen(ip), a))
        evp_errlist_add(errs, "outbounds[%zu].sendThrough: \"%s\" is not an IP address", i,
                        ip);
}

static void load_outbound(evp_config *c, size_t i, json_t *out, const char *schema_dir,
                          evp_registry *reg, evp_errlist *errs)
{
    evp_outbound_conf *oc = &c->outbounds[i];
    char where[64], err[512];
    oc->tag = str_or(out, "tag", "");
    oc->protocol = str_or(out, "protocol", "");
    snprintf(where, sizeof where, "outbounds[%zu]", i);
    evp_stream_conf_load(&oc->stream, out, 0, where, schema_dir, reg, errs);
    load_send_through(oc, out, i, errs);
    evp_proxy_settings_load(oc, out, i, errs);
    /* V2Ray 4.34's MuxConfig: concurrency 0 means 8, a negative one turns it off. */
    json_t *mux = json_object_get(out, "mux");
    json_t *conc = json_object_get(mux, "concurrency");
    json_int_t n = json_is_integer(conc) ? json_integer_value(conc) : 0;
    if (json_is_true(json_object_get(mux, "enabled")) && n >= 0)
        oc->mux_concurrency = n == 0 ? 8 : n > 1024 ? 1024 : (unsigned)n;
    json_t *settings = settings_of(out);
    snprintf(where, sizeof where, "outbounds[%zu].protocol", i);
    oc->mod = evp_registry_get(reg, oc->protocol, err, sizeof err);
    if (oc->mod == NULL) {
        int api = strcmp(oc->protocol, EVP_API_PROTOCOL) == 0;
        evp_errlist_add(errs, "%s: %s%s", where, err, api ? ", which serves `api`" : "");
        return;
    }
    if (oc->mod->desc->outbound == NULL) {
        evp_errlist_add(errs, "%s: \"%s\" has no outbound", where, oc->protocol);
        return;
    }
    snprintf(where, sizeof where, "outbounds[%zu].settings", i);
    if (oc->mod->desc->outbound_schema)
        evp_config_validate(schema_dir, oc->mod->desc->outbound_schema, settings, where, errs);
    oc->settings_json = json_dumps(settings, JSON_COMPACT);
}

/* routing.rules, compiled against the outbound tags (the first outbound is the default). */
static void load_routing(evp_config *c, evp_errlist *errs)
{
    const char **tags = calloc(c->n_outbounds, sizeof *tags);
    if (tags == NULL)
        return;
    for (size_t i = 0; i < c->n_outbounds; i++)
        tags[i] = c->outbounds[i].tag;
    c->router = evp_router_new(c->root, tags, c->n_outbounds, errs);
    free(tags);
}

/* The multiplexer: the plugin named "mux" if the plugin directory has one. Without it a
 * Mux session's target ("v1.mux.cool") is dialled like any name and fails, as it would with
 * a V2Ray that cannot multiplex. */
static void load_mux(evp_config *c, evp_registry *reg)
{
    char err[512];
    c->carrier = evp_registry_get(reg, "mux-carrier", err, sizeof err);
    c->mux = evp_registry_get(reg, "mux", err, sizeof err);
    if (c->mux && evp_module_muxops(c->mux) == NULL) {
        evp_warn("plugin \"mux\" has no multiplexer: Mux sessions will fail");
        evp_module_unref(c->mux);
        c->mux = NULL;
    } else if (c->mux == NULL) {
        evp_debug("no multiplexer: %s", err);
    }
}

evp_config *evp_config_load(const char *path, const char *text, const char *schema_dir,
                            evp_registry *reg, char **errors)
{
    evp_errlist errs = {0};
    json_error_t je;
    char *legacy_note = NULL; /* which modern entries were legacy ones, for the errors */
    evp_config *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    struct stat st;
    if (path && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        evp_errlist_add(&errs, "%s: not a regular file", path);
        goto fail;
    }
    c->root = path ? evp_json_load_commented(path, JSON_REJECT_DUPLICATES, &je)
                   : json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (c->root == NULL) {
        evp_errlist_add(&errs, "%s:%d:%d: %s", path ? path : "(embedded)", je.line, je.column,
                        je.text);
        goto fail;
    }
    if (path && (c->path = strdup(path)) == NULL)
        goto fail;
    legacy_note = evp_legacy_forms_apply(c->root, &errs);
    if (errs.count == 0)
        evp_config_validate(schema_dir, "config", c->root, "", &errs);
    if (errs.count)
        goto fail;
    evp_api_conf_apply(c->root, &errs); /* before the outbounds are read: it adds one */
    evp_stats_conf_load(c->root, &c->v2stats);

    json_t *log = json_object_get(c->root, "log");
    c->loglevel = evp_log_parse_level(str_or(log, "loglevel", "warning"));
    c->error_log = str_or(log, "error", NULL);
    c->access_log = str_or(log, "access", NULL);
    if (c->error_log && c->error_log[0] == '\0')
        c->error_log = NULL;
    if (c->access_log && c->access_log[0] == '\0')
        c->access_log = NULL;
    c->access_format = evp_access_format_parse(str_or(log, "accessFormat", "v2ray"));
    evp_policy_load(c, &errs);
    load_limits(c);
    load_dns(c, &errs);
    json_t *w = json_object_get(c->root, "workers");
    c->workers = json_is_integer(w) ? (int)json_integer_value(w) : 0;
    c->control_path = str_or(json_object_get(c->root, "control"), "path", NULL);
    c->state_file = str_or(json_object_get(c->root, "control"), "stateFile", NULL);
    load_metrics(c, &errs);

    json_t *ins = json_object_get(c->root, "inbounds");
    json_t *outs = json_object_get(c->root, "outbounds");
    c->n_inbounds = json_array_size(ins);
    c->n_outbounds = json_array_size(outs);
    if (c->n_inbounds == 0)
        evp_errlist_add(&errs, "inbounds: at least one inbound is needed");
    if (c->n_outbounds == 0)
        evp_errlist_add(&errs, "outbounds: at least one outbound is needed");
    if (errs.count)
        goto fail;
    c->inbounds = calloc(c->n_inbounds, sizeof *c->inbounds);
    c->outbounds = calloc(c->n_outbounds, sizeof *c->outbounds);
    if (c->inbounds == NULL || c->outbounds == NULL)
        goto fail;
    for (size_t i = 0; i < c->n_inbounds; i++)
        load_inbound(c, i, json_array_get(ins, i), schema_dir, reg, &errs);
    for (size_t i = 0; i < c->n_outbounds; i++)
        load_outbound(c, i, json_array_get(outs, i), schema_dir, reg, &errs);
    if (errs.count == 0)
        evp_proxy_chains_check(c, &errs);
    if (errs.count)
        goto fail;
    load_routing(c, &errs);
    if (errs.count || c->router == NULL)
        goto fail;
    load_mux(c, reg);
    free(legacy_note);
    return c;
fail:
    if (errs.count == 0)
        evp_errlist_add(&errs, "%s: out of memory", path ? path : "(embedded)");
    else if (legacy_note)
        evp_errlist_add_lines(&errs, legacy_note, 0); /* notes, not errors */
    free(legacy_note);
    *errors = evp_errlist_take(&errs);
    evp_config_free(c);
    return NULL;
}

void evp_config_free(evp_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; c->inbounds && i < c->n_inbounds; i++) {
        free(c->inbounds[i].settings_json);
        free(c->inbounds[i].users_json);
        evp_stream_conf_free(&c->inbounds[i].stream);
        evp_module_unref(c->inbounds[i].mod);
    }
    for (size_t i = 0; c->outbounds && i < c->n_outbounds; i++) {
        free(c->outbounds[i].settings_json);
        evp_stream_conf_free(&c->outbounds[i].stream);
        evp_module_unref(c->outbounds[i].mod);
    }
    free(c->inbounds);
    free(c->outbounds);
    evp_router_unref(c->router);
    evp_module_unref(c->mux);
    evp_module_unref(c->carrier);
    free(c->path);
    evp_dns_servers_unref(c->dns_servers);
    evp_dns_hosts_unref(c->dns_hosts);
    json_decref(c->root);
    free(c);
}

/* Gives i the instances of its streamSettings layers: 0, or -1 and err (i is then freed). */
static int attach_transports(evp_instance *i, const evp_stream_conf *sc, int server, char *err,
                             size_t errlen)
{
    if (i == NULL || sc->n == 0)
        return i ? 0 : -1;
    i->transports = evp_stream_conf_build(sc, server, i->tag, err, errlen);
    if (i->transports != NULL)
        return 0;
    evp_instance_unref(i);
    return -1;
}

/* A protocol instance's err names its settings, as a layer's names its streamSettings key. */
static evp_instance *named_instance(evp_instance *i, char *err, size_t errlen)
{
    if (i == NULL) {
        char cause[256];
        snprintf(cause, sizeof cause, "%s", err);
        snprintf(err, errlen, "settings: %s", cause);
    }
    return i;
}

evp_instance *evp_outbound_instance_new(const evp_outbound_conf *oc, char *err, size_t errlen)
{
    evp_instance *out = named_instance(
        evp_instance_new(oc->mod, 0, oc->tag, oc->settings_json, 0, err, errlen), err, errlen);
    if (attach_transports(out, &oc->stream, 0, err, errlen) != 0)
        return NULL;
    out->send_through = oc->send_through;
    out->proxied = oc->proxy_tag != NULL;
    out->proxy_via = oc->proxy_index;
    return out;
}

evp_instance *evp_inbound_instance_new(const evp_inbound_conf *ic, char *err, size_t errlen)
{
    evp_instance *in = named_instance(
        evp_instance_new(ic->mod, 1, ic->tag, ic->settings_json, ic->port, err, errlen), err,
        errlen);
    if (attach_transports(in, &ic->stream, 1, err, errlen) != 0)
        return NULL;
    in->sniff = ic->sniff;
    if (ic->users_json == NULL)
        return in;
    json_t *users = json_loads(ic->users_json, 0, NULL);
    int rc = users ? evp_users_replace(in, users, err, errlen) : -1;
    json_decref(users);
    if (rc != 0) {
        if (users == NULL)
            snprintf(err, errlen, "out of memory");
        named_instance(NULL, err, errlen);
        evp_instance_unref(in);
        return NULL;
    }
    return in;
}
