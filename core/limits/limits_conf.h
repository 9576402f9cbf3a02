/* A user's "limits" object (an extension of evproxy's in a client entry; V2Ray ignores it):
 * uplinkBps, downlinkBps, sessions, ips, expire (RFC 3339), quotaBytes. */
#ifndef EVP_LIMITS_CONF_H
#define EVP_LIMITS_CONF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evp_limits_conf {
    uint64_t up_bps, down_bps; /* bytes per second; 0: none */
    uint64_t quota_bytes;      /* uplink + downlink; 0: none */
    uint32_t sessions;         /* concurrent sessions (Mux sub-streams count); 0: none */
    uint32_t ips;              /* distinct client addresses at once; 0: none */
    double expire;             /* Unix time after which the user is refused; 0: none */
} evp_limits_conf;

/* Reads a "limits" object into c; 0, or -1 with why in err (naming the key). */
int evp_limits_parse(json_t *o, evp_limits_conf *c, char *err, size_t errlen);
/* The object again (new reference), expire written as RFC 3339 in UTC. */
json_t *evp_limits_to_json(const evp_limits_conf *c);
/* "2026-12-31T23:59:59Z" or with an offset ("+08:00") and optional fractions: 0 and *t set
 * (Unix seconds), or -1. */
int evp_rfc3339_parse(const char *s, double *t);

#endif
