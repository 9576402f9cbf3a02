/* An inbound's "allocate" (V2Ray's dynamic port): which ports of its range listen. "always"
 * listens on all of them; "random" on `concurrency` of them, picked anew every `refresh`
 * minutes (V2Ray 4.34's app/proxyman/inbound/dynamic.go). */
#ifndef EVP_ALLOCATE_H
#define EVP_ALLOCATE_H

#include "errlist.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVP_ALLOCATE_REFRESH_MIN 5 /* V2Ray's defaults */
#define EVP_ALLOCATE_CONCURRENCY 3

typedef struct evp_allocate {
    int random;           /* 0: every port of the range ("always", or no allocate) */
    unsigned refresh_min; /* minutes between two picks (random only) */
    unsigned concurrency; /* ports picked each time (random only) */
} evp_allocate;

/* Reads alloc (an inbound's "allocate", NULL when absent) for the range first..last into
 * *out; errors name path. A strategy other than always/random, a refresh of 0, or a
 * concurrency that leaves no port of the range free (V2Ray: "not enough ports") is refused.
 * Without a concurrency, V2Ray's 3 is taken, or one less than the range's size when that is
 * smaller (V2Ray would spin looking for a free port). */
void evp_allocate_parse(const json_t *alloc, uint16_t first, uint16_t last, const char *path,
                        evp_allocate *out, evp_errlist *errs);

/* Whether port is one of list[0..n). */
int evp_port_listed(unsigned port, const uint16_t *list, size_t n);

/* A uniform random number below upper (upper >= 1). */
typedef uint32_t (*evp_random_below)(uint32_t upper);

/* Picks up to n distinct ports of first..last, none in avoid[0..n_avoid), uniformly at random
 * (below: the random source; NULL for libsodium's); writes them to out and returns how many
 * (fewer than n only when fewer ports are free). */
size_t evp_allocate_pick(uint16_t first, uint16_t last, size_t n, const uint16_t *avoid,
                         size_t n_avoid, evp_random_below below, uint16_t *out);

#endif
