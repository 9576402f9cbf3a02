/* Reading "allocate" and picking a random inbound's ports. */
#include "allocate.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

/* An optional non-negative integer key of alloc: 1 and *out set, 0 absent, -1 bad. */
static int read_count(const json_t *alloc, const char *key, json_int_t *out)
{
    json_t *v = json_object_get(alloc, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffff)
        return -1;
    *out = json_integer_value(v);
    return 1;
}

void evp_allocate_parse(const json_t *alloc, uint16_t first, uint16_t last, const char *path,
                        evp_allocate *out, evp_errlist *errs)
{
    memset(out, 0, sizeof *out);
    if (alloc == NULL || json_is_null(alloc))
        return;
    const char *strategy = json_string_value(json_object_get(alloc, "strategy"));
    if (!json_is_object(alloc) || strategy == NULL) {
        evp_errlist_add(errs, "%s: must be an object with a \"strategy\"", path);
        return;
    }
    if (strcasecmp(strategy, "always") == 0)
        return;
    if (strcasecmp(strategy, "random") != 0) {
        evp_errlist_add(errs, "%s.strategy: unknown allocation strategy \"%s\" (always or "
                        "random)", path, strategy);
        return;
    }
    json_int_t refresh = EVP_ALLOCATE_REFRESH_MIN, conc = EVP_ALLOCATE_CONCURRENCY;
    long range = (long)last - first + 1;
    int have_refresh = read_count(alloc, "refresh", &refresh);
    int have_conc = read_count(alloc, "concurrency", &conc);
    if (have_refresh < 0 || refresh == 0)
        evp_errlist_add(errs, "%s.refresh: must be a whole number of minutes, at least 1", path);
    if (have_conc < 0 || (have_conc && conc == 0))
        evp_errlist_add(errs, "%s.concurrency: must be a number of ports, at least 1", path);
    else if (have_conc && conc >= range)
        evp_errlist_add(errs, "%s.concurrency: not enough ports: %ld of the range %u-%u for "
                        "%ld at once (a refresh needs the range larger)", path, range, first,
                        last, (long)conc);
    else if (!have_conc && range < 2)
        evp_errlist_add(errs, "%s: strategy \"random\" needs a port range \"from-to\" of at "
                        "least 2 ports", path);
    else if (!have_conc && conc >= range)
        conc = range - 1;
    out->random = 1;
    out->refresh_min = (unsigned)refresh;
    out->concurrency = (unsigned)conc;
}

static uint32_t sodium_below(uint32_t upper)
{
    return randombytes_uniform(upper);
}

int evp_port_listed(unsigned port, const uint16_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == port)
            return 1;
    return 0;
}

size_t evp_allocate_pick(uint16_t first, uint16_t last, size_t n, const uint16_t *avoid,
                         size_t n_avoid, evp_random_below below, uint16_t *out)
{
    if (below == NULL)
        below = sodium_below;
    size_t free_ports = 0;
    for (uint32_t p = first; p <= last; p++)
        free_ports += !evp_port_listed(p, avoid, n_avoid);
    size_t picked = 0;
    for (; picked < n && free_ports > 0; picked++, free_ports--) {
        /* The r-th port neither avoided nor picked already. */
        uint32_t r = below((uint32_t)free_ports), p = first;
        for (;; p++) {
            if (evp_port_listed(p, avoid, n_avoid) || evp_port_listed(p, out, picked))
                continue;
            if (r-- == 0)
                break;
        }
        out[picked] = (uint16_t)p;
    }
    return picked;
}
