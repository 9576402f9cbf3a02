/* A plugin built against a future ABI major: the loader must refuse it. */
#include "evproxy/plugin.h"

static const evp_inbound_ops in_ops = {.size = sizeof(evp_inbound_ops)};
static const evp_plugin desc = {
    .abi_major = EVP_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(evp_plugin),
    .name = "wrong_major",
    .version = "9.9",
    .inbound = &in_ops,
};

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
