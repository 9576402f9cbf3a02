/* The plugin's allocator: every block goes through the host table the plugin was given, so
 * the host counts this plugin's memory (`evproxy ctl stats`). Libraries the plugin calls
 * allocate on their own and are not counted: jansson (settings parsing, users JSON) and
 * libsodium. Text handed over to the host (users_list, sip003_settings) comes from
 * host->alloc instead, since the host frees it with libc's free. */
#ifndef VMESS_MEM_H
#define VMESS_MEM_H

#include "evproxy/plugin.h"

#include <stdatomic.h>
#include <stddef.h>

/* Set once by vmess_mem_adopt; atomic because instances are built on a reload thread. */
extern _Atomic(const evp_host *) vmess_mem_table;

/* Records h as the table to allocate through unless one is recorded already: called by init
 * and, for a host that skips init (unit tests), by every entry point that gets the table. */
void vmess_mem_adopt(const evp_host *h);

static inline const evp_host *vmess_mem_host(void)
{
    return atomic_load_explicit(&vmess_mem_table, memory_order_acquire);
}

static inline void *vmess_alloc(size_t size)
{
    const evp_host *h = vmess_mem_host();
    return h->mem_alloc(h, size);
}

static inline void *vmess_calloc(size_t n, size_t size)
{
    const evp_host *h = vmess_mem_host();
    return h->mem_calloc(h, n, size);
}

static inline void *vmess_realloc(void *p, size_t size)
{
    const evp_host *h = vmess_mem_host();
    return h->mem_realloc(h, p, size);
}

static inline void vmess_free(void *p)
{
    const evp_host *h = vmess_mem_host();
    h->mem_free(h, p);
}

/* Wipes the size bytes at p (a block that held keys) and frees it; NULL is a no-op. */
void vmess_free_wiped(void *p, size_t size);

/* A copy of s from vmess_alloc, or NULL when out of memory. */
char *vmess_strdup(const char *s);

#endif
