/* Trusted fronts: the networks (CIDR) whose X-Forwarded-For the server believes. */
#ifndef WS_TRUSTED_H
#define WS_TRUSTED_H

#include "evproxy/plugin.h"
#include "ws_int.h"

/* Reads "a.b.c.d[/n]" or "v6[/n]" into net; 0, or -1 when it is neither. */
int ws_net_parse(const char *text, ws_net *net);

/* The default fronts: loopback (127.0.0.0/8 and ::1). Fills nets[0..1]; returns 2. */
size_t ws_net_loopback(ws_net nets[2]);

/* 1 when addr (an IPv4-mapped IPv6 address counts as IPv4) is inside one of nets. */
int ws_net_match(const ws_net *nets, size_t n, const evp_addr *addr);

/* Reads the first IP literal of a comma list (an X-Forwarded-For value) into addr (port 0);
 * 1, or 0 when there is none. */
int ws_first_ip(const char *list, size_t len, evp_addr *addr);

#endif
