/* IP ranges: IPv4 as host-order integers, IPv6 as big-endian bytes (memcmp orders them). */
#include "ip_set.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct v4_range {
    uint32_t lo, hi;
} v4_range;

typedef struct v6_range {
    uint8_t lo[16], hi[16];
} v6_range;

struct evp_ip_set {
    v4_range *v4;
    size_t n_v4, cap_v4;
    v6_range *v6;
    size_t n_v6, cap_v6;
};

evp_ip_set *evp_ip_set_new(void)
{
    return calloc(1, sizeof(evp_ip_set));
}

void evp_ip_set_free(evp_ip_set *s)
{
    if (s == NULL)
        return;
    free(s->v4);
    free(s->v6);
    free(s);
}

/* Grows *arr (of elem-sized items) so one more fits. */
static int reserve(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, want * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = want;
    return 0;
}

static int add_v4(evp_ip_set *s, const uint8_t *a, unsigned prefix)
{
    if (prefix > 32 || reserve((void **)&s->v4, s->n_v4, &s->cap_v4, sizeof *s->v4) != 0)
        return -1;
    uint32_t ip = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    uint32_t host = prefix == 0 ? UINT32_MAX : prefix == 32 ? 0 : UINT32_MAX >> prefix;
    s->v4[s->n_v4++] = (v4_range){ip & ~host, ip | host};
    return 0;
}

static int add_v6(evp_ip_set *s, const uint8_t *a, unsigned prefix)
{
    if (prefix > 128 || reserve((void **)&s->v6, s->n_v6, &s->cap_v6, sizeof *s->v6) != 0)
        return -1;
    v6_range *r = &s->v6[s->n_v6++];
    for (unsigned i = 0; i < 16; i++) {
        unsigned net_bits = prefix > i * 8 ? (prefix - i * 8 > 8 ? 8 : prefix - i * 8) : 0;
        uint8_t mask = (uint8_t)(net_bits == 0 ? 0 : 0xff << (8 - net_bits));
        r->lo[i] = a[i] & mask;
        r->hi[i] = (uint8_t)(a[i] | ~mask);
    }
    return 0;
}

int evp_ip_set_add(evp_ip_set *s, const uint8_t *addr, size_t ip_len, unsigned prefix)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ip_len == 4)
        return add_v4(s, addr, prefix);
    if (ip_len != 16)
        return -1;
    if (prefix >= 96 && prefix <= 128 && memcmp(addr, mapped, 12) == 0)
        return add_v4(s, addr + 12, prefix - 96);
    return add_v6(s, addr, prefix);
}

int evp_ip_set_add_text(evp_ip_set *s, const char *text)
{
    char buf[64];
    uint8_t addr[16];
    if (snprintf(buf, sizeof buf, "%s", text) >= (int)sizeof buf)
        return -1;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    size_t len = 4;
    if (inet_pton(AF_INET, buf, addr) != 1) {
        if (inet_pton(AF_INET6, buf, addr) != 1)
            return -1;
        len = 16;
    }
    unsigned prefix = (unsigned)len * 8;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || p < 0 || p > (long)prefix)
            return -1;
        prefix = (unsigned)p;
    }
    return evp_ip_set_add(s, addr, len, prefix);
}

static int cmp_v4(const void *a, const void *b)
{
    const v4_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_v6(const void *a, const void *b)
{
    return memcmp(((const v6_range *)a)->lo, ((const v6_range *)b)->lo, 16);
}

void evp_ip_set_seal(evp_ip_set *s)
{
    size_t out = 0;
    if (s->n_v4) {
        qsort(s->v4, s->n_v4, sizeof *s->v4, cmp_v4);
        for (size_t i = 1; i < s->n_v4; i++) {
            if (s->v4[i].lo <= s->v4[out].hi) {
                if (s->v4[i].hi > s->v4[out].hi)
                    s->v4[out].hi = s->v4[i].hi;
            } else {
                s->v4[++out] = s->v4[i];
            }
        }
        s->n_v4 = out + 1;
    }
    out = 0;
    if (s->n_v6) {
        qsort(s->v6, s->n_v6, sizeof *s->v6, cmp_v6);
        for (size_t i = 1; i < s->n_v6; i++) {
            if (memcmp(s->v6[i].lo, s->v6[out].hi, 16) <= 0) {
                if (memcmp(s->v6[i].hi, s->v6[out].hi, 16) > 0)
                    memcpy(s->v6[out].hi, s->v6[i].hi, 16);
            } else {
                s->v6[++out] = s->v6[i];
            }
        }
        s->n_v6 = out + 1;
    }
}

int evp_ip_set_has(const evp_ip_set *s, const evp_addr *a)
{
    /* The last range starting at or below the address is the only one that can hold it. */
    size_t lo = 0, hi;
    if (a->type == EVP_ADDR_IPV4) {
        const uint8_t *b = a->bytes;
        uint32_t ip = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        hi = s->n_v4;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s->v4[mid].lo <= ip)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo > 0 && ip <= s->v4[lo - 1].hi;
    }
    if (a->type != EVP_ADDR_IPV6)
        return 0;
    hi = s->n_v6;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(s->v6[mid].lo, a->bytes, 16) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && memcmp(a->bytes, s->v6[lo - 1].hi, 16) <= 0;
}

size_t evp_ip_set_ranges(const evp_ip_set *s)
{
    return s->n_v4 + s->n_v6;
}
