/* blackhole outbound: dials nothing, swallows what the client sends and, for response type
 * "http", answers with V2Ray's 403 reply when the (absent) server side ends. */
#include "builtin.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

/* The bytes V2Ray 4.34 sends (proxy/blackhole/config.go): bare LF line ends, two blank lines. */
static const char http403[] = "HTTP/1.1 403 Forbidden\n"
                              "Connection: close\n"
                              "Cache-Control: max-age=3600, public\n"
                              "Content-Length: 0\n"
                              "\n"
                              "\n";

typedef struct blackhole_inst {
    const evp_host *host;
    int http; /* response type "http" */
} blackhole_inst;

typedef struct blackhole_sess {
    const evp_host *host;
    int http;
    int answered;
} blackhole_sess;

static int parse_settings(blackhole_inst *in, const json_t *o, char *err, size_t errlen)
{
    const json_t *resp = json_object_get(o, "response");
    if (resp == NULL || json_is_null(resp))
        return 0;
    if (!json_is_object(resp)) {
        snprintf(err, errlen, "settings.response: not an object");
        return -1;
    }
    const char *type;
    if (evp_builtin_get_str(resp, "type", "none", &type, err, errlen) != 0) {
        snprintf(err, errlen, "settings.response.type: not a string");
        return -1;
    }
    if (strcmp(type, "http") == 0) {
        in->http = 1;
    } else if (strcmp(type, "none") != 0) {
        snprintf(err, errlen, "settings.response.type: \"%s\" is neither \"none\" nor \"http\"",
                 type);
        return -1;
    }
    return 0;
}

static void blackhole_instance_free(void *ip)
{
    blackhole_inst *in = ip;
    if (in != NULL)
        in->host->free(in);
}

static int parse_any(void *in, const json_t *o, char *err, size_t errlen)
{
    return parse_settings(in, o, err, errlen);
}

static void *blackhole_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                                    size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(blackhole_inst), parse_any,
                                    blackhole_instance_free, err, errlen);
}

static void *blackhole_session_new(void *ip, const evp_addr *target, uint8_t network,
                                   evp_addr *dial, char *err, size_t errlen)
{
    blackhole_inst *in = ip;
    blackhole_sess *s = in->host->calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = in->host;
    s->http = in->http;
    memset(dial, 0, sizeof *dial);
    dial->type = EVP_ADDR_NONE;
    return s;
}

static void blackhole_session_free(void *sp)
{
    blackhole_sess *s = sp;
    if (s != NULL)
        s->host->free(s);
}

static int blackhole_encode(void *sp, evp_io *io)
{
    io->consumed = io->in_len;
    return EVP_OK;
}

static int blackhole_decode(void *sp, evp_io *io)
{
    blackhole_sess *s = sp;
    io->consumed = io->in_len;
    if (!io->in_eof)
        return EVP_OK;
    if (s->http && !s->answered) {
        if (evp_builtin_put(s->host, io, io->out, http403, sizeof http403 - 1) != 0)
            return EVP_ERR;
        s->answered = 1;
    }
    return EVP_EOF;
}

static const evp_outbound_ops blackhole_outbound = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = blackhole_instance_new,
    .instance_free = blackhole_instance_free,
    .session_new = blackhole_session_new,
    .session_free = blackhole_session_free,
    .encode = blackhole_encode,
    .decode = blackhole_decode,
};

static const evp_plugin blackhole_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "blackhole",
    .version = EVP_VERSION,
    .outbound_schema = "blackhole-outbound",
    .outbound = &blackhole_outbound,
};

const evp_plugin *evp_builtin_blackhole(void)
{
    return &blackhole_plugin;
}
