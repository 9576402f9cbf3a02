/* VMess replay defences (vmess-protocol.md §4, §5) on the host's "seen recently" sets (ABI
 * 1.1): the AuthID filter (memory >= 240 s), the session history keyed by (primary uuid16,
 * reqKey, reqIV) (memory >= 3 min) and the legacy taint fuses. The host owns them, so a
 * reload or a hot swap of this plugin forgets nothing; the plugin keeps no state. */
#ifndef VMESS_REPLAY_H
#define VMESS_REPLAY_H

#include "evproxy/plugin.h"

#include <stdint.h>

/* Results of the check functions. */
enum vmess_replay_result {
    VMESS_REPLAY_NEW = 0,  /* not seen before: now recorded */
    VMESS_REPLAY_SEEN = 1, /* seen within the memory window: reject */
    VMESS_REPLAY_FULL = 2, /* the filter is at its bound (or out of memory): reject */
};

/* True when host offers the ABI 1.1 services these need. */
int vmess_replay_available(const evp_host *host);
/* Records an AEAD AuthID: NEW the first time, SEEN within 240 s (up to 360 s), or FULL. */
int vmess_replay_authid(const evp_host *host, const uint8_t authid[16]);
/* Records (uuid, key, iv): NEW the first time, SEEN within 180 s (up to 270 s), or FULL. */
int vmess_replay_session(const evp_host *host, const uint8_t uuid[16], const uint8_t key[16],
                         const uint8_t iv[16]);
/* Burns the taint fuse of a legacy auth: it is refused for the rest of its validity. */
void vmess_replay_taint(const evp_host *host, const uint8_t auth[16]);
/* True when auth's fuse is burnt. */
int vmess_replay_tainted(const evp_host *host, const uint8_t auth[16]);

#endif
