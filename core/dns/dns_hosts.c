/* dns.hosts (see dns_hosts.h). Entries are tried in V2Ray's order, its keys sorted; every one
 * whose matcher takes the name gives its address, as V2Ray gathers them (hosts.go), so the
 * first is the first key's. */
#include "dns_hosts.h"

#include "domain_set.h"
#include "geo_assets.h"
#include "ip_literal.h"
#include "route_conds.h"

#include <stdatomic.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_MAX 5 /* names V2Ray's lookup follows at most (its maxDepth) */

typedef struct host_entry {
    evp_domain_set *match;
    evp_addr ip;     /* type NONE: the value is a name */
    char name[256];  /* the value when it is a name */
} host_entry;

struct evp_dns_hosts {
    atomic_uint refs;
    size_t n;
    host_entry entry[];
};

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One key's matcher: a bare name is a full match (routing would read it as a substring). */
static evp_domain_set *key_matcher(const char *key, evp_geo_assets *geo, evp_errlist *errs)
{
    static const char *const prefixes[] = {"domain:", "full:", "keyword:", "regexp:",
                                           "dotless:", "geosite:", "ext:", "ext-domain:"};
    char text[600], where[300];
    int prefixed = 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        prefixed |= strncmp(key, prefixes[i], strlen(prefixes[i])) == 0;
    snprintf(text, sizeof text, "%s%s", prefixed ? "" : "full:", key);
    snprintf(where, sizeof where, "dns.hosts[\"%.250s\"]", key);
    evp_domain_set *set = evp_domain_set_new();
    json_t *list = json_pack("[s]", text);
    if (set == NULL || list == NULL || evp_route_domains(list, geo, set, where, errs) != 0) {
        if (set == NULL || list == NULL)
            evp_errlist_add(errs, "%s: out of memory", where);
        evp_domain_set_free(set);
        set = NULL;
    }
    json_decref(list);
    return set;
}

static int entry_value(host_entry *e, const char *key, const char *value, evp_errlist *errs)
{
    size_t len = value ? strlen(value) : 0;
    if (len == 0 || len > 255) {
        evp_errlist_add(errs, "dns.hosts[\"%.250s\"]: the address must be an IP or a name of 1 "
                              "to 255 bytes", key);
        return -1;
    }
    if (!evp_ip_literal(value, len, &e->ip))
        memcpy(e->name, value, len + 1); /* a name: looked up in its turn */
    e->ip.port = 0;
    return 0;
}

int evp_dns_hosts_parse(json_t *hosts, evp_dns_hosts **out, evp_errlist *errs)
{
    *out = NULL;
    size_t n = json_object_size(hosts), k = 0;
    if (n == 0)
        return 0;
    const char **keys = calloc(n, sizeof *keys);
    evp_dns_hosts *h = calloc(1, sizeof *h + n * sizeof h->entry[0]);
    evp_geo_assets *geo = evp_geo_assets_new();
    const char *key;
    json_t *v;
    if (keys == NULL || h == NULL || geo == NULL) {
        evp_errlist_add(errs, "dns.hosts: out of memory");
        free(keys);
        free(h);
        evp_geo_assets_free(geo);
        return -1;
    }
    json_object_foreach (hosts, key, v)
        keys[k++] = key;
    qsort(keys, n, sizeof *keys, by_key);
    atomic_init(&h->refs, 1);
    int failed = 0;
    for (k = 0; k < n; k++) {
        host_entry *e = &h->entry[h->n];
        const char *value = json_string_value(json_object_get(hosts, keys[k]));
        if (entry_value(e, keys[k], value, errs) != 0 ||
            (e->match = key_matcher(keys[k], geo, errs)) == NULL) {
            failed = 1;
            continue;
        }
        h->n++;
    }
    free(keys);
    evp_geo_assets_free(geo);
    if (failed) {
        evp_dns_hosts_unref(h);
        return -1;
    }
    *out = h;
    return 0;
}

evp_dns_hosts *evp_dns_hosts_ref(evp_dns_hosts *h)
{
    if (h)
        atomic_fetch_add(&h->refs, 1);
    return h;
}

void evp_dns_hosts_unref(evp_dns_hosts *h)
{
    if (h == NULL || atomic_fetch_sub(&h->refs, 1) != 1)
        return;
    for (size_t i = 0; i < h->n; i++)
        evp_domain_set_free(h->entry[i].match);
    free(h);
}

/* Appends ip to ips[0..*n) when it is of family and there is room. */
static void add_ip(const evp_addr *ip, int family, evp_addr *ips, size_t cap, size_t *n)
{
    int ip_family = ip->type == EVP_ADDR_IPV6 ? AF_INET6 : AF_INET;
    if (*n < cap && (family == AF_UNSPEC || family == ip_family))
        ips[(*n)++] = *ip;
}

/* Every address the entries matching name give, of family; names among them are dropped, as
 * V2Ray's filter drops them. */
static void gather(const evp_dns_hosts *h, const char *name, int family, evp_addr *ips,
                   size_t cap, size_t *n)
{
    static const evp_addr localhost6 = {.type = EVP_ADDR_IPV6, .len = 16, .bytes[15] = 1};
    size_t len = strlen(name);
    for (size_t i = 0; i < h->n; i++) {
        const evp_addr *ip = &h->entry[i].ip;
        if (ip->type == EVP_ADDR_NONE || !evp_domain_set_has(h->entry[i].match, name, len))
            continue;
        add_ip(ip, family, ips, cap, n);
        /* hosts.go's "special handling for localhost IPv6" */
        if (ip->type == EVP_ADDR_IPV4 && memcmp(ip->bytes, "\x7f\0\0\x01", 4) == 0)
            add_ip(&localhost6, family, ips, cap, n);
    }
}

/* How many entries match name; *last is the last of them. */
static size_t matches(const evp_dns_hosts *h, const char *name, const host_entry **last)
{
    size_t len = strlen(name), count = 0;
    for (size_t i = 0; i < h->n; i++)
        if (evp_domain_set_has(h->entry[i].match, name, len)) {
            *last = &h->entry[i];
            count++;
        }
    return count;
}

int evp_dns_hosts_lookup(const evp_dns_hosts *h, const char *name, int family, evp_addr *ips,
                         size_t cap, size_t *n, char *alias)
{
    *n = 0;
    if (h == NULL)
        return 0;
    for (int depth = 0;; depth++) {
        const host_entry *e = NULL;
        size_t count = matches(h, name, &e);
        if (count == 0 && depth == 0)
            return 0;
        if (count == 0 || (count == 1 && e->ip.type == EVP_ADDR_NONE && depth == FOLLOW_MAX)) {
            snprintf(alias, 256, "%s", count == 0 ? name : e->name);
            return 2;
        }
        if (count > 1 || e->ip.type != EVP_ADDR_NONE) {
            gather(h, name, family, ips, cap, n);
            return 1;
        }
        name = e->name; /* a lone name: look it up in the hosts in its turn */
    }
}
