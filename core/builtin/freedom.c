/* freedom outbound: dial the target itself (or settings.redirect) and pass bytes through.
 *
 * redirect is "host:port" as Go's net.SplitHostPort reads it ("[v6]:port" for IPv6); an
 * empty host or 0.0.0.0 keeps the target's host and port 0 keeps its port, as V2Ray does.
 * domainStrategy is V2Ray 4.34's (freedom.go resolveIP): UseIPv4 dials a name's A addresses
 * only, UseIPv6 its AAAA ones, UseIP either (or the family of sendThrough, when set); the core
 * resolves (evp_builtin_dial_family says which family) and dials the first address. AsIs, and
 * an unknown value (warned), leave the name to the core as any other outbound's. */
#include "builtin.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

enum domain_strategy { DS_ASIS, DS_USEIP, DS_USEIP4, DS_USEIP6 };

typedef struct freedom_inst {
    const evp_host *host;
    int strategy; /* enum domain_strategy */
    uint32_t level;
    evp_addr redirect; /* type EVP_ADDR_NONE: keep the target's host; port 0: keep its port */
} freedom_inst;

typedef struct freedom_sess {
    const evp_host *host;
} freedom_sess;

static int parse_strategy(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {
        {"useip", DS_USEIP},     {"use_ip", DS_USEIP},     {"useip4", DS_USEIP4},
        {"useipv4", DS_USEIP4},  {"use_ipv4", DS_USEIP4},  {"use_ip_v4", DS_USEIP4},
        {"use_ip4", DS_USEIP4},  {"useip6", DS_USEIP6},    {"useipv6", DS_USEIP6},
        {"use_ipv6", DS_USEIP6}, {"use_ip_v6", DS_USEIP6}, {"use_ip6", DS_USEIP6},
        {"asis", DS_ASIS},       {"as_is", DS_ASIS},       {"", DS_ASIS},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].value;
    return -1;
}

/* Splits "host:port" / "[host]:port" like Go's net.SplitHostPort and fills in->redirect. */
static int parse_redirect(freedom_inst *in, const char *text, char *err, size_t errlen)
{
    char host[300];
    const char *port;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        hlen = (size_t)(close - text - 1);
        if (hlen >= sizeof host)
            goto bad;
        memcpy(host, text + 1, hlen);
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
            goto bad; /* no port, or an IPv6 literal without brackets */
        hlen = (size_t)(colon - text);
        if (hlen >= sizeof host)
            goto bad;
        memcpy(host, text, hlen);
        port = colon + 1;
    }
    host[hlen] = '\0';
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) > 65535) {
        snprintf(err, errlen, "settings.redirect: bad port in \"%s\"", text);
        return -1;
    }
    in->redirect.port = (uint16_t)atoi(port);
    if (hlen == 0 || strcmp(host, "0.0.0.0") == 0)
        return 0;
    if (evp_builtin_host_addr(&in->redirect, host) != 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "settings.redirect: \"%s\" is not host:port", text);
    return -1;
}

static int parse_settings(freedom_inst *in, const json_t *o, char *err, size_t errlen)
{
    const char *strategy, *redirect;
    long long timeout, level;
    if (evp_builtin_get_str(o, "domainStrategy", "AsIs", &strategy, err, errlen) != 0 ||
        evp_builtin_get_str(o, "redirect", "", &redirect, err, errlen) != 0 ||
        evp_builtin_get_int(o, "timeout", 0, UINT32_MAX, 0, &timeout, err, errlen) != 0 ||
        evp_builtin_get_int(o, "userLevel", 0, UINT32_MAX, 0, &level, err, errlen) != 0)
        return -1;
    in->strategy = parse_strategy(strategy);
    if (in->strategy < 0) {
        in->host->log(EVP_LOG_WARNING, "freedom: unknown domainStrategy \"%s\", using AsIs",
                      strategy);
        in->strategy = DS_ASIS;
    }
    in->level = (uint32_t)level;
    if (redirect[0] != '\0' && parse_redirect(in, redirect, err, errlen) != 0)
        return -1;
    return 0;
}

static void freedom_instance_free(void *ip)
{
    freedom_inst *in = ip;
    if (in != NULL)
        in->host->free(in);
}

static int parse_any(void *in, const json_t *o, char *err, size_t errlen)
{
    return parse_settings(in, o, err, errlen);
}

static void *freedom_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                                  size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(freedom_inst), parse_any,
                                    freedom_instance_free, err, errlen);
}

static void *freedom_session_new(void *ip, const evp_addr *target, uint8_t network, evp_addr *dial,
                                 char *err, size_t errlen)
{
    freedom_inst *in = ip;
    if (target == NULL || target->type == EVP_ADDR_NONE) {
        snprintf(err, errlen, "freedom: no target to dial");
        return NULL;
    }
    freedom_sess *s = in->host->calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = in->host;
    *dial = *target;
    if (in->redirect.type != EVP_ADDR_NONE) {
        uint16_t port = dial->port;
        *dial = in->redirect;
        dial->port = port;
    }
    if (in->redirect.port != 0)
        dial->port = in->redirect.port;
    return s;
}

static void freedom_session_free(void *sp)
{
    freedom_sess *s = sp;
    if (s != NULL)
        s->host->free(s);
}

static int freedom_encode(void *sp, evp_io *io)
{
    freedom_sess *s = sp;
    return evp_builtin_pass(s->host, io);
}

static int freedom_decode(void *sp, evp_io *io)
{
    freedom_sess *s = sp;
    return evp_builtin_pass_decode(s->host, io);
}

static const evp_outbound_ops freedom_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = freedom_instance_new,
    .instance_free = freedom_instance_free,
    .session_new = freedom_session_new,
    .session_free = freedom_session_free,
    .encode = freedom_encode,
    .decode = freedom_decode,
    .flags = EVP_OUT_DATAGRAM | EVP_OUT_PASS, /* UDP sessions go out as real datagrams */
};

static const evp_plugin freedom_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "freedom",
    .version = EVP_VERSION,
    .outbound_schema = "freedom-outbound",
    .outbound = &freedom_outbound,
};

const evp_plugin *evp_builtin_freedom(void)
{
    return &freedom_plugin;
}

int evp_builtin_dial_family(const evp_plugin *p, const void *inst, const evp_addr *send_through)
{
    const freedom_inst *in = inst;
    if (p != &freedom_plugin || in == NULL || in->strategy == DS_ASIS)
        return AF_UNSPEC;
    /* V2Ray's order: UseIPv4 or an IPv4 sendThrough first, then UseIPv6 or an IPv6 one. */
    if (in->strategy == DS_USEIP4 || send_through->type == EVP_ADDR_IPV4)
        return AF_INET;
    if (in->strategy == DS_USEIP6 || send_through->type == EVP_ADDR_IPV6)
        return AF_INET6;
    return AF_UNSPEC;
}
