/* VMess detour (vmess-protocol.md §7 SwitchAccount), on the host's state store (ABI 1.4), so
 * that a reload or a hot swap of the plugin forgets nothing (plugin.h's 1.1/1.4 rule):
 * - which inbound answers to a tag: each vmess inbound registers itself (its port and the
 *   defaults of accounts made on demand); the newest registration of a tag wins;
 * - the accounts of a detour target, by (tag, email): its configured users with an email,
 *   and the accounts made on demand for users another inbound switches there;
 * - an outbound's switched account, by (tag, settings), until its validity ends.
 * Without a 1.4 host there is no detour: no SwitchAccount is sent, none is followed. */
#ifndef VMESS_DETOUR_H
#define VMESS_DETOUR_H

#include "command.h"
#include "evproxy/plugin.h"
#include "settings.h"

#include <pthread.h>
#include <stdint.h>

/* True when host h offers the state store. */
int vmess_detour_available(const evp_host *h);

/* ---- inbound side ---- */

/* An inbound's registration: its tag and its own key among the tag's registrations. */
typedef struct vmess_detour_reg {
    char tag[128];
    uint8_t id[8];    /* random: tells this instance's registration from others' */
    uint64_t created; /* when first registered (ns, monotonic): the newest wins */
} vmess_detour_reg;

/* An account a detour target accepts, as read back from the store. */
typedef struct vmess_detour_user {
    uint8_t uuid[16];
    uint16_t alter_id;
    uint8_t level;
    char *email; /* owned (vmess_alloc) */
} vmess_detour_user;

/* Registers (or updates) the inbound tagged tag with cfg's port and defaults, and publishes
 * cfg's users that have an email as the tag's configured accounts (dropping configured
 * accounts cfg no longer has). reg->created is kept across updates. 0, or -1 (store full). */
int vmess_detour_publish(const evp_host *h, vmess_detour_reg *reg, const char *tag,
                         const vmess_inbound_cfg *cfg);
/* Removes the registration (the accounts stay for the next instance with the tag). */
void vmess_detour_withdraw(const evp_host *h, const vmess_detour_reg *reg);
/* Source side: the SwitchAccount for email toward the inbound tagged to, made on demand
 * (a random account with the target's defaults) and renewed for its validity; 0, or -1
 * (no inbound with that tag and a port, or the store refused). */
int vmess_detour_switch(const evp_host *h, const char *to, const char *email,
                        vmess_switch_account *sa);
/* Target side: the accounts made on demand for tag (configured users excluded: cfg has
 * them), in *users (vmess_alloc'd array, free with vmess_detour_users_free), their count in
 * *n; returns the store's change count, which moves when any account changes (0 without a
 * store). -1 cast to uint64_t when out of memory. */
uint64_t vmess_detour_users(const evp_host *h, const char *tag, vmess_detour_user **users,
                            size_t *n);
/* The store's change count of the accounts, without reading them. */
uint64_t vmess_detour_users_version(const evp_host *h);
void vmess_detour_users_free(vmess_detour_user *users, size_t n);

/* ---- outbound side ---- */

/* The outbound's switched account: the store holds it (under the outbound's tag and a
 * digest of its settings); the slot caches its alternative ids. */
typedef struct vmess_detour_slot {
    const evp_host *host;
    pthread_mutex_t lock; /* guards the cache */
    uint8_t key[128 + 1 + 16]; /* tag, NUL, settings digest */
    size_t key_len;
    uint8_t uuid[16];           /* the account the cache was made for */
    uint16_t alter_id;
    uint8_t (*alter_ids)[16];   /* alter_id alternative ids (vmess_alloc'd), or NULL */
} vmess_detour_slot;

/* The account a session should use: id (a random alternative when alterId > 0, else the
 * primary), the primary uuid, alterId and where to dial. */
typedef struct vmess_detour_pick {
    evp_addr server;
    uint8_t id[16];
    uint8_t uuid[16];
    uint16_t alter_id;
} vmess_detour_pick;

/* Initialises an empty slot for the outbound tag with these settings; 0 or -1. */
int vmess_detour_slot_init(vmess_detour_slot *s, const evp_host *h, const char *tag,
                           const char *settings_json);
/* Frees the cache and destroys the lock (the store keeps the account). */
void vmess_detour_slot_destroy(vmess_detour_slot *s);
/* Records sa, received from a server at `from`, for sa->valid_min minutes; 0, or -1 (no
 * store, or it refused). */
int vmess_detour_slot_accept(vmess_detour_slot *s, const vmess_switch_account *sa,
                             const evp_addr *from);
/* If an unexpired account is held, fills *pick (alternative id number r mod alterId when
 * alterId > 0; r is random) and returns 1; else 0 (also when out of memory). */
int vmess_detour_slot_pick(vmess_detour_slot *s, uint32_t r, vmess_detour_pick *pick);

#endif
