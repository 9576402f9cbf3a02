/* The mux plugin's descriptor: Mux.Cool (V2Ray's multiplexer) as ABI 1.7 events, and the
 * pass-through outbound that stands for a multiplexed session's far side (plugin.h). */
#include "evproxy/plugin.h"

#include "conn.h"

#include "../vmess/mem.h"
#include "../vmess/mux_frame.h"

#include <string.h>

#ifndef MUX_PLUGIN_VERSION
#define MUX_PLUGIN_VERSION "0.1.0"
#endif

static int mux_init(const evp_host *host)
{
    vmess_mem_adopt(host);
    return 0;
}

/* The outbound instance holds nothing; a non-NULL pointer stands for it. */
static char instance_token;

static void *pass_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                               size_t errlen)
{
    vmess_mem_adopt(host);
    return &instance_token;
}

static void pass_instance_free(void *inst)
{
}

static void *pass_session_new(void *inst, const evp_addr *target, uint8_t network,
                              evp_addr *dial, char *err, size_t errlen)
{
    memset(dial, 0, sizeof *dial);
    return &instance_token;
}

static void pass_session_free(void *sess)
{
}

static int pass_copy(void *sess, evp_io *io)
{
    if (io->in_len) {
        uint8_t *p = vmess_mem_host()->buf_reserve(io->out, io->in_len);
        if (p == NULL)
            return EVP_ERR;
        memcpy(p, io->in, io->in_len);
        io->out->len += io->in_len;
    }
    io->consumed = io->in_len;
    return EVP_OK;
}

static const evp_outbound_ops pass_ops = {
    .size = sizeof(evp_outbound_ops),
    .instance_new = pass_instance_new,
    .instance_free = pass_instance_free,
    .session_new = pass_session_new,
    .session_free = pass_session_free,
    .encode = pass_copy,
    .decode = pass_copy,
    .flags = EVP_OUT_PASS,
};

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
    .outbound = &pass_ops,
    .mux = &mux_ops,
};

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &mux_plugin;
}
