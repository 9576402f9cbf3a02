/* `api`, `stats` and policy's stats switches, read as V2Ray 4.34 reads them. */
#include "api_stats_conf.h"

#include "log.h"

#include <string.h>
#include <strings.h>

static int is_true(json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

void evp_stats_conf_load(json_t *root, evp_v2stats_policy *p)
{
    memset(p, 0, sizeof *p);
    json_t *stats = json_object_get(root, "stats");
    p->enabled = stats != NULL && !json_is_null(stats);
    json_t *policy = json_object_get(root, "policy");
    json_t *sys = json_object_get(policy, "system");
    p->inbound_up = is_true(sys, "statsInboundUplink");
    p->inbound_down = is_true(sys, "statsInboundDownlink");
    p->outbound_up = is_true(sys, "statsOutboundUplink");
    p->outbound_down = is_true(sys, "statsOutboundDownlink");
    const char *key;
    json_t *level;
    json_object_foreach (json_object_get(policy, "levels"), key, level) {
        char *end;
        long n = strtol(key, &end, 10);
        if (*key == '\0' || *end != '\0' || n < 0 || n >= 16)
            continue; /* load_policy has warned of it */
        if (is_true(level, "statsUserUplink"))
            p->user_up |= (uint16_t)(1u << n);
        if (is_true(level, "statsUserDownlink"))
            p->user_down |= (uint16_t)(1u << n);
    }
}

/* V2Ray's names, compared without case as its config reader does. */
static int served(const char *service)
{
    return strcasecmp(service, "StatsService") == 0;
}

void evp_api_conf_apply(json_t *root, evp_errlist *errs)
{
    json_t *api = json_object_get(root, "api");
    if (api == NULL || json_is_null(api))
        return;
    json_t *tag = json_object_get(api, "tag");
    if (!json_is_string(tag) || json_string_length(tag) == 0) {
        evp_errlist_add(errs, "api.tag: the api needs a tag (the outbound its rule names)");
        return;
    }
    json_t *services = json_object_get(api, "services");
    json_t *kept = json_array();
    size_t i;
    json_t *s;
    json_array_foreach (services, i, s) {
        if (!json_is_string(s))
            continue;
        if (served(json_string_value(s)))
            json_array_append(kept, s);
        else
            evp_warn("api.services: \"%s\" is not served (only StatsService is): its calls "
                     "get gRPC status UNIMPLEMENTED", json_string_value(s));
    }
    json_t *outs = json_object_get(root, "outbounds");
    if (!json_is_array(outs)) {
        json_decref(kept);
        return; /* config.c says outbounds are missing */
    }
    json_t *stats = json_object_get(root, "stats");
    json_array_append_new(outs, json_pack("{s:s, s:O, s:{s:o, s:b}}", "protocol",
                                          EVP_API_PROTOCOL, "tag", tag, "settings", "services",
                                          kept, "stats", stats != NULL && !json_is_null(stats)));
}
