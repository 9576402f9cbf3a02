/* VMess detour (vmess-protocol.md §7 SwitchAccount).
 * Inbound side: a process-wide registry of vmess inbound instances by tag, so an inbound
 * with detour.to can ask its target for the account of a user (by email).
 * Outbound side: the account a server switched us to, used until it expires. */
#ifndef VMESS_DETOUR_H
#define VMESS_DETOUR_H

#include "command.h"
#include "evproxy/plugin.h"

#include <pthread.h>
#include <stdint.h>

/* Fills *sa (port, uuid, alterId, level; host empty) with the account of email, creating
 * it if needed; 0, or -1 when none can be given. Called with the registry locked. */
typedef int (*vmess_detour_account_fn)(void *owner, const char *email, vmess_switch_account *sa);

/* A registry entry, embedded in its owner (an inbound instance). */
typedef struct vmess_detour_node {
    struct vmess_detour_node *next;
    char tag[128];
    void *owner;
    vmess_detour_account_fn account;
} vmess_detour_node;

/* Adds node under tag (copied; truncated to 127 bytes) for owner. */
void vmess_detour_register(vmess_detour_node *node, const char *tag, void *owner,
                           vmess_detour_account_fn account);
/* Removes node; after it returns, no call to its account function is running or starts. */
void vmess_detour_unregister(vmess_detour_node *node);
/* Builds the SwitchAccount for email from the inbound tagged to; 0, or -1 (no such
 * inbound, or it gave no account). */
int vmess_detour_switch(const char *to, const char *email, vmess_switch_account *sa);

/* Outbound side: the account a SwitchAccount named, valid until `until` (monotonic s). */
typedef struct vmess_detour_slot {
    pthread_mutex_t lock;
    int valid;
    double until;
    evp_addr server; /* where to dial */
    uint8_t uuid[16];
    uint16_t alter_id;
    uint8_t level;
    uint8_t (*alter_ids)[16]; /* alter_id alternative ids (malloc'd), or NULL */
} vmess_detour_slot;

/* The account a session should use: id (a random alternative when alterId > 0, else the
 * primary), the primary uuid, alterId and where to dial. */
typedef struct vmess_detour_pick {
    evp_addr server;
    uint8_t id[16];
    uint8_t uuid[16];
    uint16_t alter_id;
} vmess_detour_pick;

/* Initialises an empty slot; 0 or -1. */
int vmess_detour_slot_init(vmess_detour_slot *s);
/* Frees what the slot holds and destroys its lock. */
void vmess_detour_slot_destroy(vmess_detour_slot *s);
/* Records sa, received from a server at `from`, at monotonic time now; 0, or -1 when out
 * of memory (the previous account stays). */
int vmess_detour_slot_accept(vmess_detour_slot *s, const vmess_switch_account *sa,
                             const evp_addr *from, double now);
/* If an unexpired account is held at now, fills *pick (alternative id number r mod alterId
 * when alterId > 0; r is random) and returns 1; else 0. */
int vmess_detour_slot_pick(vmess_detour_slot *s, double now, uint32_t r, vmess_detour_pick *pick);

#endif
