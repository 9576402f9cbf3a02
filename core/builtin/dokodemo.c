/* dokodemo-door inbound: every connection goes to one configured target; bytes pass through.
 *
 * followRedirect (the target from SO_ORIGINAL_DST) is a socket matter the codec cannot see,
 * so it is refused at instance_new. With network "tcp,udp" the codec names TCP: it cannot
 * tell which socket a session came from, so the host sets a UDP session's network itself. */
#include "builtin.h"
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

enum { NET_TCP = 1, NET_UDP = 2 };

typedef struct doko_inst {
    const evp_host *host;
    evp_addr target;
    unsigned networks; /* NET_TCP | NET_UDP */
    uint32_t timeout, level;
} doko_inst;

typedef struct doko_sess {
    const doko_inst *inst; /* the host keeps the instance alive while sessions run */
    int named;             /* EVP_TARGET was returned */
} doko_sess;

/* Adds one network name ("tcp", "udp", any case, spaces around) to *mask. */
static int add_network(const char *s, size_t n, unsigned *mask)
{
    while (n > 0 && *s == ' ') {
        s++;
        n--;
    }
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 3 && strncasecmp(s, "tcp", 3) == 0)
        *mask |= NET_TCP;
    else if (n == 3 && strncasecmp(s, "udp", 3) == 0)
        *mask |= NET_UDP;
    else
        return -1;
    return 0;
}

/* network: "tcp", "udp", "tcp,udp" or ["tcp", "udp"], as V2Ray's NetworkList. */
static int parse_networks(const json_t *v, unsigned *mask, char *err, size_t errlen)
{
    *mask = 0;
    if (v == NULL || json_is_null(v)) {
        *mask = NET_TCP;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t)(comma - s) : strlen(s);
            if (add_network(s, n, mask) != 0)
                goto bad;
            if (comma == NULL)
                break;
            s = comma + 1;
        }
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_string(e) ||
                add_network(json_string_value(e), json_string_length(e), mask) != 0)
                goto bad;
        }
        return 0;
    }
bad:
    snprintf(err, errlen, "settings.network: expected \"tcp\", \"udp\" or \"tcp,udp\"");
    return -1;
}

static int parse_settings(doko_inst *in, const json_t *o, char *err, size_t errlen)
{
    const char *address;
    int redirect;
    long long port, timeout, level;
    if (evp_builtin_get_str(o, "address", NULL, &address, err, errlen) != 0 ||
        evp_builtin_get_int(o, "port", 0, 65535, 0, &port, err, errlen) != 0 ||
        evp_builtin_get_bool(o, "followRedirect", 0, &redirect, err, errlen) != 0 ||
        evp_builtin_get_int(o, "timeout", 0, UINT32_MAX, 0, &timeout, err, errlen) != 0 ||
        evp_builtin_get_int(o, "userLevel", 0, UINT32_MAX, 0, &level, err, errlen) != 0 ||
        parse_networks(json_object_get(o, "network"), &in->networks, err, errlen) != 0)
        return -1;
    if (redirect) {
        snprintf(err, errlen, "settings.followRedirect: transparent proxying is not supported");
        return -1;
    }
    if (address == NULL) {
        snprintf(err, errlen, "settings.address: required (the fixed target)");
        return -1;
    }
    if (evp_builtin_host_addr(&in->target, address) != 0) {
        snprintf(err, errlen, "settings.address: \"%s\" is not an IP address or domain", address);
        return -1;
    }
    /* No port (0) passes, as in V2Ray 4.34: a multiplexer's name (v2ray-plugin's server points
     * at "v1.mux.cool") needs none; any other such target fails at connect. */
    in->target.port = (uint16_t)port;
    in->timeout = (uint32_t)timeout;
    in->level = (uint32_t)level;
    return 0;
}

static void doko_instance_free(void *ip)
{
    doko_inst *in = ip;
    if (in != NULL)
        in->host->free(in);
}

static int parse_any(void *in, const json_t *o, char *err, size_t errlen)
{
    return parse_settings(in, o, err, errlen);
}

static void *doko_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                               size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(doko_inst), parse_any, doko_instance_free,
                                    err, errlen);
}

static void *doko_session_new(void *ip)
{
    return evp_builtin_session_new(ip, sizeof(doko_sess));
}

static int doko_decode(void *sp, evp_io *io)
{
    doko_sess *s = sp;
    if (!s->named) {
        /* The target is fixed: name it at once; any input is presented again. */
        s->named = 1;
        io->target = s->inst->target;
        io->network = s->inst->networks & NET_TCP ? EVP_NET_TCP : EVP_NET_UDP;
        io->consumed = 0;
        return EVP_TARGET;
    }
    return evp_builtin_pass_decode(s->inst->host, io);
}

static int doko_encode(void *sp, evp_io *io)
{
    doko_sess *s = sp;
    return evp_builtin_pass(s->inst->host, io);
}

/* settings.userLevel: the policy level of every session, as in V2Ray. */
static uint32_t doko_session_level(void *sp)
{
    return ((doko_sess *)sp)->inst->level;
}

static const evp_inbound_ops doko_inbound = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = doko_instance_new,
    .instance_free = doko_instance_free,
    .session_new = doko_session_new,
    .session_free = evp_builtin_session_free,
    .decode = doko_decode,
    .encode = doko_encode,
    .session_level = doko_session_level,
    .flags = EVP_IN_PASS,
};

static const evp_plugin doko_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "dokodemo-door",
    .version = EVP_VERSION,
    .inbound_schema = "dokodemo-door-inbound",
    .inbound = &doko_inbound,
};

const evp_plugin *evp_builtin_dokodemo(void)
{
    return &doko_plugin;
}
