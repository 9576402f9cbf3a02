/* Routing rules: compiled once per config, matched per session when its target is known. */
#include "router.h"

#include "ip_literal.h"
#include "log.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum dom_kind { DOM_SUB, DOM_FULL, DOM_SUFFIX, DOM_REGEX };

typedef struct dom_match {
    int kind;
    char *text;
    regex_t re; /* DOM_REGEX */
} dom_match;

typedef struct cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;
} cidr;

typedef struct port_range {
    uint16_t lo, hi;
} port_range;

typedef struct rule {
    char **tags; /* inboundTag, empty: any */
    size_t n_tags;
    dom_match *doms;
    size_t n_doms;
    int has_dom; /* a domain condition was given (even if nothing in it could be used) */
    cidr *ips;
    size_t n_ips;
    int has_ip;
    port_range *ports;
    size_t n_ports;
    int networks; /* bit 1 tcp, bit 2 udp; 0: any */
    size_t outbound;
    size_t index; /* in routing.rules, for the logs */
    int to_blackhole; /* its outbound's protocol is blackhole */
} rule;

struct evp_router {
    atomic_int refs; /* shared by every worker's listeners and sessions */
    rule *rules;
    size_t n_rules;
    evp_instance **outs;
    size_t n_outs;
    evp_instance *carrier; /* the far side of multiplexed sessions */
    evp_module *demux;     /* the multiplexer a target names, or NULL */
};

/* The private and reserved ranges V2Ray's geoip.dat lists as "private". */
static const char *const private_ranges[] = {
    "0.0.0.0/8",  "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3", "::/127",
    "fc00::/7",   "fe80::/10",      "ff00::/8",
};

static int parse_cidr(const char *text, cidr *c)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        c->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        c->prefix = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || p < 0 || p > c->prefix)
            return -1;
        c->prefix = (int)p;
    }
    /* Targets in ::ffff:0:0/96 are matched as IPv4, so such a range is kept as IPv4 too. */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->family == AF_INET6 && c->prefix >= 96 && memcmp(c->addr, mapped, 12) == 0) {
        memmove(c->addr, c->addr + 12, 4);
        memset(c->addr + 4, 0, 12);
        c->family = AF_INET;
        c->prefix -= 96;
    }
    return 0;
}

static int cidr_has(const cidr *c, const evp_addr *a)
{
    if ((c->family == AF_INET) != (a->type == EVP_ADDR_IPV4))
        return 0;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a->bytes, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a->bytes[full] & mask);
}

static int dom_has(const dom_match *d, const char *name)
{
    size_t n = strlen(name), t = strlen(d->text);
    switch (d->kind) {
    case DOM_FULL:
        return strcasecmp(name, d->text) == 0;
    case DOM_SUFFIX:
        return n >= t && strcasecmp(name + n - t, d->text) == 0 &&
               (n == t || name[n - t - 1] == '.');
    case DOM_REGEX:
        return regexec(&d->re, name, 0, NULL, 0) == 0;
    default:
        return strcasestr(name, d->text) != NULL;
    }
}

/* Adds "a", "a-b" or "a,b-c" to r's ports; -1 when malformed. */
static int parse_ports(rule *r, json_t *v)
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
        port_range *p = realloc(r->ports, (r->n_ports + 1) * sizeof *p);
        if (p == NULL)
            return -1;
        r->ports = p;
        r->ports[r->n_ports++] = (port_range){(uint16_t)lo, (uint16_t)hi};
    }
    return 0;
}

static void add_cidr(rule *r, const cidr *c)
{
    cidr *p = realloc(r->ips, (r->n_ips + 1) * sizeof *p);
    if (p) {
        r->ips = p;
        r->ips[r->n_ips++] = *c;
    }
}

/* A list condition may be a single string in V2Ray's JSON: hand back an array either way. */
static json_t *as_list(json_t *v)
{
    return json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
}

static int parse_ips(rule *r, json_t *list, size_t ri, evp_errlist *errs)
{
    size_t i;
    json_t *v;
    r->has_ip = 1;
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        cidr c;
        if (s == NULL) {
            evp_errlist_add(errs, "routing.rules[%zu].ip[%zu]: not a string", ri, i);
            return -1;
        }
        if (strcasecmp(s, "geoip:private") == 0) {
            for (size_t k = 0; k < sizeof private_ranges / sizeof private_ranges[0]; k++)
                if (parse_cidr(private_ranges[k], &c) == 0)
                    add_cidr(r, &c);
        } else if (strncmp(s, "geoip:", 6) == 0 || strncmp(s, "ext:", 4) == 0) {
            evp_warn("routing.rules[%zu].ip[%zu]: \"%s\" needs geoip data; entry ignored", ri,
                     i, s);
        } else if (parse_cidr(s, &c) == 0) {
            add_cidr(r, &c);
        } else {
            evp_errlist_add(errs, "routing.rules[%zu].ip[%zu]: \"%s\" is not an IP or CIDR",
                            ri, i, s);
            return -1;
        }
    }
    return 0;
}

static int parse_domains(rule *r, json_t *list, size_t ri, evp_errlist *errs)
{
    size_t i;
    json_t *v;
    r->has_dom = 1;
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        if (s == NULL) {
            evp_errlist_add(errs, "routing.rules[%zu].domain[%zu]: not a string", ri, i);
            return -1;
        }
        dom_match d = {.kind = DOM_SUB};
        const char *text = s;
        if (strncmp(s, "full:", 5) == 0) {
            d.kind = DOM_FULL;
            text = s + 5;
        } else if (strncmp(s, "domain:", 7) == 0) {
            d.kind = DOM_SUFFIX;
            text = s + 7;
        } else if (strncmp(s, "regexp:", 7) == 0) {
            d.kind = DOM_REGEX;
            text = s + 7;
            if (regcomp(&d.re, text, REG_EXTENDED | REG_NOSUB | REG_ICASE) != 0) {
                evp_errlist_add(errs, "routing.rules[%zu].domain[%zu]: bad regexp \"%s\"", ri,
                                i, text);
                return -1;
            }
        } else if (strncmp(s, "geosite:", 8) == 0 || strncmp(s, "ext:", 4) == 0) {
            evp_warn("routing.rules[%zu].domain[%zu]: \"%s\" needs geosite data; entry "
                     "ignored", ri, i, s);
            continue;
        }
        d.text = strdup(text);
        dom_match *p = realloc(r->doms, (r->n_doms + 1) * sizeof *p);
        if (p == NULL || d.text == NULL) {
            free(d.text);
            if (d.kind == DOM_REGEX)
                regfree(&d.re);
            if (p)
                r->doms = p;
            return -1;
        }
        r->doms = p;
        r->doms[r->n_doms++] = d;
    }
    return 0;
}

static void rule_free(rule *r)
{
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    for (size_t i = 0; i < r->n_doms; i++) {
        if (r->doms[i].kind == DOM_REGEX)
            regfree(&r->doms[i].re);
        free(r->doms[i].text);
    }
    free(r->doms);
    free(r->ips);
    free(r->ports);
}

/* Fills r from one rule object; 1 to use it, 0 to skip it, -1 on an error. */
static int parse_rule(rule *r, json_t *root, json_t *o, size_t ri, const char *const *out_tags,
                      size_t n_outs, evp_errlist *errs)
{
    const char *to = json_string_value(json_object_get(o, "outboundTag"));
    if (to == NULL) {
        evp_warn("routing.rules[%zu]: no outboundTag (balancers are not supported); rule "
                 "ignored", ri);
        return 0;
    }
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
    const char *key;
    json_t *v;
    int use = 1;
    json_object_foreach(o, key, v) {
        json_t *list = NULL;
        int rc = 0;
        if (strcmp(key, "type") == 0 || strcmp(key, "outboundTag") == 0) {
            continue;
        } else if (strcmp(key, "inboundTag") == 0) {
            list = as_list(v);
            size_t i;
            json_t *t;
            json_array_foreach(list, i, t) {
                char **tags = realloc(r->tags, (r->n_tags + 1) * sizeof *tags);
                if (tags == NULL || !json_is_string(t)) {
                    if (tags)
                        r->tags = tags;
                    rc = -1;
                    break;
                }
                r->tags = tags;
                r->tags[r->n_tags++] = strdup(json_string_value(t));
            }
        } else if (strcmp(key, "ip") == 0) {
            list = as_list(v);
            rc = parse_ips(r, list, ri, errs);
        } else if (strcmp(key, "domain") == 0 || strcmp(key, "domains") == 0) {
            list = as_list(v);
            rc = parse_domains(r, list, ri, errs);
        } else if (strcmp(key, "port") == 0) {
            if (parse_ports(r, v) != 0) {
                evp_errlist_add(errs, "routing.rules[%zu].port: not a port, range or list", ri);
                rc = -1;
            }
        } else if (strcmp(key, "network") == 0) {
            const char *n = json_string_value(v);
            r->networks = (n && strstr(n, "tcp") ? 1 : 0) | (n && strstr(n, "udp") ? 2 : 0);
            if (r->networks == 0) {
                evp_errlist_add(errs, "routing.rules[%zu].network: \"tcp\", \"udp\" or "
                                      "\"tcp,udp\"", ri);
                rc = -1;
            }
        } else {
            evp_warn("routing.rules[%zu].%s: not supported; rule ignored", ri, key);
            use = 0;
        }
        json_decref(list);
        if (rc != 0)
            return -1;
    }
    if ((r->has_ip && r->n_ips == 0) || (r->has_dom && r->n_doms == 0)) {
        evp_warn("routing.rules[%zu]: nothing in it can be matched here; rule ignored", ri);
        use = 0;
    }
    return use;
}

evp_router *evp_router_new(json_t *root, const char *const *out_tags, size_t n_outs,
                           evp_errlist *errs)
{
    evp_router *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    json_t *rules = json_object_get(json_object_get(root, "routing"), "rules");
    size_t n = json_array_size(rules);
    r->rules = calloc(n ? n : 1, sizeof *r->rules);
    if (r->rules == NULL) {
        free(r);
        return NULL;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        rule *ru = &r->rules[r->n_rules];
        int use = parse_rule(ru, root, json_array_get(rules, i), i, out_tags, n_outs, errs);
        if (use == 1) {
            r->n_rules++;
        } else {
            rule_free(ru);
            memset(ru, 0, sizeof *ru);
            failed |= use < 0;
        }
    }
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
    evp_instance_unref(r->carrier);
    evp_module_unref(r->demux);
    for (size_t i = 0; i < r->n_outs; i++)
        evp_instance_unref(r->outs[i]);
    free(r->outs);
    free(r);
}

static int rule_matches(const rule *ru, const char *tag, const evp_addr *t, int network)
{
    if (ru->n_tags) {
        size_t i;
        for (i = 0; i < ru->n_tags && strcmp(ru->tags[i], tag) != 0; i++)
            ;
        if (i == ru->n_tags)
            return 0;
    }
    if (ru->networks && !(ru->networks & (network == EVP_NET_UDP ? 2 : 1)))
        return 0;
    if (ru->n_ports) {
        size_t i;
        for (i = 0; i < ru->n_ports && (t->port < ru->ports[i].lo || t->port > ru->ports[i].hi);
             i++)
            ;
        if (i == ru->n_ports)
            return 0;
    }
    if (ru->has_dom) {
        /* Domain conditions see only domain targets (domainStrategy AsIs). */
        if (t->type != EVP_ADDR_DOMAIN)
            return 0;
        char name[256];
        memcpy(name, t->bytes, t->len);
        name[t->len] = '\0';
        size_t i;
        for (i = 0; i < ru->n_doms && !dom_has(&ru->doms[i], name); i++)
            ;
        if (i == ru->n_doms)
            return 0;
    }
    if (ru->has_ip) {
        size_t i;
        for (i = 0; i < ru->n_ips && !cidr_has(&ru->ips[i], t); i++)
            ;
        if (i == ru->n_ips)
            return 0;
    }
    return 1;
}

/* The first rule that routes target, or NULL. An IP literal sent as a domain, and an
 * IPv4-mapped IPv6 address, are matched as the address they are (domain rules no longer
 * see them), so no spelling of an address slips past the ip rules. */
static const rule *first_match(const evp_router *r, const char *inbound_tag,
                               const evp_addr *target, int network)
{
    evp_addr t;
    evp_addr_canonical(target, &t);
    for (size_t i = 0; i < r->n_rules; i++)
        if (rule_matches(&r->rules[i], inbound_tag, &t, network))
            return &r->rules[i];
    return NULL;
}

size_t evp_router_pick(const evp_router *r, const char *inbound_tag, const evp_addr *target,
                       int network)
{
    const rule *ru = first_match(r, inbound_tag, target, network);
    return ru ? ru->outbound : 0;
}

int evp_router_ip_blocked(const evp_router *r, const char *inbound_tag, const evp_addr *addr,
                          int network, size_t *rule_index, size_t *outbound)
{
    const rule *ru = first_match(r, inbound_tag, addr, network);
    if (ru == NULL || !ru->has_ip || !ru->to_blackhole)
        return 0;
    *rule_index = ru->index;
    *outbound = ru->outbound;
    return 1;
}

evp_instance *evp_router_outbound(const evp_router *r, size_t i)
{
    return i < r->n_outs ? r->outs[i] : NULL;
}
