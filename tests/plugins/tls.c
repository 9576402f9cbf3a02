/* A stand-in "tls" layer for the session tests: tests/test_layers.h's xor layer. */
#include "../test_layers.h"

TL_OPS(xor_ops, tl_xor, tl_xor);
TL_PLUGIN(desc, "tls", xor_ops);

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
