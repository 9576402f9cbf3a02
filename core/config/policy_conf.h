/* V2Ray's local policy (policy.levels): the timeouts of level 0 (the handshake's too) and of
 * the levels 1..15 users name, and every level's bufferSize (V2Ray 4.34's
 * infra/conf/policy.go). */
#ifndef EVP_POLICY_CONF_H
#define EVP_POLICY_CONF_H

#include "errlist.h"

#include <jansson.h>
#include <stddef.h>

struct evp_config;

/* obj[key] when it is a number >= 0, else dflt. */
double evp_conf_seconds_or(json_t *obj, const char *key, double dflt);

/* A level's bufferSize v (KiB; NULL or null: absent) at path into *bytes: absent gives
 * EVP_RELAY_BUFFER_DEFAULT; 0 queues nothing beyond one read, as V2Ray's pipe; a negative
 * one (V2Ray: unlimited) or one above EVP_RELAY_BUFFER_MAX_KIB gets that max, with a
 * warning. What V2Ray refuses (not an integer, beyond 32 bits) is an error naming path:
 * -1 then, else 0. */
int evp_policy_buffer_parse(const json_t *v, const char *path, size_t *bytes,
                            evp_errlist *errs);

/* Reads c->root's policy into c's handshake, timeouts, levels and buffer_bytes. */
void evp_policy_load(struct evp_config *c, evp_errlist *errs);

#endif
