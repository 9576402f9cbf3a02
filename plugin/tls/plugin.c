/* The tls plugin's descriptor: a transport layer only (no protocol), wiring the ABI 1.6
 * transport hooks to the instance and session code. */
#include "plugin.h"

#include "instance.h"
#include "session.h"

#ifndef TLS_PLUGIN_VERSION
#define TLS_PLUGIN_VERSION "0.1.0"
#endif

static const evp_transport_ops transport_ops = {
    .size = sizeof(evp_transport_ops),
    .instance_new = tls_instance_new,
    .instance_free = tls_instance_free,
    .instance_update = tls_instance_update,
    .session_new = tls_session_new,
    .session_free = tls_session_free,
    .decode = tls_session_decode,
    .encode = tls_session_encode,
    .session_idle = NULL, /* GnuTLS keeps nothing a quiet session could drop and rebuild */
    .flags = 0,
};

const evp_plugin tls_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "tls",
    .version = TLS_PLUGIN_VERSION,
    .inbound_schema = NULL,
    .outbound_schema = NULL,
    .init = NULL,
    .fini = NULL,
    .inbound = NULL,
    .outbound = NULL,
    .sip003_settings = NULL,
    .transport = &transport_ops,
    .transport_schema = "tls-settings",
};
