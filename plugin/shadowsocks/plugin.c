/* The shadowsocks plugin's descriptor: the one exported symbol, wiring the ABI to the
 * inbound and outbound. Written only against evproxy/plugin.h. */
#include "evproxy/plugin.h"

#include "inbound.h"
#include "mem.h"
#include "outbound.h"
#include "sip003.h"

#include <sodium.h>

#ifndef SS_PLUGIN_VERSION
#define SS_PLUGIN_VERSION "0.1.0"
#endif

static int ss_init(const evp_host *host)
{
    if (!ss_host_ok(host)) {
        host->log(EVP_LOG_ERROR, "shadowsocks: the host's plugin ABI is older than 1.3");
        return -1;
    }
    ss_mem_adopt(host);
    /* libsodium's AEAD needs its (idempotent) init first; GnuTLS initialises on load. */
    if (sodium_init() < 0) {
        host->log(EVP_LOG_ERROR, "shadowsocks: libsodium failed to initialise");
        return -1;
    }
    return 0;
}

static const evp_inbound_ops inbound_ops = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = ss_inbound_new,
    .instance_free = ss_inbound_free,
    .session_new = ss_inbound_session_new,
    .session_open = ss_inbound_session_open,
    .session_level = ss_inbound_session_level,
    .session_free = ss_inbound_session_free,
    .decode = ss_inbound_decode,
    .encode = ss_inbound_encode,
    .session_user = ss_inbound_session_user,
    .instance_update = ss_inbound_update,
    .user_schema = "shadowsocks-user",
    .users_list = ss_inbound_users_list,
    .users_add = ss_inbound_users_add,
    .users_remove = ss_inbound_users_remove,
    .users_replace = ss_inbound_users_replace,
    .session_idle = ss_inbound_session_idle,
};

static const evp_outbound_ops outbound_ops = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = ss_outbound_new,
    .instance_free = ss_outbound_free,
    .session_new = ss_outbound_session_new,
    .session_free = ss_outbound_session_free,
    .encode = ss_outbound_encode,
    .decode = ss_outbound_decode,
    .flags = EVP_OUT_DATAGRAM, /* UDP sessions: one sealed datagram per record */
    .session_idle = ss_outbound_session_idle,
};

static const evp_plugin ss_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "shadowsocks",
    .version = SS_PLUGIN_VERSION,
    .inbound_schema = "shadowsocks-inbound",
    .outbound_schema = "shadowsocks-outbound",
    .init = ss_init,
    .fini = NULL,
    .inbound = &inbound_ops,
    .outbound = &outbound_ops,
    .sip003_settings = ss_sip003_settings,
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &ss_plugin;
}
