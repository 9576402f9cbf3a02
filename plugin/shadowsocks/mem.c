/* The plugin's recorded host table (see mem.h). */
#include "mem.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Atomic: instances are built on a reload thread. */
static _Atomic(const evp_host *) mem_table;

void ss_mem_adopt(const evp_host *h)
{
    const evp_host *none = NULL;
    atomic_compare_exchange_strong(&mem_table, &none, h);
}

int ss_host_ok(const evp_host *h)
{
    return h->abi_major == 1 && h->abi_minor >= 3 &&
           h->size >= offsetof(evp_host, mem_free) + sizeof h->mem_free;
}

static const evp_host *table(void)
{
    return atomic_load_explicit(&mem_table, memory_order_acquire);
}

void *ss_alloc(size_t size)
{
    return table()->mem_alloc(table(), size);
}

void *ss_calloc(size_t n, size_t size)
{
    return table()->mem_calloc(table(), n, size);
}

void ss_free(void *p)
{
    table()->mem_free(table(), p);
}

void ss_free_wiped(void *p, size_t size)
{
    if (p == NULL)
        return;
    sodium_memzero(p, size);
    ss_free(p);
}

char *ss_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ss_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
