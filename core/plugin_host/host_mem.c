/* Counted allocation for plugins. Each block starts with a small header holding its size and
 * the table it was counted against, so free and realloc know what to subtract without
 * malloc_usable_size (a glibc extension whose figure also changes under ASan and includes the
 * allocator's rounding): the count is exactly what the plugin asked for, in every build. */
#include "host_mem.h"

#include "host.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Aligned like malloc's own blocks, so the plugin's block after it is too (16 bytes on
 * x86-64). */
typedef struct mem_header {
    alignas(max_align_t) evp_host_table *owner;
    size_t size;
} mem_header;

void evp_host_table_init(evp_host_table *t)
{
    t->services = *evp_host_services();
    atomic_init(&t->bytes, 0);
    atomic_init(&t->blocks, 0);
}

/* The table self is the services member of (it is the first member). */
static evp_host_table *table_of(const evp_host *self)
{
    return (evp_host_table *)(uintptr_t)self;
}

/* Stamps a fresh block of size payload bytes and counts it; returns the payload. */
static void *counted(evp_host_table *t, mem_header *h, size_t size)
{
    h->owner = t;
    h->size = size;
    atomic_fetch_add_explicit(&t->bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->blocks, 1, memory_order_relaxed);
    return h + 1;
}

void *evp_host_mem_alloc(const evp_host *self, size_t size)
{
    if (size > SIZE_MAX - sizeof(mem_header))
        return NULL;
    mem_header *h = malloc(sizeof *h + size);
    return h ? counted(table_of(self), h, size) : NULL;
}

void *evp_host_mem_calloc(const evp_host *self, size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - sizeof(mem_header)) / size)
        return NULL;
    mem_header *h = calloc(1, sizeof *h + n * size);
    return h ? counted(table_of(self), h, n * size) : NULL;
}

void evp_host_mem_free(const evp_host *self, void *p)
{
    if (p == NULL)
        return;
    mem_header *h = (mem_header *)p - 1;
    evp_host_table *t = h->owner; /* whichever table it came from, not self */
    atomic_fetch_sub_explicit(&t->bytes, h->size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->blocks, 1, memory_order_relaxed);
    free(h);
}

void *evp_host_mem_realloc(const evp_host *self, void *p, size_t size)
{
    if (p == NULL)
        return evp_host_mem_alloc(self, size);
    if (size > SIZE_MAX - sizeof(mem_header))
        return NULL;
    mem_header *h = (mem_header *)p - 1;
    evp_host_table *t = h->owner;
    size_t old = h->size;
    mem_header *moved = realloc(h, sizeof *moved + size);
    if (moved == NULL)
        return NULL; /* p is untouched and still counted */
    moved->size = size;
    atomic_fetch_add_explicit(&t->bytes, size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->bytes, old, memory_order_relaxed);
    return moved + 1;
}
