/* The shadowsocks inbound and outbound "settings" objects in V2Ray 4.34's shape (inbound
 * method, password, email, level, network; outbound servers[{address, port, method,
 * password}]), plus the inbound extension clients[{password, method?, email, level?}]. */
#ifndef SS_SETTINGS_H
#define SS_SETTINGS_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* One user of an inbound, or one server of an outbound. */
typedef struct ss_user_cfg {
    uint8_t method;  /* enum ss_method */
    uint32_t level;
    char *password;  /* owned */
    char *email;     /* owned, "" when missing */
    evp_addr server; /* outbound: where to dial */
} ss_user_cfg;

/* An inbound's users: the top-level password first (when set), then clients in order. An
 * outbound's servers. */
typedef struct ss_cfg {
    ss_user_cfg *users; /* owned array, may be empty for an inbound */
    size_t n;
} ss_cfg;

/* Parses inbound settings JSON text into *cfg (zeroed first); 0, or -1 with err. */
int ss_inbound_cfg_parse(const char *json, ss_cfg *cfg, char *err, size_t errlen);
/* Parses outbound settings JSON text into *cfg (zeroed first); 0, or -1 with err. */
int ss_outbound_cfg_parse(const char *json, ss_cfg *cfg, char *err, size_t errlen);
/* Frees (wiping passwords) what *cfg owns and zeroes it. */
void ss_cfg_free(ss_cfg *cfg);

#endif
