/* The plugin's recorded host table (see mem.h). */
#include "mem.h"

#include <sodium.h>
#include <string.h>

_Atomic(const evp_host *) vmess_mem_table;

void vmess_mem_adopt(const evp_host *h)
{
    const evp_host *none = NULL;
    atomic_compare_exchange_strong(&vmess_mem_table, &none, h);
}

char *vmess_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = vmess_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void vmess_free_wiped(void *p, size_t size)
{
    if (p == NULL)
        return;
    sodium_memzero(p, size);
    vmess_free(p);
}
