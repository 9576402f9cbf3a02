/* Host allocation counted per module: each module gets its own copy of the host services
 * table, and the blocks it allocates through that table's mem_* are counted there. */
#ifndef EVP_HOST_MEM_H
#define EVP_HOST_MEM_H

#include "evproxy/plugin.h"

#include <stdatomic.h>
#include <stddef.h>

typedef struct evp_host_table {
    evp_host services; /* first: mem_* get back to the counters from the table they are given */
    atomic_size_t bytes; /* atomic: a reload builds instances on another thread */
    atomic_size_t blocks;
} evp_host_table;

/* Fills t with the host services and zero counters. */
void evp_host_table_init(evp_host_table *t);

/* The mem_* services (see evp_host). */
void *evp_host_mem_alloc(const evp_host *self, size_t size);
void *evp_host_mem_calloc(const evp_host *self, size_t n, size_t size);
void *evp_host_mem_realloc(const evp_host *self, void *p, size_t size);
void evp_host_mem_free(const evp_host *self, void *p);

#endif
