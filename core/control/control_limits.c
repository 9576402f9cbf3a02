/* Per-user limits over the control socket. */
#include "control_limits.h"

#include "limits_conf.h"
#include "stats.h"
#include "user_limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct rows {
    const char *tag;
    json_t *by_user; /* label -> row */
} rows;

static json_t *row_of(rows *r, const char *user)
{
    json_t *row = json_object_get(r->by_user, user);
    if (row == NULL) {
        row = json_pack("{s:s, s:{}, s:{s:i, s:i, s:i, s:i, s:i}}", "user", user, "limits",
                        "usage", "usedBytes", 0, "sessions", 0, "ips", 0, "uplink", 0,
                        "downlink", 0);
        json_object_set_new(r->by_user, user, row);
    }
    return row;
}

static void set_usage(json_t *row, const char *key, uint64_t v)
{
    json_object_set_new(json_object_get(row, "usage"), key, json_integer((json_int_t)v));
}

static void limit_row(const evp_limit_view *v, void *arg)
{
    rows *r = arg;
    if (strcmp(v->inbound, r->tag) != 0 || (!v->configured && v->used == 0))
        return;
    json_t *row = row_of(r, v->user);
    if (v->configured)
        json_object_set_new(row, "limits", evp_limits_to_json(&v->conf));
    set_usage(row, "usedBytes", v->used);
    set_usage(row, "sessions", v->sessions);
    set_usage(row, "ips", v->ips);
}

static void traffic_row(const evp_counter *c, void *arg)
{
    rows *r = arg;
    if (c->inbound == NULL || c->user == NULL || strcmp(c->inbound, r->tag) != 0)
        return;
    json_t *row = json_object_get(r->by_user, c->user);
    if (row) { /* a user with limits or usage */
        set_usage(row, "uplink", c->up);
        set_usage(row, "downlink", c->down);
    }
}

json_t *evp_control_limit_users(const char *tag)
{
    rows r = {tag, json_object()};
    evp_limits_each(limit_row, &r, (double)time(NULL));
    evp_stats_each(traffic_row, &r);
    json_t *out = json_array();
    const char *key;
    json_t *row;
    json_object_foreach (r.by_user, key, row) {
        json_array_append(out, row);
    }
    json_decref(r.by_user);
    return out;
}

static const char *const keys[] = {"uplinkBps", "downlinkBps", "sessions", "ips", "quotaBytes",
                                   "expire"};

/* One "key=value" into limits; 0, or -1 with err. */
static int set_one(json_t *limits, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : 0;
    const char *key = NULL;
    for (size_t i = 0; eq && i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i]) == klen && strncmp(kv, keys[i], klen) == 0)
            key = keys[i];
    if (key == NULL) {
        snprintf(err, errlen, "\"%s\": KEY=VALUE with KEY one of uplinkBps, downlinkBps, "
                              "sessions, ips, quotaBytes, expire", kv);
        return -1;
    }
    const char *val = eq + 1;
    if (strcmp(val, "none") == 0) {
        json_object_del(limits, key);
        return 0;
    }
    if (strcmp(key, "expire") == 0)
        return json_object_set_new(limits, key, json_string(val));
    char *end;
    errno = 0;
    long long n = strtoll(val, &end, 10);
    if (errno || end == val || *end != '\0' || n < 0) {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number (or none)", key, val);
        return -1;
    }
    return json_object_set_new(limits, key, json_integer(n));
}

json_t *evp_control_limits_edit(json_t *users, const char *label_key, const char *label,
                                json_t *set, char *err, size_t errlen)
{
    json_t *copy = json_deep_copy(users);
    json_t *user = NULL, *u;
    size_t i;
    json_array_foreach (copy, i, u) {
        const char *name = json_string_value(json_object_get(u, label_key));
        if (name && strcmp(name, label) == 0)
            user = u;
    }
    if (user == NULL) {
        snprintf(err, errlen, "no user labelled \"%s\"", label);
        json_decref(copy);
        return NULL;
    }
    json_t *limits = json_object_get(user, "limits");
    if (!json_is_object(limits)) {
        limits = json_object();
        json_object_set_new(user, "limits", limits);
    }
    json_t *kv;
    json_array_foreach (set, i, kv) {
        if (!json_is_string(kv) || set_one(limits, json_string_value(kv), err, errlen) != 0) {
            if (!json_is_string(kv))
                snprintf(err, errlen, "limits: a list of KEY=VALUE strings");
            json_decref(copy);
            return NULL;
        }
    }
    evp_limits_conf c;
    if (evp_limits_parse(limits, &c, err, errlen) != 0) {
        json_decref(copy);
        return NULL;
    }
    if (json_object_size(limits) == 0)
        json_object_del(user, "limits");
    return copy;
}
