/* A stand-in "tls" layer for the session tests: tests/test_layers.h's xor layer, which also
 * counts the session_idle calls it gets, server and client side apart (read by the tests
 * through dlsym). */
#include "../test_layers.h"

EVP_EXPORT unsigned evp_test_idle_server, evp_test_idle_client;

static void count_idle(void *sess)
{
    if (((tl_sess *)sess)->inst->server)
        evp_test_idle_server++;
    else
        evp_test_idle_client++;
}

static const evp_transport_ops xor_ops = {
    .size = sizeof(evp_transport_ops), .instance_new = tl_inst_new,
    .instance_free = tl_inst_free, .session_new = tl_sess_new, .session_free = tl_sess_free,
    .decode = tl_xor, .encode = tl_xor, .session_idle = count_idle};
TL_PLUGIN(desc, "tls", xor_ops);

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
