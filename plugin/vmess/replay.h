/* VMess replay defences (vmess-protocol.md §4, §5): the AuthID filter (memory >= 240 s)
 * and the session history keyed by (primary uuid16, reqKey, reqIV) (memory >= 3 min).
 * Exact sets in rotating generations; bounded memory; safe to share between threads. */
#ifndef VMESS_REPLAY_H
#define VMESS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define VMESS_REPLAY_DEFAULT_MAX (1u << 20) /* entries per generation */

/* Results of the check functions. */
enum vmess_replay_result {
    VMESS_REPLAY_NEW = 0,  /* not seen before: now recorded */
    VMESS_REPLAY_SEEN = 1, /* seen within the memory window: reject */
    VMESS_REPLAY_FULL = 2, /* the filter is at its bound (or out of memory): reject */
};

typedef struct vmess_replay vmess_replay;     /* AuthID filter */
typedef struct vmess_sessions vmess_sessions; /* session history */

/* A new AuthID filter; seed (16 random bytes, caller's) keys its hash; max_entries bounds
 * each of its 3 generations (0: VMESS_REPLAY_DEFAULT_MAX). NULL when out of memory. */
vmess_replay *vmess_replay_new(const uint8_t seed[16], size_t max_entries);
/* Frees the filter (NULL is fine). */
void vmess_replay_free(vmess_replay *r);
/* Records authid seen at now; VMESS_REPLAY_NEW the first time, SEEN if it was recorded in
 * the last 240 s (or up to 360 s), FULL when it cannot be recorded. */
int vmess_replay_check(vmess_replay *r, const uint8_t authid[16], int64_t now);

/* A new session history, as vmess_replay_new(). */
vmess_sessions *vmess_sessions_new(const uint8_t seed[16], size_t max_entries);
/* Frees the history (NULL is fine). */
void vmess_sessions_free(vmess_sessions *s);
/* Records (uuid, key, iv) seen at now; VMESS_REPLAY_NEW the first time, SEEN if recorded in
 * the last 180 s (or up to 270 s), FULL when it cannot be recorded. */
int vmess_sessions_check(vmess_sessions *s, const uint8_t uuid[16], const uint8_t key[16],
                         const uint8_t iv[16], int64_t now);

#endif
