/* SIP003 plugin mode: started by shadowsocks-libev with SS_* variables, evproxy builds its
 * config from them (client: listen on SS_LOCAL, VMess to SS_REMOTE; server with the
 * `server` option: VMess inbound on SS_REMOTE, everything to SS_LOCAL and nowhere else),
 * and may chain another SIP003 plugin between itself and the network. */
#ifndef EVP_SIP003_H
#define EVP_SIP003_H

#include <ev.h>

/* True when started as a SIP003 plugin (SS_* variables, or the name vmess-plugin). */
int evp_sip003_wanted(void);
/* Builds the config text from the environment into *text (malloc'd); -1 with a clear
 * message on stderr when a variable or option is bad. The protocol plugin (from plugin_dir)
 * turns the options that are not the host's into its settings. */
int evp_sip003_config(const char *plugin_dir, char **text);
/* Starts the chained plugin, if any, and watches for the host's death. */
void evp_sip003_attach(struct ev_loop *loop);
/* Stops the chained plugin; returns the exit code the process should end with. */
int evp_sip003_detach(struct ev_loop *loop);
/* Splits a SIP003 option string into unescaped key/value pairs; a flag's value is "".
 * Returns the number of pairs (at most max), or -1 when the string is malformed.
 * keys[i] and values[i] are malloc'd; free them with evp_sip003_free_options. */
int evp_sip003_parse_options(const char *s, char **keys, char **values, int max);
void evp_sip003_free_options(char **keys, char **values, int n);

#endif
