/* streamSettings -> the transport layers of an inbound or outbound, bottom first:
 * proxy-protocol (inbounds, acceptProxyProtocol), tls (security), ws (network) or
 * http-header (tcp with tcpSettings.header.type "http"). */
#ifndef EVP_STREAM_SETTINGS_H
#define EVP_STREAM_SETTINGS_H

#include "errlist.h"
#include "registry.h"
#include "transports.h"

#include <jansson.h>

#define EVP_MAX_LAYERS 4

typedef struct evp_stream_conf {
    evp_layer_conf layers[EVP_MAX_LAYERS]; /* bottom first */
    size_t n;
    char *stream_json; /* owned: the whole streamSettings, or NULL when n == 0 */
} evp_stream_conf;

/* Reads bound's streamSettings into sc (server: an inbound's), finding each layer's module
 * in reg and checking its settings against schema_dir; each problem goes into errs as
 * "WHERE.streamSettings...: message". */
void evp_stream_conf_load(evp_stream_conf *sc, json_t *bound, int server, const char *where,
                          const char *schema_dir, evp_registry *reg, evp_errlist *errs);
/* Frees what sc owns. */
void evp_stream_conf_free(evp_stream_conf *sc);
/* The instances of sc's layers: NULL with an empty err when there are none, NULL and err
 * on failure. */
evp_transports *evp_stream_conf_build(const evp_stream_conf *sc, int server, const char *tag,
                                      char *err, size_t errlen);

#endif
