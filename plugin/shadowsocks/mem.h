/* The plugin's allocator: blocks go through the host table the plugin was given (ABI 1.3),
 * so `evproxy ctl stats` counts this plugin's memory. GnuTLS and jansson allocate on their
 * own and are not counted. Text handed to the host (users_list) comes from host->alloc. */
#ifndef SS_MEM_H
#define SS_MEM_H

#include "evproxy/plugin.h"

#include <stddef.h>

/* Records h as the table to allocate through unless one is recorded already: called by init
 * and by every entry point that is given the table (a unit test's host may skip init). */
void ss_mem_adopt(const evp_host *h);
/* True when h offers what the plugin uses: the replay sets (ABI 1.1) and counted memory
 * (1.3). Instances refuse an older host with a clear error instead of calling past its table. */
int ss_host_ok(const evp_host *h);

void *ss_alloc(size_t size);
void *ss_calloc(size_t n, size_t size);
void ss_free(void *p);
/* Wipes size bytes at p (a block that held keys) and frees it; NULL is a no-op. */
void ss_free_wiped(void *p, size_t size);
/* A copy of s from ss_alloc, or NULL when out of memory. */
char *ss_strdup(const char *s);

#endif
