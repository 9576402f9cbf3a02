/* The "ips" limit's address table: small (a user has a few devices), so a scan. */
#include "ip_grace.h"

#include <stdlib.h>
#include <string.h>

static int held(const evp_ip_grace_slot *s, double grace, double now)
{
    return s->active > 0 || now - s->released < grace;
}

/* Drops the slots whose grace ran out. */
static void expire(evp_ip_grace *set, double grace, double now)
{
    for (size_t i = 0; i < set->n;) {
        if (held(&set->slot[i], grace, now))
            i++;
        else
            set->slot[i] = set->slot[--set->n];
    }
}

static evp_ip_grace_slot *find(evp_ip_grace *set, const uint8_t addr[16])
{
    for (size_t i = 0; i < set->n; i++)
        if (memcmp(set->slot[i].addr, addr, 16) == 0)
            return &set->slot[i];
    return NULL;
}

int evp_ip_grace_take(evp_ip_grace *set, const uint8_t addr[16], uint32_t max, double grace,
                      double now)
{
    expire(set, grace, now);
    evp_ip_grace_slot *s = find(set, addr);
    if (s == NULL) {
        if (max > 0 && set->n >= max)
            return 0;
        if (set->n == set->cap) {
            size_t cap = set->cap ? set->cap * 2 : 4;
            evp_ip_grace_slot *bigger = realloc(set->slot, cap * sizeof *bigger);
            if (bigger == NULL)
                return -1;
            set->slot = bigger;
            set->cap = cap;
        }
        s = &set->slot[set->n++];
        memcpy(s->addr, addr, 16);
        s->active = 0;
    }
    s->active++;
    return 1;
}

void evp_ip_grace_release(evp_ip_grace *set, const uint8_t addr[16], double now)
{
    evp_ip_grace_slot *s = find(set, addr);
    if (s && s->active > 0 && --s->active == 0)
        s->released = now;
}

size_t evp_ip_grace_held(const evp_ip_grace *set, double grace, double now)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += (size_t)held(&set->slot[i], grace, now);
    return n;
}

void evp_ip_grace_free(evp_ip_grace *set)
{
    free(set->slot);
    *set = (evp_ip_grace){0};
}
