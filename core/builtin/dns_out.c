/* dns outbound, V2Ray 4.34's settings (network, address, port): A and AAAA queries are
 * answered by the daemon's resolver (dns.hosts, dns.servers), anything else goes to the
 * session's destination, or the one settings override, and its reply comes back.
 *
 * A codec cannot wait for a lookup, so every session dials the core's answerer on loopback
 * (dns_out.h) and tells it the destination in a header; after it, both directions are DNS
 * messages behind a 2-byte length: a TCP session's stream as the client framed it (RFC 1035
 * 4.2.2), a UDP session's records (BE16 length + datagram) as they are. */
#include "dns_out.h"
#include "builtin.h"
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

typedef struct dns_inst {
    const evp_host *host;
    uint8_t network;  /* EVP_NET_TCP / EVP_NET_UDP, 0: the session's own */
    evp_addr address; /* EVP_ADDR_NONE: the session's own */
    uint16_t port;    /* 0: the session's own */
} dns_inst;

typedef struct dns_sess {
    const evp_host *host;
    size_t header_len; /* 0 once sent */
    uint8_t header[EVP_DNS_OUT_HEADER_FIXED + 255];
} dns_sess;

static int parse_settings(dns_inst *in, const json_t *o, char *err, size_t errlen)
{
    const char *network, *address;
    long long port;
    if (evp_builtin_get_str(o, "network", "", &network, err, errlen) != 0 ||
        evp_builtin_get_str(o, "address", "", &address, err, errlen) != 0 ||
        evp_builtin_get_int(o, "port", 0, 65535, 0, &port, err, errlen) != 0)
        return -1;
    if (strcasecmp(network, "tcp") == 0)
        in->network = EVP_NET_TCP;
    else if (strcasecmp(network, "udp") == 0)
        in->network = EVP_NET_UDP;
    else if (network[0] != '\0') /* V2Ray reads any other word as "not set" */
        in->host->log(EVP_LOG_WARNING,
                      "dns: settings.network \"%s\" is neither tcp nor udp: the session's own",
                      network);
    if (address[0] != '\0' && evp_builtin_host_addr(&in->address, address) != 0) {
        snprintf(err, errlen, "settings.address: \"%s\" is not an address", address);
        return -1;
    }
    in->port = (uint16_t)port;
    return 0;
}

static void dns_instance_free(void *ip)
{
    dns_inst *in = ip;
    if (in != NULL)
        in->host->free(in);
}

static int parse_any(void *in, const json_t *o, char *err, size_t errlen)
{
    return parse_settings(in, o, err, errlen);
}

static void *dns_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                              size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(dns_inst), parse_any, dns_instance_free, err,
                                    errlen);
}

/* The answerer's port and secret, as the core announced them; -1 when it is not running. */
static int find_answerer(const evp_host *host, uint16_t *port, uint8_t *secret)
{
    uint8_t v[2 + EVP_DNS_OUT_SECRET];
    if (host->abi_minor < 4 || host->state_get == NULL ||
        host->state_get(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY, strlen(EVP_DNS_OUT_STATE_KEY),
                        v, sizeof v) != (long)sizeof v)
        return -1;
    *port = (uint16_t)(v[0] << 8 | v[1]);
    memcpy(secret, v + 2, EVP_DNS_OUT_SECRET);
    memset(v, 0, sizeof v);
    return 0;
}

static void *dns_session_new(void *ip, const evp_addr *target, uint8_t network, evp_addr *dial,
                             char *err, size_t errlen)
{
    dns_inst *in = ip;
    evp_addr dest = target ? *target : (evp_addr){0};
    if (in->address.type != EVP_ADDR_NONE) {
        uint16_t keep = dest.port;
        dest = in->address;
        dest.port = keep;
    }
    if (in->port != 0)
        dest.port = in->port;
    if (dest.type == EVP_ADDR_NONE) {
        snprintf(err, errlen, "dns: no destination");
        return NULL;
    }
    dns_sess *s = in->host->calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = in->host;
    uint16_t port;
    if (find_answerer(in->host, &port, s->header) != 0) {
        snprintf(err, errlen, "dns: the daemon's answerer is not running");
        in->host->free(s);
        return NULL;
    }
    uint8_t *h = s->header + EVP_DNS_OUT_SECRET;
    h[0] = in->network ? in->network : network == EVP_NET_UDP ? EVP_NET_UDP : EVP_NET_TCP;
    h[1] = dest.type;
    h[2] = dest.len;
    h[3] = (uint8_t)(dest.port >> 8);
    h[4] = (uint8_t)dest.port;
    memcpy(h + 5, dest.bytes, dest.len);
    s->header_len = EVP_DNS_OUT_HEADER_FIXED + dest.len;
    memset(dial, 0, sizeof *dial);
    dial->type = EVP_ADDR_IPV4;
    dial->len = 4;
    dial->bytes[0] = 127;
    dial->bytes[3] = 1;
    dial->port = port;
    return s;
}

static void dns_session_free(void *sp)
{
    dns_sess *s = sp;
    if (s != NULL)
        evp_builtin_free_wiped(s->host, s, sizeof *s);
}

static int dns_encode(void *sp, evp_io *io)
{
    dns_sess *s = sp;
    if (s->header_len) {
        if (evp_builtin_put(s->host, io, io->out, s->header, s->header_len) != 0)
            return EVP_ERR;
        memset(s->header, 0, s->header_len);
        s->header_len = 0;
    }
    return evp_builtin_pass(s->host, io);
}

/* Only whole messages go on: for a UDP session each is one record. */
static int dns_decode(void *sp, evp_io *io)
{
    dns_sess *s = sp;
    size_t at = 0;
    while (io->in_len - at >= 2) {
        size_t m = (size_t)(io->in[at] << 8 | io->in[at + 1]);
        if (io->in_len - at < 2 + m)
            break;
        at += 2 + m;
    }
    if (at > 0 && evp_builtin_put(s->host, io, io->out, io->in, at) != 0)
        return EVP_ERR;
    io->consumed = at;
    return io->in_eof ? EVP_EOF : EVP_OK;
}

static const evp_outbound_ops dns_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = dns_instance_new,
    .instance_free = dns_instance_free,
    .session_new = dns_session_new,
    .session_free = dns_session_free,
    .encode = dns_encode,
    .decode = dns_decode,
};

static const evp_plugin dns_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "dns",
    .version = EVP_VERSION,
    .outbound_schema = "dns-outbound",
    .outbound = &dns_outbound,
};

const evp_plugin *evp_builtin_dns(void)
{
    return &dns_plugin;
}
