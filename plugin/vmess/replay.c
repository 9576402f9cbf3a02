/* VMess replay defences on the host's sets: one namespace each, windows from §4 and §5. */
#include "replay.h"

#include "host_abi.h"
#include "users.h"

#include <sodium.h>
#include <stddef.h>
#include <string.h>

#define AUTHID_WINDOW 240  /* §5: an AuthID is remembered at least 240 s */
#define SESSION_WINDOW 180 /* §4: the 3 min session history */
/* A legacy auth is valid while |t - now| <= 120: a fuse burnt at any such now must hold
 * until t + 120, at most 240 s later. */
#define TAINT_WINDOW (2 * VMESS_LEGACY_WINDOW)

static int result(int seen)
{
    return seen == 0 ? VMESS_REPLAY_NEW : seen == 1 ? VMESS_REPLAY_SEEN : VMESS_REPLAY_FULL;
}

int vmess_replay_available(const evp_host *host)
{
    return VMESS_HOST_HAS(host, replay_seen) && VMESS_HOST_HAS(host, replay_peek);
}

int vmess_replay_authid(const evp_host *host, const uint8_t authid[16])
{
    return result(host->replay_seen("vmess.authid", authid, 16, AUTHID_WINDOW));
}

int vmess_replay_session(const evp_host *host, const uint8_t uuid[16], const uint8_t key[16],
                         const uint8_t iv[16])
{
    /* The host keeps only a keyed digest of this, so the body key does not stay behind. */
    uint8_t k[48];
    memcpy(k, uuid, 16);
    memcpy(k + 16, key, 16);
    memcpy(k + 32, iv, 16);
    int seen = host->replay_seen("vmess.session", k, sizeof k, SESSION_WINDOW);
    sodium_memzero(k, sizeof k);
    return result(seen);
}

void vmess_replay_taint(const evp_host *host, const uint8_t auth[16])
{
    host->replay_seen("vmess.taint", auth, 16, TAINT_WINDOW);
}

int vmess_replay_tainted(const evp_host *host, const uint8_t auth[16])
{
    return host->replay_peek("vmess.taint", auth, 16, TAINT_WINDOW) == 1;
}
