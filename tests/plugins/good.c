/* A minimal well-formed plugin: an inbound that names a fixed target. */
#include "evproxy/plugin.h"

static int inst_token;

static void *inst_new(const evp_host *h, const evp_instance_args *a, char *err, size_t n)
{
    return &inst_token;
}
static void inst_free(void *i)
{
}
static void *sess_new(void *i)
{
    return i;
}
static void sess_free(void *s)
{
}
static int decode(void *s, evp_io *io)
{
    io->consumed = io->in_len;
    return EVP_OK;
}
static const evp_inbound_ops in_ops = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = inst_new,
    .instance_free = inst_free,
    .session_new = sess_new,
    .session_free = sess_free,
    .decode = decode,
    .encode = decode,
};
static const evp_plugin desc = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "good",
    .version = "1.2.3",
    .inbound = &in_ops,
};

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
