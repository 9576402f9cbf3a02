/* The per-user limits table: a hash of (inbound, label) entries under one lock. */
#include "user_limits.h"

#include "ip_grace.h"
#include "log.h"
#include "token_bucket.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE 1024 /* chains; a table of thousands of users stays a few steps a lookup */

struct evp_user_limit {
    struct evp_user_limit *next; /* in its chain */
    char *inbound, *user;        /* owned */
    int configured;
    int stale; /* during a sync: not (yet) among the tag's users with limits */
    evp_limits_conf conf;
    evp_token_bucket bucket[2]; /* [0] uplink, [1] downlink */
    uint64_t used;
    uint32_t sessions;
    evp_ip_grace ips;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static evp_user_limit *table[TABLE_SIZE];
static atomic_size_t n_configured; /* entries with limits: 0 keeps lookups lock-free */

static size_t slot_of(const char *tag, const char *user)
{
    uint32_t h = 2166136261u; /* FNV-1a over "tag\0user" */
    for (const char *p = tag; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h *= 16777619u;
    for (const char *p = user; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % TABLE_SIZE;
}

/* The entry of (tag, user), made when make is set; NULL when absent or out of memory.
 * Under the lock. */
static evp_user_limit *lookup(const char *tag, const char *user, int make)
{
    size_t i = slot_of(tag, user);
    for (evp_user_limit *u = table[i]; u; u = u->next)
        if (strcmp(u->inbound, tag) == 0 && strcmp(u->user, user) == 0)
            return u;
    if (!make)
        return NULL;
    evp_user_limit *u = calloc(1, sizeof *u);
    if (u == NULL || (u->inbound = strdup(tag)) == NULL || (u->user = strdup(user)) == NULL) {
        if (u)
            free(u->inbound);
        free(u);
        return NULL;
    }
    u->next = table[i];
    table[i] = u;
    return u;
}

static void set_configured(evp_user_limit *u, int on)
{
    if (u->configured != on)
        atomic_fetch_add(&n_configured, on ? 1 : (size_t)-1);
    u->configured = on;
}

/* Gives u the limits c (a reload keeps the tokens it holds). */
static void apply(evp_user_limit *u, const evp_limits_conf *c, double now)
{
    for (int d = 0; d < 2; d++) {
        uint64_t rate = d ? c->down_bps : c->up_bps;
        if (!u->configured || u->bucket[d].rate <= 0)
            evp_tb_init(&u->bucket[d], rate, now);
        else
            evp_tb_set_rate(&u->bucket[d], rate, now);
    }
    u->conf = *c;
    u->stale = 0;
    set_configured(u, 1);
}

void evp_limits_sync(const char *tag, json_t *users, const char *label_key)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < TABLE_SIZE; i++)
        for (evp_user_limit *u = table[i]; u; u = u->next)
            u->stale = strcmp(u->inbound, tag) == 0;
    size_t k;
    json_t *user;
    json_array_foreach (users, k, user) {
        json_t *limits = json_object_get(user, "limits");
        const char *label = json_string_value(json_object_get(user, label_key));
        if (limits == NULL || label == NULL)
            continue;
        evp_limits_conf c;
        char err[128];
        if (evp_limits_parse(limits, &c, err, sizeof err) != 0) {
            evp_warn("inbound [%s] user %s: %s: no limits applied", tag, label, err);
            continue;
        }
        evp_user_limit *u = lookup(tag, label, 1);
        if (u == NULL) {
            evp_err("inbound [%s] user %s: out of memory: no limits applied", tag, label);
            continue;
        }
        apply(u, &c, now);
    }
    for (size_t i = 0; i < TABLE_SIZE; i++)
        for (evp_user_limit *u = table[i]; u; u = u->next)
            if (u->stale) {
                u->stale = 0;
                set_configured(u, 0);
            }
    pthread_mutex_unlock(&lock);
}

evp_user_limit *evp_limits_find(const char *tag, const char *user)
{
    if (atomic_load_explicit(&n_configured, memory_order_relaxed) == 0 || user == NULL)
        return NULL;
    pthread_mutex_lock(&lock);
    evp_user_limit *u = lookup(tag, user, 0);
    if (u && !u->configured)
        u = NULL;
    pthread_mutex_unlock(&lock);
    return u;
}

int evp_limit_admit(evp_user_limit *u, const uint8_t addr[16], double now, char *why, size_t n)
{
    int ok = 0;
    pthread_mutex_lock(&lock);
    const evp_limits_conf *c = &u->conf;
    if (!u->configured) {
        ok = 1; /* its limits went since it was found */
    } else if (c->expire > 0 && now >= c->expire) {
        snprintf(why, n, "user %s expired (limits.expire)", u->user);
    } else if (c->quota_bytes && u->used >= c->quota_bytes) {
        snprintf(why, n, "user %s used its quota of %llu bytes (limits.quotaBytes)", u->user,
                 (unsigned long long)c->quota_bytes);
    } else if (c->sessions && u->sessions >= c->sessions) {
        snprintf(why, n, "user %s has %u sessions (limits.sessions)", u->user, u->sessions);
    } else {
        ok = 1;
    }
    if (ok) {
        int r = evp_ip_grace_take(&u->ips, addr, u->configured ? c->ips : 0, EVP_IP_GRACE_SECONDS,
                            now);
        if (r == 1)
            u->sessions++;
        else if (r == 0)
            snprintf(why, n, "user %s holds %u addresses (limits.ips)", u->user, c->ips);
        else
            snprintf(why, n, "user %s: out of memory", u->user);
        ok = r == 1;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

void evp_limit_leave(evp_user_limit *u, const uint8_t addr[16], double now)
{
    pthread_mutex_lock(&lock);
    evp_ip_grace_release(&u->ips, addr, now);
    pthread_mutex_unlock(&lock);
}

void evp_limit_forget_session(evp_user_limit *u)
{
    pthread_mutex_lock(&lock);
    if (u->sessions > 0)
        u->sessions--;
    pthread_mutex_unlock(&lock);
}

int evp_limit_charge(evp_user_limit *u, uint64_t up, uint64_t down, double now,
                     double wait[2], char *why, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    wait[0] = wait[1] = 0;
    if (u->configured) {
        const evp_limits_conf *c = &u->conf;
        wait[0] = up ? evp_tb_take(&u->bucket[0], up, now) : evp_tb_wait(&u->bucket[0], now);
        wait[1] =
            down ? evp_tb_take(&u->bucket[1], down, now) : evp_tb_wait(&u->bucket[1], now);
        u->used += up + down;
        if (c->quota_bytes && u->used >= c->quota_bytes) {
            snprintf(why, n, "user %s used its quota of %llu bytes (limits.quotaBytes)",
                     u->user, (unsigned long long)c->quota_bytes);
            rc = -1;
        } else if (c->expire > 0 && now >= c->expire) {
            snprintf(why, n, "user %s expired (limits.expire)", u->user);
            rc = -1;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

double evp_limit_expires_in(evp_user_limit *u, double now)
{
    pthread_mutex_lock(&lock);
    int expires = u->configured && u->conf.expire > 0;
    double left = expires ? u->conf.expire - now : -1;
    pthread_mutex_unlock(&lock);
    return expires && left < 0 ? 0 : left; /* passed: now */
}

void evp_limits_each(void (*fn)(const evp_limit_view *v, void *arg), void *arg, double now)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < TABLE_SIZE; i++)
        for (evp_user_limit *u = table[i]; u; u = u->next) {
            const evp_limit_view v = {
                .inbound = u->inbound, .user = u->user, .configured = u->configured,
                .conf = u->conf, .used = u->used, .sessions = u->sessions,
                .ips = evp_ip_grace_held(&u->ips, EVP_IP_GRACE_SECONDS, now)};
            fn(&v, arg);
        }
    pthread_mutex_unlock(&lock);
}

int evp_limits_set_used(const char *tag, const char *user, uint64_t used)
{
    pthread_mutex_lock(&lock);
    evp_user_limit *u = lookup(tag, user, 1);
    if (u)
        u->used = used;
    pthread_mutex_unlock(&lock);
    return u ? 0 : -1;
}

void evp_limits_reset_usage(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < TABLE_SIZE; i++)
        for (evp_user_limit *u = table[i]; u; u = u->next)
            u->used = 0;
    pthread_mutex_unlock(&lock);
}

void evp_limits_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        while (table[i]) {
            evp_user_limit *u = table[i];
            table[i] = u->next;
            evp_ip_grace_free(&u->ips);
            free(u->inbound);
            free(u->user);
            free(u);
        }
    }
    atomic_store(&n_configured, 0);
    pthread_mutex_unlock(&lock);
}
