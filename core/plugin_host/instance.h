/* A configured inbound or outbound: a plugin instance plus a reference to its module.
 * Sessions hold references, so a reload can replace an instance (new users, new module)
 * while running sessions finish on the old one. */
#ifndef EVP_INSTANCE_H
#define EVP_INSTANCE_H

#include "module.h"
#include "transports.h"

#include <stdatomic.h>

typedef struct evp_instance {
    atomic_int refs; /* workers share instances: their sessions ref and unref at once */
    int inbound; /* 1: inbound ops, 0: outbound ops */
    evp_module *mod; /* owned reference */
    void *inst; /* the plugin's instance */
    char *tag;
    char *settings_json; /* the settings it was built from (owned), for the control socket */
    evp_transports *transports; /* owned: its streamSettings layers, or NULL (plain TCP) */
    /* An outbound with "mux" on: its sessions go as sub-streams of shared connections of at
     * most mux_concurrency each, through mux (owned reference); mux_carrier (owned) stands
     * for their far side. 0 / NULL otherwise. */
    unsigned mux_concurrency;
    evp_module *mux;
    struct evp_instance *mux_carrier;
    /* An outbound's sendThrough: the address its sockets bind before they connect;
     * EVP_ADDR_NONE: the kernel picks. */
    evp_addr send_through;
    /* proxySettings: its server is reached through the outbound at index proxy_via of the
     * router it was built with (session_chain.c), not a socket of its own. */
    uint8_t proxied;
    size_t proxy_via;
    uint8_t sniff; /* an inbound's "sniffing" (EVP_SNIFF_* bits, sniff.h), 0 off */
} evp_instance;

/* Creates the plugin instance (port: an inbound's listening port, else 0); NULL and err on
 * failure. Takes its own module reference. */
evp_instance *evp_instance_new(evp_module *mod, int inbound, const char *tag,
                               const char *settings_json, uint16_t port, char *err,
                               size_t errlen);
/* Takes a reference. */
evp_instance *evp_instance_ref(evp_instance *i);
/* Drops a reference; the last frees the plugin instance and drops the module. */
void evp_instance_unref(evp_instance *i);

static inline const evp_inbound_ops *evp_inops(const evp_instance *i)
{
    return evp_module_inops(i->mod);
}
static inline const evp_outbound_ops *evp_outops(const evp_instance *i)
{
    return evp_module_outops(i->mod);
}

#endif
