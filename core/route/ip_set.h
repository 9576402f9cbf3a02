/* A set of IP ranges built from CIDRs (a rule's ip or source list, a geoip tag), kept as
 * sorted, merged ranges per family so a lookup is a binary search however long the list. */
#ifndef EVP_IP_SET_H
#define EVP_IP_SET_H

#include <evproxy/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct evp_ip_set evp_ip_set;

evp_ip_set *evp_ip_set_new(void);
void evp_ip_set_free(evp_ip_set *s);
/* Adds addr/prefix; addr is 4 or 16 bytes (ip_len). A range inside ::ffff:0:0/96 is kept as
 * IPv4, since targets are matched in their IPv4 form. -1 on a bad length or prefix, or
 * out of memory. */
int evp_ip_set_add(evp_ip_set *s, const uint8_t *addr, size_t ip_len, unsigned prefix);
/* Adds "ADDR" or "ADDR/PREFIX" in text; -1 when it is neither. */
int evp_ip_set_add_text(evp_ip_set *s, const char *text);
/* Sorts and merges what was added; call once before lookups. */
void evp_ip_set_seal(evp_ip_set *s);
/* 1 when the sealed set holds a (an EVP_ADDR_IPV4 or EVP_ADDR_IPV6; other types: 0). */
int evp_ip_set_has(const evp_ip_set *s, const evp_addr *a);
/* How many merged ranges (for the tests). */
size_t evp_ip_set_ranges(const evp_ip_set *s);

#endif
