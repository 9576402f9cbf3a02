/* What the dns outbound (dns_out.c) and the core's answerer behind it (core/server/
 * dns_answerer.c) agree on. The outbound is a sans-I/O codec and cannot wait for the
 * resolver, so its sessions dial the answerer, a loopback listener of the daemon's, and
 * start with a header naming where forwarded queries go; DNS messages follow, each behind
 * its 2-byte length (RFC 1035 4.2.2), both ways. */
#ifndef EVP_DNS_OUT_H
#define EVP_DNS_OUT_H

/* The state store entry where the answerer announces itself: key "endpoint", value its
 * port (BE16) then the secret (EVP_DNS_OUT_SECRET bytes) a header must start with. */
#define EVP_DNS_OUT_STATE_NS "evp.dns.outbound"
#define EVP_DNS_OUT_STATE_KEY "endpoint"
#define EVP_DNS_OUT_SECRET 16

/* Header: secret, network of the destination (enum evp_network: TCP or UDP), address type
 * (enum evp_addr_type), address length, port (BE16), address bytes. */
#define EVP_DNS_OUT_HEADER_FIXED (EVP_DNS_OUT_SECRET + 5)

#endif
