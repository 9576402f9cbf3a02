/* The host's keyed state store (ABI 1.4 state_put/state_get/state_del/state_each): small
 * values a plugin must keep across instances and modules (VMess detour accounts, which
 * inbound answers to a tag), so that a reload or a hot swap does not forget them. Named
 * namespaces of key -> value, each value with an optional time to live on the monotonic
 * clock. Values are copied in and out, and wiped when dropped. Thread-safe; a lookup costs
 * the same whatever the number of entries. */
#ifndef EVP_STATE_STORE_H
#define EVP_STATE_STORE_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

#define EVP_STATE_DEFAULT_MAX (1u << 18) /* entries per store, all namespaces together */
#define EVP_STATE_MAX_NS 32         /* namespaces per store */
#define EVP_STATE_NS_MAX 63         /* longest namespace name */

typedef struct evp_state_store evp_state_store;

/* A new empty store holding at most max_entries entries (0: the default); NULL when out of
 * memory. */
evp_state_store *evp_state_store_new(size_t max_entries);
/* Wipes and frees the store (NULL is fine). */
void evp_state_store_free(evp_state_store *st);

/* The operations of evp_host's state_* (see plugin.h), at monotonic time now. */
int evp_state_put(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                  const void *val, size_t val_len, uint32_t ttl_s, unsigned flags, double now);
long evp_state_get(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                   void *val, size_t cap, double now);
int evp_state_del(evp_state_store *st, const char *ns, const void *key, size_t key_len,
                  double now);
uint64_t evp_state_each(evp_state_store *st, const char *ns, evp_state_fn fn, void *ctx,
                        double now);

/* The process-wide store behind the host services, created on first use and kept for the
 * life of the process (NULL when out of memory). */
evp_state_store *evp_state_global(void);

/* The ABI 1.4 host services on the global store and the host's monotonic clock. */
int evp_host_state_put(const char *ns, const void *key, size_t key_len, const void *val,
                       size_t val_len, uint32_t ttl_s, unsigned flags);
long evp_host_state_get(const char *ns, const void *key, size_t key_len, void *val, size_t cap);
int evp_host_state_del(const char *ns, const void *key, size_t key_len);
uint64_t evp_host_state_each(const char *ns, evp_state_fn fn, void *ctx);

#endif
