/* Routing rules: compiled once per config, matched per session when its target is known. */
#include "router.h"

#include "balancers.h"
#include "domain_set.h"
#include "ip_literal.h"
#include "ip_set.h"
#include "log.h"
#include "route_conds.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct port_range {
    uint16_t lo, hi;
} port_range;

typedef struct port_list {
    port_range *ranges;
    size_t n;
} port_list;

typedef struct rule {
    char **tags; /* inboundTag, empty: any */
    size_t n_tags;
    char **users; /* user (emails), empty: any */
    size_t n_users;
    char **protocols; /* protocol (prefixes of the sniffed protocol), empty: any */
    size_t n_protocols;
    evp_domain_set *doms; /* domain, NULL: any */
    evp_ip_set *ips;      /* ip (the target's), NULL: any */
    evp_ip_set *sources;  /* source (the client's), NULL: any */
    port_list ports, source_ports;
    int networks; /* bit 1 tcp, bit 2 udp; 0: any */
    size_t outbound;
    const evp_balancer *balancer; /* balancerTag, or NULL (outbound) */
    size_t index; /* in routing.rules, for the logs */
    int to_blackhole; /* its outbound's protocol is blackhole */
} rule;

enum domain_strategy { AS_IS, IP_IF_NON_MATCH, IP_ON_DEMAND };

struct evp_router {
    atomic_int refs; /* shared by every worker's listeners and sessions */
    rule *rules;
    size_t n_rules;
    evp_balancer *balancers;
    size_t n_balancers;
    int strategy; /* enum domain_strategy */
    evp_instance **outs;
    size_t n_outs;
    evp_instance *carrier; /* the far side of multiplexed sessions */
    evp_module *demux;     /* the multiplexer a target names, or NULL */
};

/* Adds "a", "a-b" or "a,b-c" to ports; -1 when malformed. */
static int parse_ports(port_list *pl, json_t *v)
{
    char text[256];
    if (json_is_integer(v))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(text, sizeof text, "%s", json_string_value(v));
    else
        return -1;
    for (char *save = NULL, *part = strtok_r(text, ",", &save); part;
         part = strtok_r(NULL, ",", &save)) {
        char *end;
        long lo = strtol(part, &end, 10), hi = lo;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (*end != '\0' || lo < 1 || hi > 65535 || lo > hi)
            return -1;
        port_range *p = realloc(pl->ranges, (pl->n + 1) * sizeof *p);
        if (p == NULL)
            return -1;
        pl->ranges = p;
        pl->ranges[pl->n++] = (port_range){(uint16_t)lo, (uint16_t)hi};
    }
    return 0;
}

static int ports_have(const port_list *pl, uint16_t port)
{
    for (size_t i = 0; i < pl->n; i++)
        if (port >= pl->ranges[i].lo && port <= pl->ranges[i].hi)
            return 1;
    return 0;
}

/* A list condition may be a single string in V2Ray's JSON: hand back an array either way. */
static json_t *as_list(json_t *v)
{
    return json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
}

/* Appends list's strings to *arr; -1 on a non-string or out of memory. */
static int parse_strings(json_t *list, char ***arr, size_t *n)
{
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        char **p = realloc(*arr, (*n + 1) * sizeof *p);
        if (p == NULL)
            return -1;
        *arr = p;
        if (!json_is_string(t) || (p[*n] = strdup(json_string_value(t))) == NULL)
            return -1;
        ++*n;
    }
    return 0;
}

/* V2Ray 4.34's protocol condition: the sniffed protocol ("http1", "tls", "bittorrent")
 * starts with one of the rule's names (so "http" takes "http1"); an empty name never. */
static int has_prefix_of(char *const *arr, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (arr[i][0] != '\0' && strncmp(s, arr[i], strlen(arr[i])) == 0)
            return 1;
    return 0;
}

static int has_string(char *const *arr, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(arr[i], s) == 0)
            return 1;
    return 0;
}

static void rule_free(rule *r)
{
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    for (size_t i = 0; i < r->n_users; i++)
        free(r->users[i]);
    free(r->users);
    for (size_t i = 0; i < r->n_protocols; i++)
        free(r->protocols[i]);
    free(r->protocols);
    evp_domain_set_free(r->doms);
    evp_ip_set_free(r->ips);
    evp_ip_set_free(r->sources);
    free(r->ports.ranges);
    free(r->source_ports.ranges);
}

/* Where a rule's results go: its outboundTag, else its balancerTag. 0, or -1 on an error. */
static int parse_target(rule *r, json_t *root, json_t *o, size_t ri, const evp_router *rt,
                        const char *const *out_tags, size_t n_outs, evp_errlist *errs)
{
    const char *to = json_string_value(json_object_get(o, "outboundTag"));
    const char *bal = json_string_value(json_object_get(o, "balancerTag"));
    if ((to == NULL || to[0] == '\0') && bal && bal[0]) {
        r->balancer = evp_balancer_find(rt->balancers, rt->n_balancers, bal);
        if (r->balancer == NULL) {
            evp_errlist_add(errs, "routing.rules[%zu].balancerTag: balancer %s not found", ri,
                            bal);
            return -1;
        }
        r->index = ri;
        return 0;
    }
    if (to == NULL)
        return 1;
    size_t k;
    for (k = 0; k < n_outs && strcmp(out_tags[k], to) != 0; k++)
        ;
    if (k == n_outs) {
        /* V2Ray 4.34 accepts it, and its dispatcher sends what the rule matches to the
         * default outbound ("non existing tag"): the rule still ends the search. */
        evp_warn("routing.rules[%zu].outboundTag: no outbound tagged \"%s\"; what the rule "
                 "matches goes to the default outbound [%s], as in V2Ray", ri, to, out_tags[0]);
        k = 0;
    }
    r->outbound = k;
    r->index = ri;
    json_t *out = json_array_get(json_object_get(root, "outbounds"), k);
    const char *proto = json_string_value(json_object_get(out, "protocol"));
    r->to_blackhole = proto != NULL && strcmp(proto, "blackhole") == 0;
    return 0;
}

/* One condition key of a rule; 0 done, 1 not one evproxy checks, -1 an error. */
static int parse_cond(rule *r, const char *key, json_t *v, size_t ri, evp_geo_assets *geo,
                      evp_errlist *errs)
{
    char where[64];
    json_t *list = as_list(v);
    int rc = 0;
    snprintf(where, sizeof where, "routing.rules[%zu].%s", ri, key);
    if (strcmp(key, "inboundTag") == 0) {
        rc = parse_strings(list, &r->tags, &r->n_tags);
    } else if (strcmp(key, "user") == 0) {
        rc = parse_strings(list, &r->users, &r->n_users);
    } else if (strcmp(key, "protocol") == 0) {
        rc = parse_strings(list, &r->protocols, &r->n_protocols);
    } else if (strcmp(key, "ip") == 0 || strcmp(key, "source") == 0) {
        evp_ip_set **set = key[0] == 'i' ? &r->ips : &r->sources;
        if (*set == NULL)
            *set = evp_ip_set_new();
        rc = *set ? evp_route_ips(list, geo, *set, where, errs) : -1;
    } else if (strcmp(key, "domain") == 0 || strcmp(key, "domains") == 0) {
        if (r->doms == NULL)
            r->doms = evp_domain_set_new();
        rc = r->doms ? evp_route_domains(list, geo, r->doms, where, errs) : -1;
    } else if (strcmp(key, "port") == 0 || strcmp(key, "sourcePort") == 0) {
        if (parse_ports(key[0] == 'p' ? &r->ports : &r->source_ports, v) != 0) {
            evp_errlist_add(errs, "%s: not a port, range or list", where);
            rc = -1;
        }
    } else if (strcmp(key, "network") == 0) {
        const char *n = json_string_value(v);
        r->networks = (n && strstr(n, "tcp") ? 1 : 0) | (n && strstr(n, "udp") ? 2 : 0);
        if (r->networks == 0) {
            evp_errlist_add(errs, "%s: \"tcp\", \"udp\" or \"tcp,udp\"", where);
            rc = -1;
        }
    } else {
        rc = 1;
    }
    json_decref(list);
    return rc;
}

/* Fills r from one rule object; 1 to use it, 0 to skip it, -1 on an error. */
static int parse_rule(rule *r, json_t *root, json_t *o, size_t ri, const evp_router *rt,
                      const char *const *out_tags, size_t n_outs, evp_geo_assets *geo,
                      evp_errlist *errs)
{
    int rc = parse_target(r, root, o, ri, rt, out_tags, n_outs, errs);
    if (rc == 1) {
        evp_warn("routing.rules[%zu]: neither outboundTag nor balancerTag; rule ignored", ri);
        return 0;
    }
    if (rc != 0)
        return -1;
    const char *key;
    json_t *v;
    int use = 1;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "type") == 0 || strcmp(key, "outboundTag") == 0 ||
            strcmp(key, "balancerTag") == 0)
            continue;
        rc = parse_cond(r, key, v, ri, geo, errs);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            /* attrs needs HTTP attributes: a rule that needs them never matches here,
             * rather than matching more than it says. */
            evp_warn("routing.rules[%zu].%s: not supported; rule ignored", ri, key);
            use = 0;
        }
    }
    return use;
}

static int parse_strategy(json_t *root, evp_errlist *errs)
{
    const char *s = json_string_value(json_object_get(json_object_get(root, "routing"),
                                                      "domainStrategy"));
    if (s == NULL || strcasecmp(s, "AsIs") == 0)
        return AS_IS;
    if (strcasecmp(s, "IPIfNonMatch") == 0)
        return IP_IF_NON_MATCH;
    if (strcasecmp(s, "IPOnDemand") == 0)
        return IP_ON_DEMAND;
    evp_errlist_add(errs, "routing.domainStrategy: \"%s\": AsIs, IPIfNonMatch or IPOnDemand",
                    s);
    return -1;
}

evp_router *evp_router_new(json_t *root, const char *const *out_tags, size_t n_outs,
                           evp_errlist *errs)
{
    evp_router *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    json_t *routing = json_object_get(root, "routing");
    json_t *rules = json_object_get(routing, "rules");
    size_t n = json_array_size(rules);
    r->rules = calloc(n ? n : 1, sizeof *r->rules);
    evp_geo_assets *geo = evp_geo_assets_new(); /* files read once for all the rules */
    r->strategy = parse_strategy(root, errs);
    int failed = r->rules == NULL || geo == NULL || r->strategy < 0 ||
                 evp_balancers_parse(json_object_get(routing, "balancers"), out_tags, n_outs,
                                     &r->balancers, &r->n_balancers, errs) != 0;
    for (size_t i = 0; !failed && i < n; i++) {
        rule *ru = &r->rules[r->n_rules];
        int use = parse_rule(ru, root, json_array_get(rules, i), i, r, out_tags, n_outs, geo,
                             errs);
        if (use == 1) {
            r->n_rules++;
        } else {
            rule_free(ru);
            memset(ru, 0, sizeof *ru);
            failed |= use < 0;
        }
    }
    evp_geo_assets_free(geo);
    if (failed) {
        evp_router_unref(r);
        return NULL;
    }
    return r;
}

void evp_router_set_outbounds(evp_router *r, evp_instance *const *outs, size_t n)
{
    r->outs = calloc(n, sizeof *r->outs);
    if (r->outs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        r->outs[i] = evp_instance_ref(outs[i]);
    r->n_outs = n;
}

void evp_router_set_demux(evp_router *r, evp_instance *carrier, evp_module *mux)
{
    evp_instance_unref(r->carrier);
    evp_module_unref(r->demux);
    r->carrier = carrier ? evp_instance_ref(carrier) : NULL;
    r->demux = mux ? evp_module_ref(mux) : NULL;
}

evp_instance *evp_router_carrier(const evp_router *r)
{
    return r->carrier;
}

evp_module *evp_router_demux(const evp_router *r, const evp_addr *target)
{
    if (r->demux == NULL || r->carrier == NULL || target->type != EVP_ADDR_DOMAIN)
        return NULL;
    const char *name = evp_module_muxops(r->demux)->target;
    if (name == NULL)
        return NULL;
    size_t n = strlen(name);
    return target->len == n && strncasecmp((const char *)target->bytes, name, n) == 0 ? r->demux
                                                                                       : NULL;
}

evp_router *evp_router_ref(evp_router *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void evp_router_unref(evp_router *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) > 1)
        return;
    for (size_t i = 0; i < r->n_rules; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    evp_balancers_free(r->balancers, r->n_balancers);
    evp_instance_unref(r->carrier);
    evp_module_unref(r->demux);
    for (size_t i = 0; i < r->n_outs; i++)
        evp_instance_unref(r->outs[i]);
    free(r->outs);
    free(r);
}

/* What a rule's ip condition sees: the target's address, else the address its name
 * resolved to (domainStrategy), else nothing. */
static const evp_addr *target_ip(const evp_route_query *q, const evp_addr *t)
{
    if (t->type != EVP_ADDR_DOMAIN)
        return t;
    return q->target_ip;
}

/* 1 when every condition of ru holds for q (t: q's target in canonical form); -1 when all
 * but the ip condition hold and it needs the target name's address, which q lacks. */
static int rule_matches(const rule *ru, const evp_route_query *q, const evp_addr *t,
                        int want_ip)
{
    if (ru->n_tags && !has_string(ru->tags, ru->n_tags, q->inbound_tag))
        return 0;
    if (ru->n_users && !has_string(ru->users, ru->n_users, q->user))
        return 0;
    if (ru->n_protocols && !has_prefix_of(ru->protocols, ru->n_protocols, q->protocol))
        return 0;
    if (ru->networks && !(ru->networks & (q->network == EVP_NET_UDP ? 2 : 1)))
        return 0;
    if (ru->ports.n && !ports_have(&ru->ports, t->port))
        return 0;
    if (ru->source_ports.n && (q->source == NULL || !ports_have(&ru->source_ports,
                                                                q->source->port)))
        return 0;
    if (ru->sources && (q->source == NULL || !evp_ip_set_has(ru->sources, q->source)))
        return 0;
    /* Domain conditions see only domain targets, as V2Ray's. */
    if (ru->doms && (t->type != EVP_ADDR_DOMAIN ||
                     !evp_domain_set_has(ru->doms, (const char *)t->bytes, t->len)))
        return 0;
    if (ru->ips) {
        const evp_addr *ip = target_ip(q, t);
        if (ip == NULL)
            return want_ip && !q->resolved ? -1 : 0;
        return evp_ip_set_has(ru->ips, ip);
    }
    return 1;
}

/* The first rule that routes q, or NULL; *needs_ip set when the search stopped at a rule
 * that needs the target name's address (IPOnDemand). An IP literal sent as a domain, and an
 * IPv4-mapped IPv6 address, are matched as the address they are (domain rules no longer
 * see them), so no spelling of an address slips past the ip rules. */
static const rule *first_match(const evp_router *r, const evp_route_query *q, int *needs_ip)
{
    evp_addr t, ip;
    evp_route_query cq = *q;
    evp_addr_canonical(q->target, &t);
    if (q->target_ip) {
        evp_addr_canonical(q->target_ip, &ip);
        cq.target_ip = &ip;
    }
    int on_demand = r->strategy == IP_ON_DEMAND && !q->as_is;
    *needs_ip = 0;
    for (size_t i = 0; i < r->n_rules; i++) {
        int m = rule_matches(&r->rules[i], &cq, &t, on_demand);
        if (m < 0) {
            *needs_ip = 1;
            return NULL;
        }
        if (m)
            return &r->rules[i];
    }
    /* IPIfNonMatch: no rule took the name; its address is tried against them all. */
    if (r->strategy == IP_IF_NON_MATCH && !q->as_is && t.type == EVP_ADDR_DOMAIN &&
        !q->resolved)
        *needs_ip = 1;
    return NULL;
}

static size_t outbound_of(const rule *ru)
{
    return ru->balancer ? evp_balancer_pick(ru->balancer, 0) : ru->outbound;
}

long evp_router_route(const evp_router *r, const evp_route_query *q)
{
    int needs_ip;
    const rule *ru = first_match(r, q, &needs_ip);
    if (needs_ip)
        return EVP_ROUTE_NEEDS_IP;
    return ru ? (long)outbound_of(ru) : 0;
}

size_t evp_router_pick(const evp_router *r, const char *inbound_tag, const evp_addr *target,
                       int network)
{
    const evp_route_query q = {.inbound_tag = inbound_tag, .target = target,
                               .network = network, .as_is = 1};
    return (size_t)evp_router_route(r, &q);
}

int evp_router_ip_blocked(const evp_router *r, const char *inbound_tag, const evp_addr *addr,
                          int network, size_t *rule_index, size_t *outbound)
{
    const evp_route_query q = {.inbound_tag = inbound_tag, .target = addr,
                               .network = network, .as_is = 1};
    int needs_ip;
    const rule *ru = first_match(r, &q, &needs_ip);
    if (ru == NULL || ru->ips == NULL || !ru->to_blackhole || ru->balancer)
        return 0;
    *rule_index = ru->index;
    *outbound = ru->outbound;
    return 1;
}

evp_instance *evp_router_outbound(const evp_router *r, size_t i)
{
    return i < r->n_outs ? r->outs[i] : NULL;
}
