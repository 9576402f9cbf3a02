/* The plugin's allocator: every block goes through the host table an instance was built
 * with, so the host counts this plugin's memory. GnuTLS and jansson allocate on their own and
 * are not counted. The table is kept in each instance, never in a static (ABI 1.1 rule). */
#ifndef TLS_MEM_H
#define TLS_MEM_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <string.h>

static inline void *tls_alloc(const evp_host *h, size_t size)
{
    return h->mem_alloc(h, size);
}

static inline void *tls_calloc(const evp_host *h, size_t n, size_t size)
{
    return h->mem_calloc(h, n, size);
}

static inline void tls_free(const evp_host *h, void *p)
{
    h->mem_free(h, p);
}

/* A copy of the n bytes at s plus a NUL, or NULL when out of memory. */
static inline char *tls_strndup(const evp_host *h, const char *s, size_t n)
{
    char *d = tls_alloc(h, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

#endif
