/* dns.servers (see dns_servers.h). A server's domains and expectIPs are compiled with the
 * routing matchers (route_conds.h), so they read as a rule's domain and ip lists do. */
#include "dns_servers.h"

#include "geo_assets.h"
#include "ip_literal.h"
#include "log.h"
#include "route_conds.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct dns_server {
    char csv[64];            /* "ip:port" or "[ip6]:port" */
    evp_domain_set *domains; /* NULL: none */
    evp_ip_set *expect;      /* NULL: any answer */
} dns_server;

struct evp_dns_servers {
    atomic_uint refs;
    char *text; /* dns.servers as read (compact JSON), to tell a reload that changed it */
    char *all;  /* every server, comma-separated: the one channel when none is split */
    int split;  /* some server has domains or expectIPs: each is asked on its own */
    size_t n;
    dns_server server[EVP_DNS_SERVERS_MAX];
};

/* A member of obj by key in any case, as Go's encoding/json finds V2Ray's fields. */
static json_t *member(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach (obj, k, v)
        if (strcasecmp(k, key) == 0)
            return v;
    return NULL;
}

/* "ip:port" for c-ares; -1 when text is not an IP address. */
static int server_csv(const char *text, long port, char *out, size_t n)
{
    unsigned char bin[16];
    int v6 = inet_pton(AF_INET6, text, bin) == 1;
    if (!v6 && inet_pton(AF_INET, text, bin) != 1)
        return -1;
    snprintf(out, n, "%s%s%s:%ld", v6 ? "[" : "", text, v6 ? "]" : "", port);
    return 0;
}

/* Compiles entry's domains and expectIPs into sv; -1 with errors naming where. */
static int server_rules(dns_server *sv, json_t *entry, evp_geo_assets *geo, const char *where,
                        evp_errlist *errs)
{
    char path[96];
    int rc = 0;
    json_t *domains = member(entry, "domains"), *expect = member(entry, "expectIps");
    if (json_array_size(domains) > 0) {
        snprintf(path, sizeof path, "%s.domains", where);
        sv->domains = evp_domain_set_new();
        if (sv->domains == NULL || evp_route_domains(domains, geo, sv->domains, path, errs))
            rc = -1;
    }
    if (json_array_size(expect) > 0) {
        snprintf(path, sizeof path, "%s.expectIPs", where);
        sv->expect = evp_ip_set_new();
        if (sv->expect == NULL || evp_route_ips(expect, geo, sv->expect, path, errs))
            rc = -1;
    }
    return rc;
}

/* Reads entry i into s->server[s->n]: 1 when added, 0 when skipped, -1 on an error. */
static int read_server(evp_dns_servers *s, size_t i, json_t *entry, evp_geo_assets *geo,
                       evp_errlist *errs)
{
    json_t *addr = json_is_object(entry) ? member(entry, "address") : entry;
    json_t *port = json_is_object(entry) ? member(entry, "port") : NULL;
    const char *text = json_string_value(addr);
    long p = json_integer_value(port) > 0 ? (long)json_integer_value(port) : 53;
    char where[48];
    snprintf(where, sizeof where, "dns.servers[%zu]", i);
    if (text && strcmp(text, "localhost") == 0)
        return 0; /* the system's resolvers, as when no server is given */
    char csv[sizeof s->server[0].csv];
    if (text == NULL || server_csv(text, p, csv, sizeof csv) != 0) {
        evp_warn("%s: \"%s\" is not an IP address; skipped (evproxy asks plain DNS servers "
                 "by IP)", where, text ? text : "?");
        return 0;
    }
    if (s->n == EVP_DNS_SERVERS_MAX) {
        evp_errlist_add(errs, "%s: more than %d servers", where, EVP_DNS_SERVERS_MAX);
        return -1;
    }
    dns_server *sv = &s->server[s->n++]; /* counted now: freed with s if its rules fail */
    memcpy(sv->csv, csv, sizeof csv);
    if (json_is_object(entry) && server_rules(sv, entry, geo, where, errs) != 0)
        return -1;
    s->split |= sv->domains != NULL || sv->expect != NULL;
    return 1;
}

/* Joins every server's csv into s->all; -1 when out of memory. */
static int join_all(evp_dns_servers *s, evp_errlist *errs)
{
    s->all = calloc(s->n, sizeof s->server[0].csv + 1);
    if (s->all == NULL) {
        evp_errlist_add(errs, "dns.servers: out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            strcat(s->all, ",");
        strcat(s->all, s->server[i].csv);
    }
    return 0;
}

int evp_dns_servers_parse(json_t *servers, evp_dns_servers **out, evp_errlist *errs)
{
    *out = NULL;
    if (json_array_size(servers) == 0)
        return 0;
    evp_dns_servers *s = calloc(1, sizeof *s);
    evp_geo_assets *geo = evp_geo_assets_new();
    if (s == NULL || geo == NULL || (s->text = json_dumps(servers, JSON_COMPACT)) == NULL) {
        evp_errlist_add(errs, "dns.servers: out of memory");
        evp_geo_assets_free(geo);
        free(s);
        return -1;
    }
    atomic_init(&s->refs, 1);
    int failed = 0;
    size_t i;
    json_t *entry;
    json_array_foreach (servers, i, entry)
        failed |= read_server(s, i, entry, geo, errs) < 0;
    evp_geo_assets_free(geo);
    if (failed || s->n == 0 || join_all(s, errs) != 0) {
        evp_dns_servers_unref(s);
        return failed ? -1 : 0;
    }
    *out = s;
    return 0;
}

evp_dns_servers *evp_dns_servers_ref(evp_dns_servers *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void evp_dns_servers_unref(evp_dns_servers *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++) {
        evp_domain_set_free(s->server[i].domains);
        evp_ip_set_free(s->server[i].expect);
    }
    free(s->text);
    free(s->all);
    free(s);
}

size_t evp_dns_servers_count(const evp_dns_servers *s)
{
    return s->split ? s->n : 1;
}

const char *evp_dns_servers_csv(const evp_dns_servers *s, size_t i)
{
    return s->split ? s->server[i].csv : s->all;
}

int evp_dns_servers_split(const evp_dns_servers *s)
{
    return s->split;
}

int evp_dns_servers_same(const evp_dns_servers *a, const evp_dns_servers *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a->text, b->text) == 0;
}

size_t evp_dns_servers_order(const evp_dns_servers *s, const char *name, uint8_t *order)
{
    size_t n = evp_dns_servers_count(s), len = strlen(name);
    int rank[EVP_DNS_SERVERS_MAX];
    for (size_t i = 0; i < n; i++) {
        const evp_domain_set *d = s->split ? s->server[i].domains : NULL;
        rank[i] = d ? evp_domain_set_rank(d, name, len) : 0;
        order[i] = (uint8_t)i;
    }
    /* A stable insertion sort by rank, highest first: ties keep config order. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && rank[order[j]] > rank[order[j - 1]]; j--) {
            uint8_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return n;
}

int evp_dns_servers_expects(const evp_dns_servers *s, size_t i, const struct sockaddr *sa)
{
    const evp_ip_set *expect = s && s->split ? s->server[i].expect : NULL;
    evp_addr a, canon;
    if (expect == NULL)
        return 1;
    if (evp_addr_from_sockaddr(sa, &a) != 0)
        return 0;
    evp_addr_canonical(&a, &canon); /* ::ffff:a.b.c.d is matched as IPv4, as targets are */
    return evp_ip_set_has(expect, &canon);
}
