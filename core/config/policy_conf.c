/* policy.levels: timeouts and buffer sizes per user level. */
#include "policy_conf.h"

#include "config.h"
#include "global_limits.h"
#include "log.h"

#include <stdint.h>
#include <stdlib.h>

double evp_conf_seconds_or(json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) && json_number_value(v) >= 0 ? json_number_value(v) : dflt;
}

int evp_policy_buffer_parse(const json_t *v, const char *path, size_t *bytes,
                            evp_errlist *errs)
{
    *bytes = EVP_RELAY_BUFFER_DEFAULT;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        evp_errlist_add(errs, "%s: must be an integer number of KiB", path);
        return -1;
    }
    json_int_t kib = json_integer_value(v);
    if (kib < INT32_MIN || kib > INT32_MAX) { /* V2Ray reads it as an int32 */
        evp_errlist_add(errs, "%s: %lld is out of range (a 32-bit integer of KiB)", path,
                        (long long)kib);
        return -1;
    }
    if (kib < 0 || kib > EVP_RELAY_BUFFER_MAX_KIB) {
        evp_warn("%s: %lld KiB (%s in V2Ray); evproxy queues at most %d KiB per direction", path,
                 (long long)kib, kib < 0 ? "unlimited" : "as given", EVP_RELAY_BUFFER_MAX_KIB);
        kib = EVP_RELAY_BUFFER_MAX_KIB;
    }
    *bytes = (size_t)kib * 1024;
    return 0;
}

void evp_policy_load(evp_config *c, evp_errlist *errs)
{
    json_t *levels = json_object_get(json_object_get(c->root, "policy"), "levels");
    json_t *lvl = json_object_get(levels, "0");
    c->handshake = evp_conf_seconds_or(lvl, "handshake", 4);
    c->conn_idle = evp_conf_seconds_or(lvl, "connIdle", 300);
    c->uplink_only = evp_conf_seconds_or(lvl, "uplinkOnly", 0);
    c->downlink_only = evp_conf_seconds_or(lvl, "downlinkOnly", 0);
    for (size_t i = 0; i < sizeof c->buffer_bytes / sizeof c->buffer_bytes[0]; i++)
        c->buffer_bytes[i] = EVP_RELAY_BUFFER_DEFAULT;
    const char *key;
    json_t *v;
    json_object_foreach(levels, key, v) {
        char *end, path[96];
        long n = strtol(key, &end, 10);
        size_t bytes;
        snprintf(path, sizeof path, "policy.levels.%s.bufferSize", key);
        int bad = evp_policy_buffer_parse(json_object_get(v, "bufferSize"), path, &bytes, errs);
        if (*key == '\0' || *end != '\0' || n < 0 || n >= 16) {
            evp_warn("policy.levels.%s: only levels 0..15 are read; its users get V2Ray's "
                     "defaults", key);
            continue;
        }
        if (bad == 0)
            c->buffer_bytes[n] = bytes;
        if (n == 0)
            continue;
        c->levels[n].conn_idle = evp_conf_seconds_or(v, "connIdle", 300);
        c->levels[n].uplink_only = evp_conf_seconds_or(v, "uplinkOnly", 0);
        c->levels[n].downlink_only = evp_conf_seconds_or(v, "downlinkOnly", 0);
        if (json_object_get(v, "handshake"))
            evp_warn("policy.levels.%s.handshake: a handshake runs before its user (and so "
                     "its level) is known: level 0's applies, as in V2Ray", key);
    }
}
