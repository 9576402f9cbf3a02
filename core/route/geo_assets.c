/* Reading geoip.dat / geosite.dat with the protobuf-c code generated from geodata.proto. */
#include "geo_assets.h"

#include "geodata.pb-c.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than any real geoip.dat; a bound so a wrong path cannot eat the memory. */
#define MAX_ASSET_BYTES (512u << 20)

typedef struct loaded_file {
    char *path;
    int is_site;
    Evp__Geo__GeoIPList *ips;
    Evp__Geo__GeoSiteList *sites;
    struct loaded_file *next;
} loaded_file;

struct evp_geo_assets {
    loaded_file *files;
};

evp_geo_assets *evp_geo_assets_new(void)
{
    return calloc(1, sizeof(evp_geo_assets));
}

void evp_geo_assets_free(evp_geo_assets *a)
{
    if (a == NULL)
        return;
    for (loaded_file *f = a->files, *next; f; f = next) {
        next = f->next;
        if (f->ips)
            evp__geo__geo_iplist__free_unpacked(f->ips, NULL);
        if (f->sites)
            evp__geo__geo_site_list__free_unpacked(f->sites, NULL);
        free(f->path);
        free(f);
    }
    free(a);
}

/* The asset folder V2Ray 4.34 starts with: $V2RAY_LOCATION_ASSET, else the binary's. */
static void first_dir(char *out, size_t n)
{
    const char *env = getenv("V2RAY_LOCATION_ASSET");
    char exe[4096];
    ssize_t len;
    if (env && *env) {
        snprintf(out, n, "%s", env);
    } else if ((len = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
        exe[len] = '\0';
        snprintf(out, n, "%s", dirname(exe));
    } else {
        snprintf(out, n, ".");
    }
}

void evp_geo_asset_path(const char *file, char *out, size_t n)
{
    static const char *const shared[] = {"/usr/local/share/v2ray", "/usr/share/v2ray"};
    char dir[4096];
    struct stat st;
    first_dir(dir, sizeof dir);
    snprintf(out, n, "%s/%s", dir, file);
    if (stat(out, &st) == 0)
        return;
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        char alt[4200];
        snprintf(alt, sizeof alt, "%s/%s", shared[i], file);
        if (stat(alt, &st) == 0) {
            snprintf(out, n, "%s", alt);
            return;
        }
    }
}

/* The whole of path in a malloc'd buffer (*len bytes); NULL with err set when unreadable. */
static uint8_t *read_all(const char *path, size_t *len, char *err, size_t n)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > MAX_ASSET_BYTES) {
        snprintf(err, n, "failed to open file: %s (%s)", path,
                 f == NULL ? strerror(errno) : "not a regular file of at most 512 MiB");
        if (f)
            fclose(f);
        return NULL;
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    *len = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (buf == NULL || *len != (size_t)st.st_size) {
        snprintf(err, n, "failed to read file: %s", path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* file parsed as a GeoIPList (is_site 0) or a GeoSiteList, once per evp_geo_assets. */
static loaded_file *load(evp_geo_assets *a, const char *file, int is_site, char *err, size_t n)
{
    char path[4300];
    evp_geo_asset_path(file, path, sizeof path);
    for (loaded_file *f = a->files; f; f = f->next)
        if (f->is_site == is_site && strcmp(f->path, path) == 0)
            return f;
    size_t len;
    uint8_t *buf = read_all(path, &len, err, n);
    if (buf == NULL)
        return NULL;
    loaded_file *f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        free(f);
        free(buf);
        snprintf(err, n, "out of memory");
        return NULL;
    }
    f->is_site = is_site;
    if (is_site)
        f->sites = evp__geo__geo_site_list__unpack(NULL, len, buf);
    else
        f->ips = evp__geo__geo_iplist__unpack(NULL, len, buf);
    free(buf);
    if (f->sites == NULL && f->ips == NULL) {
        snprintf(err, n, "%s: not a %s file", path, is_site ? "geosite (GeoSiteList)"
                                                            : "geoip (GeoIPList)");
        free(f->path);
        free(f);
        return NULL;
    }
    f->next = a->files;
    a->files = f;
    return f;
}

static int add_cidrs(const Evp__Geo__GeoIP *g, evp_ip_set *set, char *err, size_t n)
{
    for (size_t i = 0; i < g->n_cidr; i++) {
        const Evp__Geo__CIDR *c = g->cidr[i];
        if (evp_ip_set_add(set, c->ip.data, c->ip.len, c->prefix) != 0) {
            snprintf(err, n, "%s: CIDR %zu has %zu address bytes and prefix %u",
                     g->country_code, i, c->ip.len, c->prefix);
            return -1;
        }
    }
    return 0;
}

int evp_geo_assets_ip(evp_geo_assets *a, const char *file, const char *tag, evp_ip_set *set,
                      char *err, size_t n)
{
    loaded_file *f = load(a, file, 0, err, n);
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < f->ips->n_entry; i++)
        if (strcasecmp(f->ips->entry[i]->country_code, tag) == 0)
            return add_cidrs(f->ips->entry[i], set, err, n);
    snprintf(err, n, "country not found in %s: %s", f->path, tag);
    return -1;
}

/* 1 when d carries every attribute named in attrs ("a@b", keys, any case). */
static int has_attrs(const Evp__Geo__Domain *d, const char *attrs)
{
    char want[256];
    snprintf(want, sizeof want, "%s", attrs);
    for (char *save = NULL, *k = strtok_r(want, "@", &save); k; k = strtok_r(NULL, "@", &save)) {
        size_t i;
        for (i = 0; i < d->n_attribute && strcasecmp(d->attribute[i]->key, k) != 0; i++)
            ;
        if (i == d->n_attribute)
            return 0;
    }
    return 1;
}

static int add_domains(const Evp__Geo__GeoSite *g, const char *attrs, evp_domain_set *set,
                       char *err, size_t n)
{
    for (size_t i = 0; i < g->n_domain; i++) {
        const Evp__Geo__Domain *d = g->domain[i];
        if (attrs && !has_attrs(d, attrs))
            continue;
        if (evp_domain_set_add(set, (int)d->type, d->value) != 0) {
            snprintf(err, n, "%s: domain %zu (type %d, \"%.64s\") cannot be used",
                     g->country_code, i, (int)d->type, d->value);
            return -1;
        }
    }
    return 0;
}

int evp_geo_assets_site(evp_geo_assets *a, const char *file, const char *list,
                        evp_domain_set *set, char *err, size_t n)
{
    char name[256];
    snprintf(name, sizeof name, "%s", list);
    char *at = strchr(name, '@');
    if (at)
        *at++ = '\0';
    if (name[0] == '\0') {
        snprintf(err, n, "empty listname in rule: %s", list);
        return -1;
    }
    loaded_file *f = load(a, file, 1, err, n);
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < f->sites->n_entry; i++)
        if (strcasecmp(f->sites->entry[i]->country_code, name) == 0)
            return add_domains(f->sites->entry[i], at, set, err, n);
    snprintf(err, n, "list not found in %s: %s", f->path, name);
    return -1;
}

int evp_geo_parse_all(const uint8_t *data, size_t len)
{
    char err[256];
    Evp__Geo__GeoIPList *ips = evp__geo__geo_iplist__unpack(NULL, len, data);
    Evp__Geo__GeoSiteList *sites = evp__geo__geo_site_list__unpack(NULL, len, data);
    evp_ip_set *ipset = evp_ip_set_new();
    evp_domain_set *domset = evp_domain_set_new();
    for (size_t i = 0; ips && ipset && i < ips->n_entry; i++)
        add_cidrs(ips->entry[i], ipset, err, sizeof err);
    for (size_t i = 0; sites && domset && i < sites->n_entry; i++)
        add_domains(sites->entry[i], NULL, domset, err, sizeof err);
    if (ipset) { /* lookups after the merge */
        evp_ip_set_seal(ipset);
        const evp_addr probe = {.type = EVP_ADDR_IPV4, .len = 4, .bytes = {10, 0, 0, 1}};
        evp_ip_set_has(ipset, &probe);
    }
    if (domset)
        evp_domain_set_has(domset, "www.example.com", 15);
    int rc = ips || sites ? 0 : -1;
    if (ips)
        evp__geo__geo_iplist__free_unpacked(ips, NULL);
    if (sites)
        evp__geo__geo_site_list__free_unpacked(sites, NULL);
    evp_ip_set_free(ipset);
    evp_domain_set_free(domset);
    return rc;
}
