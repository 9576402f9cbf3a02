/* The mux plugin's descriptor: Mux.Cool (V2Ray's multiplexer) as ABI 1.7 events. */
#include "evproxy/plugin.h"

#include "conn.h"

#include "../vmess/mem.h"
#include "../vmess/mux_frame.h"


#ifndef MUX_PLUGIN_VERSION
#define MUX_PLUGIN_VERSION "0.1.0"
#endif

static int mux_init(const evp_host *host)
{
    vmess_mem_adopt(host);
    mux_conn_host_abi(host->abi_minor);
    return 0;
}

static const evp_mux_ops mux_ops = {
    .size = sizeof(evp_mux_ops),
    .target = VMESS_MUX_COOL_DOMAIN,
    .max_data = VMESS_MUX_DATA_MAX,
    .conn_new = mux_conn_new,
    .conn_free = mux_conn_free,
    .decode = mux_conn_decode,
    .encode = mux_conn_encode,
    .conn_idle = mux_conn_idle,
};

static const evp_plugin mux_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "mux",
    .version = MUX_PLUGIN_VERSION,
    .init = mux_init,
    .mux = &mux_ops,
};

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &mux_plugin;
}
