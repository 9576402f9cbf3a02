/* tcpSettings with header.type "http", read as V2Ray 4.34 reads them (infra/conf
 * transport_authenticators.go): the request and response a connection starts with. */
#ifndef HH_SETTINGS_H
#define HH_SETTINGS_H

#include "template.h"

#include "evproxy/plugin.h"

#include <stddef.h>

typedef struct hh_strs {
    char **v; /* owned copies */
    size_t n;
} hh_strs;

typedef struct hh_settings {
    hh_template request;     /* what a client sends first */
    hh_template response;    /* what a server answers before its first bytes */
    hh_template bad_request; /* V2Ray's 400, for a request it cannot read */
    hh_template not_found;   /* V2Ray's 404, for a path it does not serve */
    hh_strs paths;           /* the request paths a server accepts */
} hh_settings;

/* Fills s from the tcpSettings JSON text. 0, or -1 and a one-line err naming the setting. */
int hh_settings_parse(const evp_host *h, const char *json, hh_settings *s, char *err,
                      size_t errlen);
/* Frees what s holds (also a partly filled s, zeroed first). */
void hh_settings_free(const evp_host *h, hh_settings *s);

#endif
