/* The one piece of a DNS message (RFC 1035) the dns outbound reads and the one it writes:
 * an A/AAAA query's question, and the reply that answers it with addresses, as V2Ray 4.34's
 * dns outbound does (proxy/dns: ParseIPQuery, handleIPQuery). Bounded and strict: anything
 * else is "not an IP query" and goes to the name server unchanged. */
#ifndef EVP_DNS_MSG_H
#define EVP_DNS_MSG_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

#define EVP_DNS_TYPE_A 1
#define EVP_DNS_TYPE_AAAA 28
#define EVP_DNS_CLASS_IN 1
#define EVP_DNS_RCODE_SERVFAIL 2
#define EVP_DNS_RCODE_NXDOMAIN 3
/* The TTL V2Ray's dns outbound gives every address it answers with. */
#define EVP_DNS_ANSWER_TTL 600
/* Header, a 255-byte name, type and class, and this many 16-byte answers fit EVP_DNS_MSG_MAX. */
#define EVP_DNS_ANSWERS_MAX 16
#define EVP_DNS_MSG_MAX 1024

typedef struct evp_dns_query {
    uint16_t id;
    uint16_t qtype; /* EVP_DNS_TYPE_A or EVP_DNS_TYPE_AAAA */
    size_t name_len;
    char name[256]; /* dotted, no trailing dot, NUL-terminated, as the query spelled it */
} evp_dns_query;

/* 1 when msg (len bytes) is a query with exactly one question, of type A or AAAA and class
 * IN, whose name is printable text (compression pointers followed backwards only, at most
 * 10): q is filled. 0 for anything else, truncated or hostile input included. */
int evp_dns_parse_ip_query(const uint8_t *msg, size_t len, evp_dns_query *q);

/* Writes into out (cap bytes) the reply to q: rcode, q's id and question, and one answer of
 * q's type per address of the matching family in addrs[0..n) (others skipped, at most
 * EVP_DNS_ANSWERS_MAX), TTL EVP_DNS_ANSWER_TTL. Its length, or 0 when cap is too small. */
size_t evp_dns_build_reply(const evp_dns_query *q, int rcode, const evp_addr *addrs, size_t n,
                           uint8_t *out, size_t cap);

#endif
