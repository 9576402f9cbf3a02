/* The host's "seen recently" store (ABI 1.1 replay_seen/replay_peek): named sets of keys
 * that outlive plugin instances and plugin modules, so that a reload or a hot swap of a
 * plugin cannot reopen its replay window. One set per (namespace, window); each set is an
 * exact set in three rotating generations with bounded memory. Thread-safe. */
#ifndef EVP_REPLAY_STORE_H
#define EVP_REPLAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#define EVP_SEEN_DEFAULT_MAX (1u << 20) /* keys per generation of one set */
#define EVP_SEEN_MAX_SETS 32            /* namespaces x windows per store */
#define EVP_SEEN_NS_MAX 63              /* longest namespace name */

/* Results of evp_seen_check. */
enum evp_seen_result {
    EVP_SEEN_NEW = 0,   /* not seen within the window (recorded now, when asked to) */
    EVP_SEEN_SEEN = 1,  /* seen within the window */
    EVP_SEEN_FULL = -1, /* cannot be recorded: set at its bound, out of memory, too many
                           sets or a bad argument. Callers refuse, as V2Ray's full filter */
};

typedef struct evp_seen_store evp_seen_store;

/* A new empty store whose sets hold at most max_entries keys per generation (0: the
 * default). NULL when out of memory. */
evp_seen_store *evp_seen_store_new(size_t max_entries);
/* Frees the store and its sets (NULL is fine). */
void evp_seen_store_free(evp_seen_store *st);

/* Looks key up in the set (ns, window_s) at wall-clock time now, creating the set on first
 * use; with record, a key not seen is recorded. A key is remembered for at least window_s
 * and at most 1.5 x window_s seconds (a clock stepping back forgets nothing). The set keeps
 * a keyed 128-bit digest of the key, never the key itself. window_s >= 2. */
int evp_seen_check(evp_seen_store *st, const char *ns, const uint8_t *key, size_t key_len,
                   uint32_t window_s, int64_t now, int record);

/* The process-wide store behind the host services, created on first use and kept for the
 * life of the process (NULL when out of memory). */
evp_seen_store *evp_seen_global(void);

/* The ABI 1.1 host services on the global store and the wall clock. */
int evp_host_replay_seen(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s);
int evp_host_replay_peek(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s);

#endif
