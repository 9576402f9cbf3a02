/* The distinct client addresses a user holds at once, for the "ips" limit: an address counts
 * while a session from it runs and for a grace window after its last one ends, so that a
 * phone changing networks does not lose its place to another device at once. */
#ifndef EVP_IP_GRACE_H
#define EVP_IP_GRACE_H

#include <stddef.h>
#include <stdint.h>

#define EVP_IP_GRACE_SECONDS 60.0

typedef struct evp_ip_grace_slot {
    uint8_t addr[16]; /* IPv6, or IPv4 mapped into IPv6 */
    uint32_t active;  /* sessions from it now */
    double released;  /* when its last session ended (active 0) */
} evp_ip_grace_slot;

typedef struct evp_ip_grace {
    evp_ip_grace_slot *slot; /* owned */
    size_t n, cap;
} evp_ip_grace;

/* A session from addr starts at time now: 1 taken, 0 refused because max other addresses
 * (max 0: no limit) are held, -1 out of memory. */
int evp_ip_grace_take(evp_ip_grace *set, const uint8_t addr[16], uint32_t max, double grace,
                      double now);
/* A session from addr ended at time now. */
void evp_ip_grace_release(evp_ip_grace *set, const uint8_t addr[16], double now);
/* Addresses held at time now (running sessions, or ended within grace). */
size_t evp_ip_grace_held(const evp_ip_grace *set, double grace, double now);
void evp_ip_grace_free(evp_ip_grace *set);

#endif
