/* Balancers: the selection is made once per config (outbounds do not change within one). */
#include "balancers.h"

#include "log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int selects(json_t *selector, const char *tag)
{
    size_t i;
    json_t *p;
    json_array_foreach(selector, i, p) {
        const char *prefix = json_string_value(p);
        if (prefix && strncmp(tag, prefix, strlen(prefix)) == 0)
            return 1;
    }
    return 0;
}

static int parse_one(json_t *o, size_t bi, const char *const *out_tags, size_t n_outs,
                     evp_balancer *b, evp_errlist *errs)
{
    const char *tag = json_string_value(json_object_get(o, "tag"));
    json_t *sel = json_object_get(o, "selector");
    json_t *list = json_is_string(sel) ? json_pack("[O]", sel) : json_incref(sel);
    int rc = -1;
    if (tag == NULL || tag[0] == '\0') {
        evp_errlist_add(errs, "routing.balancers[%zu].tag: empty balancer tag", bi);
    } else if (json_array_size(list) == 0) {
        evp_errlist_add(errs, "routing.balancers[%zu].selector: empty selector list", bi);
    } else if ((b->tag = strdup(tag)) != NULL &&
               (b->outs = calloc(n_outs ? n_outs : 1, sizeof *b->outs)) != NULL) {
        for (size_t k = 0; k < n_outs; k++)
            if (selects(list, out_tags[k]))
                b->outs[b->n_outs++] = k;
        if (b->n_outs == 0)
            evp_warn("routing.balancers[%zu]: no outbound tag starts with a selector: what "
                     "it gets goes to the default outbound, as in V2Ray", bi);
        rc = 0;
    }
    json_decref(list);
    return rc;
}

int evp_balancers_parse(json_t *list, const char *const *out_tags, size_t n_outs,
                        evp_balancer **out, size_t *n_out, evp_errlist *errs)
{
    size_t n = json_array_size(list);
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    evp_balancer *b = calloc(n, sizeof *b);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (parse_one(json_array_get(list, i), i, out_tags, n_outs, &b[i], errs) != 0) {
            evp_balancers_free(b, n);
            return -1;
        }
    }
    *out = b;
    *n_out = n;
    return 0;
}

const evp_balancer *evp_balancer_find(const evp_balancer *b, size_t n, const char *tag)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].tag, tag) == 0)
            return &b[i];
    return NULL;
}

size_t evp_balancer_pick(const evp_balancer *b, size_t fallback)
{
    if (b->n_outs == 0)
        return fallback;
    return b->outs[randombytes_uniform((uint32_t)b->n_outs)];
}

void evp_balancers_free(evp_balancer *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++) {
        free(b[i].tag);
        free(b[i].outs);
    }
    free(b);
}
