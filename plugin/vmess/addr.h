/* The port-first address both the VMess request header (vmess-protocol.md §6) and Mux.Cool
 * frames (README "### Mux.Cool") carry: BE16 port, type (1 IPv4, 2 domain, 3 IPv6), then the
 * address (a domain as a length byte and its bytes). V2Ray 4.34 parses both with one parser,
 * so both accept and refuse the same addresses. */
#ifndef VMESS_ADDR_H
#define VMESS_ADDR_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* The longest encoding: port 2 + type 1 + length 1 + domain 255. */
#define VMESS_ADDR_MAX (2 + 1 + 1 + 255)

/* Negative results of vmess_addr_decode. */
enum vmess_addr_result {
    VMESS_ADDR_SHORT = -1,      /* the bytes end inside the address */
    VMESS_ADDR_BAD_TYPE = -2,   /* type not 1, 2 or 3 */
    VMESS_ADDR_BAD_DOMAIN = -3, /* empty, or a character outside [0-9A-Za-z._-] */
};

/* Decodes port, type and address from p[0..len) into a (zeroed first). A domain that is an
 * IP literal (incl. "[v6]") and a v4-mapped IPv6 address become IPv4/IPv6 targets, as in
 * V2Ray. Returns the bytes used (> 0) or a VMESS_ADDR_* error. */
int vmess_addr_decode(evp_addr *a, const uint8_t *p, size_t len);

/* Encodes a into out (room for VMESS_ADDR_MAX bytes). Returns the length, or -1 for an
 * unknown type or an empty domain. */
int vmess_addr_encode(const evp_addr *a, uint8_t *out);

#endif
