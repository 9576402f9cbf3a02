/* "mux-carrier" outbound: the far side of a session whose stream a multiplexer serves (ABI
 * 1.7). It dials nothing: the host joins the session to its multiplexer over a socketpair and
 * moves the bytes itself (EVP_OUT_PASS); the instance is there for the session's logs. */
#include "builtin.h"
#include "common.h"

#include <string.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

/* The instance: the host table the pass-through appends with. Every session shares it. */
static void *carrier_instance_new(const evp_host *host, const evp_instance_args *args,
                                  char *err, size_t errlen)
{
    return (void *)host;
}

static void carrier_instance_free(void *inst)
{
}

static void *carrier_session_new(void *inst, const evp_addr *target, uint8_t network,
                                 evp_addr *dial, char *err, size_t errlen)
{
    memset(dial, 0, sizeof *dial);
    return inst;
}

static void carrier_session_free(void *sess)
{
}

/* Bytes pass unchanged (the host calls these only for the first, header-less encode). */
static int carrier_encode(void *sess, evp_io *io)
{
    return evp_builtin_pass(sess, io);
}

static int carrier_decode(void *sess, evp_io *io)
{
    return evp_builtin_pass_decode(sess, io);
}

static const evp_outbound_ops carrier_ops = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = carrier_instance_new,
    .instance_free = carrier_instance_free,
    .session_new = carrier_session_new,
    .session_free = carrier_session_free,
    .encode = carrier_encode,
    .decode = carrier_decode,
    .flags = EVP_OUT_PASS,
};

static const evp_plugin carrier_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "mux-carrier",
    .version = EVP_VERSION,
    .outbound = &carrier_ops,
};

const evp_plugin *evp_builtin_carrier(void)
{
    return &carrier_plugin;
}
