/* routing.balancers as V2Ray 4.34 reads them: {tag, selector: [tag prefixes]}; a rule's
 * balancerTag sends what it matches to one of the outbounds whose tag starts with one of the
 * prefixes, picked at random per session (V2Ray's only strategy in 4.34). */
#ifndef EVP_BALANCERS_H
#define EVP_BALANCERS_H

#include "errlist.h"

#include <jansson.h>
#include <stddef.h>

typedef struct evp_balancer {
    char *tag;
    size_t *outs; /* indexes of the outbounds selected, in config order */
    size_t n_outs;
} evp_balancer;

/* Reads list (routing.balancers) against the outbound tags into *out (n_out of them); -1
 * with errors added when an entry has no tag or no selector, as V2Ray refuses those. */
int evp_balancers_parse(json_t *list, const char *const *out_tags, size_t n_outs,
                        evp_balancer **out, size_t *n_out, evp_errlist *errs);
/* The balancer tagged tag in b, or NULL. */
const evp_balancer *evp_balancer_find(const evp_balancer *b, size_t n, const char *tag);
/* One of b's outbounds at random; fallback when it selected none (V2Ray then falls back to
 * the default outbound). */
size_t evp_balancer_pick(const evp_balancer *b, size_t fallback);
void evp_balancers_free(evp_balancer *b, size_t n);

#endif
