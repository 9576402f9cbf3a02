/* DNS question parsing and IP answer building for the dns outbound (see dns_msg.h). */
#include "dns_msg.h"

#include <string.h>

#define HEADER_LEN 12
#define MAX_POINTERS 10 /* as Go's dnsmessage, which V2Ray parses with */

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/* Reads the name at *pos into q->name; *pos moves past it (past the first pointer when
 * compressed). 0, or -1 on anything malformed or not plain text. */
static int read_name(const uint8_t *msg, size_t len, size_t *pos, evp_dns_query *q)
{
    size_t at = *pos, wire = 0, out = 0;
    int pointers = 0;
    size_t resume = 0;
    for (;;) {
        if (at >= len)
            return -1;
        uint8_t l = msg[at];
        if ((l & 0xC0) == 0xC0) {
            if (at + 1 >= len || ++pointers > MAX_POINTERS)
                return -1;
            size_t to = (size_t)((l & 0x3F) << 8 | msg[at + 1]);
            if (to >= at) /* only backwards: no loops, no forward references */
                return -1;
            if (pointers == 1)
                resume = at + 2;
            at = to;
            continue;
        }
        if (l & 0xC0)
            return -1; /* the reserved label types */
        wire += (size_t)l + 1;
        if (wire > 255)
            return -1;
        if (l == 0)
            break;
        if (at + 1 + l > len)
            return -1;
        if (out > 0)
            q->name[out++] = '.';
        for (size_t i = 0; i < l; i++) {
            uint8_t c = msg[at + 1 + i];
            if (c <= 0x20 || c >= 0x7F || c == '.')
                return -1; /* a name our resolver could not ask for as text */
            q->name[out++] = (char)c;
        }
        at += (size_t)l + 1;
    }
    if (out == 0)
        return -1; /* the root: nothing to look up */
    q->name[out] = '\0';
    q->name_len = out;
    *pos = pointers ? resume : at + 1;
    return 0;
}

int evp_dns_parse_ip_query(const uint8_t *msg, size_t len, evp_dns_query *q)
{
    memset(q, 0, sizeof *q);
    if (msg == NULL || len < HEADER_LEN)
        return 0;
    if ((msg[2] & 0x80) || (msg[2] & 0x78)) /* a response, or not a standard query */
        return 0;
    if (be16(msg + 4) != 1)
        return 0;
    size_t pos = HEADER_LEN;
    if (read_name(msg, len, &pos, q) != 0 || pos + 4 > len)
        return 0;
    uint16_t type = be16(msg + pos), cls = be16(msg + pos + 2);
    if ((type != EVP_DNS_TYPE_A && type != EVP_DNS_TYPE_AAAA) || cls != EVP_DNS_CLASS_IN)
        return 0;
    q->id = be16(msg);
    q->qtype = type;
    return 1;
}

size_t evp_dns_build_reply(const evp_dns_query *q, int rcode, const evp_addr *addrs, size_t n,
                           uint8_t *out, size_t cap)
{
    uint8_t want = q->qtype == EVP_DNS_TYPE_A ? EVP_ADDR_IPV4 : EVP_ADDR_IPV6;
    size_t rdlen = want == EVP_ADDR_IPV4 ? 4 : 16, answers = 0;
    for (size_t i = 0; i < n; i++)
        if (addrs[i].type == want && answers < EVP_DNS_ANSWERS_MAX)
            answers++;
    size_t need = HEADER_LEN + q->name_len + 2 + 4 + answers * (12 + rdlen);
    if (q->name_len == 0 || q->name_len > 253 || need > cap)
        return 0;
    uint8_t *p = put16(out, q->id);
    *p++ = 0x81;                             /* QR, RD: V2Ray sets both, whatever the query had */
    *p++ = (uint8_t)(0x80 | (rcode & 0x0F)); /* RA */
    p = put16(put16(put16(put16(p, 1), (unsigned)answers), 0), 0);
    const char *label = q->name;
    while (*label) {
        const char *dot = strchr(label, '.');
        size_t l = dot ? (size_t)(dot - label) : strlen(label);
        if (l == 0 || l > 63)
            return 0;
        *p++ = (uint8_t)l;
        memcpy(p, label, l);
        p += l;
        label += l + (dot ? 1 : 0);
    }
    *p++ = 0;
    p = put16(put16(p, q->qtype), EVP_DNS_CLASS_IN);
    size_t written = 0;
    for (size_t i = 0; i < n && written < answers; i++) {
        if (addrs[i].type != want)
            continue;
        p = put16(p, 0xC000 | HEADER_LEN); /* the question's name */
        p = put16(put16(p, q->qtype), EVP_DNS_CLASS_IN);
        p = put16(put16(p, EVP_DNS_ANSWER_TTL >> 16), EVP_DNS_ANSWER_TTL & 0xFFFF);
        p = put16(p, (unsigned)rdlen);
        memcpy(p, addrs[i].bytes, rdlen);
        p += rdlen;
        written++;
    }
    return (size_t)(p - out);
}
