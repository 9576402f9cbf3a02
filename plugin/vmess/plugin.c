/* The vmess plugin's descriptor: the one exported symbol, wiring the ABI to the inbound
 * and outbound state machines. */
#include "evproxy/plugin.h"

#include "inbound.h"
#include "inbound_users.h"
#include "mem.h"
#include "outbound.h"
#include "share_link.h"
#include "sip003.h"

#include <sodium.h>

#ifndef VMESS_PLUGIN_VERSION
#define VMESS_PLUGIN_VERSION "0.1.0"
#endif

static int vmess_init(const evp_host *host)
{
    vmess_mem_adopt(host);
    /* libsodium must be initialised once before its AEAD is used; it is idempotent. */
    if (sodium_init() < 0) {
        host->log(EVP_LOG_ERROR, "vmess: libsodium failed to initialise");
        return -1;
    }
    return 0;
}

static const evp_inbound_ops inbound_ops = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = vmess_inbound_new,
    .instance_free = vmess_inbound_free,
    .session_new = vmess_inbound_session_new,
    .session_free = vmess_inbound_session_free,
    .decode = vmess_inbound_decode,
    .encode = vmess_inbound_encode,
    .connected = NULL,
    .session_user = vmess_inbound_session_user,
    .instance_update = vmess_inbound_update,
    .user_schema = "vmess-user",
    .users_list = vmess_inbound_users_list,
    .users_add = vmess_inbound_users_add,
    .users_remove = vmess_inbound_users_remove,
    .users_replace = vmess_inbound_users_replace,
    .session_idle = vmess_inbound_session_idle,
    .share_link = vmess_inbound_share_link,
    .session_level = vmess_inbound_session_level,
};

static const evp_outbound_ops outbound_ops = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = vmess_outbound_new,
    .instance_free = vmess_outbound_free,
    .session_new = vmess_outbound_session_new,
    .session_free = vmess_outbound_session_free,
    .encode = vmess_outbound_encode,
    .decode = vmess_outbound_decode,
    .session_idle = vmess_outbound_session_idle,
};

static const evp_plugin vmess_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "vmess",
    .version = VMESS_PLUGIN_VERSION,
    .inbound_schema = "vmess-inbound",
    .outbound_schema = "vmess-outbound",
    .init = vmess_init,
    .fini = NULL,
    .inbound = &inbound_ops,
    .outbound = &outbound_ops,
    .sip003_settings = vmess_sip003_settings,
};

/* The plugin's descriptor (static storage). */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &vmess_plugin;
}
