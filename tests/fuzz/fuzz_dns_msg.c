/* Fuzz target: the dns outbound's question parser and reply builder (core/builtin/
 * dns_msg.c). Input: a DNS message as a client sends it. Checked: the parser reads only the
 * bytes given (a private copy, so ASan sees a read past them); an IP query's name is
 * NUL-terminated text of the said length with no empty label; and the reply built for it
 * (two addresses of each family) holds the query's id, the question and one answer per
 * address of the query's family, and fits its buffer exactly as said. */
#include "builtin/dns_msg.h"

#include <stdlib.h>
#include <string.h>

static void check_reply(const evp_dns_query *q)
{
    evp_addr ips[4] = {{.type = EVP_ADDR_IPV4, .len = 4, .bytes = {1, 2, 3, 4}},
                       {.type = EVP_ADDR_IPV6, .len = 16, .bytes = {0x20, 1}},
                       {.type = EVP_ADDR_IPV4, .len = 4, .bytes = {5, 6, 7, 8}},
                       {.type = EVP_ADDR_IPV6, .len = 16, .bytes = {0xFE, 0x80}}};
    uint8_t out[EVP_DNS_MSG_MAX];
    size_t n = evp_dns_build_reply(q, 0, ips, 4, out, sizeof out);
    size_t rd = q->qtype == EVP_DNS_TYPE_A ? 4 : 16;
    if (n != 12 + q->name_len + 2 + 4 + 2 * (12 + rd))
        abort();
    if ((out[0] << 8 | out[1]) != q->id || out[5] != 1 || out[7] != 2)
        abort();
    /* One byte short of room: nothing is written past it, and 0 comes back. */
    uint8_t *tight = malloc(n - 1);
    if (tight == NULL || evp_dns_build_reply(q, 0, ips, 4, tight, n - 1) != 0)
        abort();
    free(tight);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    evp_dns_query q;
    int r = evp_dns_parse_ip_query(copy, size, &q);
    free(copy);
    if (r != 0 && r != 1)
        abort();
    if (r == 0)
        return 0;
    if (q.qtype != EVP_DNS_TYPE_A && q.qtype != EVP_DNS_TYPE_AAAA)
        abort();
    if (q.name_len == 0 || q.name_len > 253 || strlen(q.name) != q.name_len || q.name[0] == '.' ||
        q.name[q.name_len - 1] == '.' || strstr(q.name, "..") != NULL)
        abort();
    check_reply(&q);
    return 0;
}
