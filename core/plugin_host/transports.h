/* An inbound's or outbound's transport layers (streamSettings): each layer's module and
 * instance, bottom (the socket) first. Owned by its evp_instance; sessions build their
 * layer sessions from it (core/session/transport_stack.c). */
#ifndef EVP_TRANSPORTS_H
#define EVP_TRANSPORTS_H

#include "module.h"

#include <stddef.h>

/* One layer as the config names it. */
typedef struct evp_layer_conf {
    const char *name;    /* the layer's module name: "tls", "ws", ... */
    const char *where;   /* the settings' key for messages: "tlsSettings", ... */
    char *settings_json; /* owned */
    evp_module *mod;     /* owned reference */
} evp_layer_conf;

typedef struct evp_tlayer {
    evp_module *mod; /* owned reference */
    void *inst;      /* the layer's instance */
} evp_tlayer;

typedef struct evp_transports {
    int server; /* 1: an inbound's layers, 0: an outbound's */
    size_t n;
    evp_tlayer layer[]; /* bottom first */
} evp_transports;

/* Builds the instances of n layers (n > 0); NULL and err naming the layer's settings on
 * failure. stream_json: the whole streamSettings object. */
evp_transports *evp_transports_new(const evp_layer_conf *layers, size_t n, int server,
                                   const char *tag, const char *stream_json, char *err,
                                   size_t errlen);
/* Frees the instances and drops the module references (NULL is fine). */
void evp_transports_free(evp_transports *t);

#endif
