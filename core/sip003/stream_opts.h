/* SIP003 transport options, named as v2ray-plugin names them (mode, tls, host, path, cert,
 * key, mux), turned into the streamSettings of the SIP003 inbound or outbound. They are the
 * host's, not the protocol plugin's: the transport stack runs under any protocol. */
#ifndef EVP_SIP003_STREAM_OPTS_H
#define EVP_SIP003_STREAM_OPTS_H

#include <jansson.h>
#include <stddef.h>

/* True when key is one of the transport options. */
int evp_sip003_stream_option(const char *key);

/* Builds streamSettings from the option pairs (a flag's value is ""; the first of duplicate
 * keys counts). server: the inbound side; default_ws: no mode means websocket (v2ray-plugin's
 * default) rather than plain TCP. 0 with *stream a new reference, or NULL for plain
 * TCP (no transport option given); -1 with a one-line err naming the option. */
int evp_sip003_stream(const char *const *keys, const char *const *values, int n, int server,
                      int default_ws, json_t **stream, char *err, size_t errlen);

/* mux=N (v2ray-plugin's name): the client's sub-streams per connection, 0 when off or left
 * out (evp_sip003_stream has refused a bad value already). */
int evp_sip003_mux(const char *const *keys, const char *const *values, int n);

#endif
