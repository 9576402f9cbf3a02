/* Rule conditions as V2Ray 4.34's infra/conf/router.go reads them. */
#include "route_conds.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* geoip:private when no geoip.dat can be found: the private and reserved ranges V2Ray's
 * geoip.dat lists under "private" (evproxy read these before it read the file). */
static const char *const private_ranges[] = {
    "0.0.0.0/8",  "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3", "::/127",
    "fc00::/7",   "fe80::/10",      "ff00::/8",
};

#define EXT_PART 256

/* "FILE:TAG" after an ext: prefix into file and tag (EXT_PART bytes each): 0, or -1 with err
 * set unless exactly two non-empty parts (as V2Ray splits it). */
static int split_ext(const char *s, char *file, char *tag, char *err, size_t n)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0' || strchr(colon + 1, ':') ||
        colon - s >= EXT_PART || strlen(colon + 1) >= EXT_PART) {
        snprintf(err, n, "invalid external resource (ext:FILE:TAG)");
        return -1;
    }
    snprintf(file, EXT_PART, "%.*s", (int)(colon - s), s);
    snprintf(tag, EXT_PART, "%s", colon + 1);
    return 0;
}

/* The text after whichever of the prefixes s starts with, or NULL. */
static const char *after_prefix(const char *s, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (strncmp(s, a, na) == 0)
        return s + na;
    return strncmp(s, b, nb) == 0 ? s + nb : NULL;
}

static int geoip_private_builtin(evp_ip_set *set)
{
    char path[4300];
    evp_geo_asset_path("geoip.dat", path, sizeof path);
    if (access(path, R_OK) == 0)
        return 0;
    for (size_t k = 0; k < sizeof private_ranges / sizeof private_ranges[0]; k++)
        evp_ip_set_add_text(set, private_ranges[k]);
    return 1;
}

static int one_ip(const char *s, evp_geo_assets *geo, void *set, char *err, size_t n)
{
    char file[EXT_PART], tag[EXT_PART];
    const char *ext = after_prefix(s, "ext:", "ext-ip:");
    if (strncmp(s, "geoip:", 6) == 0) {
        if (s[6] == '\0') {
            snprintf(err, n, "empty country name");
            return -1;
        }
        if (strcasecmp(s + 6, "private") == 0 && geoip_private_builtin(set))
            return 0;
        return evp_geo_assets_ip(geo, "geoip.dat", s + 6, set, err, n);
    }
    if (ext)
        return split_ext(ext, file, tag, err, n) ? -1
                                                 : evp_geo_assets_ip(geo, file, tag, set, err, n);
    if (evp_ip_set_add_text(set, s) != 0) {
        snprintf(err, n, "not an IP or CIDR");
        return -1;
    }
    return 0;
}

/* Reads one entry of a list into a set (an evp_ip_set or an evp_domain_set): 0, or -1 with
 * err saying why. */
typedef int entry_fn(const char *s, evp_geo_assets *geo, void *set, char *err, size_t n);

static int each_entry(json_t *list, evp_geo_assets *geo, void *set, entry_fn *fn,
                      const char *where, evp_errlist *errs)
{
    size_t i;
    json_t *v;
    char err[512];
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        if (s == NULL) {
            evp_errlist_add(errs, "%s[%zu]: not a string", where, i);
            return -1;
        }
        snprintf(err, sizeof err, "cannot be used");
        if (fn(s, geo, set, err, sizeof err) != 0) {
            evp_errlist_add(errs, "%s[%zu]: \"%s\": %s", where, i, s, err);
            return -1;
        }
    }
    return 0;
}

int evp_route_ips(json_t *list, evp_geo_assets *geo, evp_ip_set *set, const char *where,
                  evp_errlist *errs)
{
    if (each_entry(list, geo, set, one_ip, where, errs) != 0)
        return -1;
    evp_ip_set_seal(set);
    return 0;
}

/* "dotless:" as V2Ray reads it: a regex for names without a dot, containing sub if given. */
static int dotless(const char *sub, evp_domain_set *set, char *err, size_t n)
{
    char re[300];
    if (strchr(sub, '.')) {
        snprintf(err, n, "substr in dotless rule should not contain a dot");
        return -1;
    }
    snprintf(re, sizeof re, "^[^.]*%s[^.]*$", sub);
    return evp_domain_set_add(set, EVP_DOM_REGEX, re);
}

static int one_domain(const char *s, evp_geo_assets *geo, void *set, char *err, size_t n)
{
    static const struct {
        const char *prefix;
        int kind;
    } kinds[] = {{"regexp:", EVP_DOM_REGEX}, {"domain:", EVP_DOM_SUFFIX},
                 {"full:", EVP_DOM_FULL}, {"keyword:", EVP_DOM_PLAIN}};
    char file[EXT_PART], list[EXT_PART];
    const char *ext = after_prefix(s, "ext:", "ext-domain:");
    if (strncmp(s, "geosite:", 8) == 0)
        return evp_geo_assets_site(geo, "geosite.dat", s + 8, set, err, n);
    if (ext)
        return split_ext(ext, file, list, err, n)
                   ? -1
                   : evp_geo_assets_site(geo, file, list, set, err, n);
    if (strncmp(s, "dotless:", 8) == 0)
        return dotless(s + 8, set, err, n);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t len = strlen(kinds[k].prefix);
        if (strncmp(s, kinds[k].prefix, len) != 0)
            continue;
        if (s[len] == '\0') {
            snprintf(err, n, "empty %.*s rule", (int)len - 1, kinds[k].prefix);
            return -1;
        }
        if (evp_domain_set_add(set, kinds[k].kind, s + len) != 0) {
            snprintf(err, n, "bad regexp");
            return -1;
        }
        return 0;
    }
    return evp_domain_set_add(set, EVP_DOM_PLAIN, s);
}

int evp_route_domains(json_t *list, evp_geo_assets *geo, evp_domain_set *set,
                      const char *where, evp_errlist *errs)
{
    return each_entry(list, geo, set, one_domain, where, errs);
}
