/* The tls plugin's descriptor, kept apart from the exported entry (entry.c) so that the
 * unit tests link the plugin's objects beside vmess.so's without two evp_plugin_entry. */
#ifndef TLS_PLUGIN_H
#define TLS_PLUGIN_H

#include "evproxy/plugin.h"

extern const evp_plugin tls_plugin;

#endif
