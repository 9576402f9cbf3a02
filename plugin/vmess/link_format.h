/* VMess share links, the two forms clients import: v2rayN's ("vmess://" + base64 of a JSON
 * object, version 2) and the URI of the VMessAEAD/VLESS share-link proposal (Xray-core
 * issue 91: "vmess://uuid@host:port?type=..&security=..#name"). Pure text, no I/O. */
#ifndef VMESS_LINK_FORMAT_H
#define VMESS_LINK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* One user's client settings; every string borrowed, "" when absent (never NULL). */
typedef struct vmess_link {
    const char *name;     /* the remark clients show (v2rayN "ps", the URI's fragment) */
    const char *address;  /* a name or an IP literal (IPv6 without brackets) */
    uint16_t port;
    const char *id;       /* the UUID */
    uint16_t alter_id;
    const char *security; /* the body cipher a client should pick: "auto", "none"... */
    const char *network;  /* "tcp", "ws" or "http" (HTTP/2) */
    const char *header;   /* tcp's header type: "none" or "http" */
    const char *host;     /* ws Host, h2 hosts or the http header's Host (comma-separated) */
    const char *path;     /* ws path, h2 path or the http header's path */
    int tls;
    const char *sni;      /* tlsSettings.serverName */
} vmess_link;

/* The v2rayN link (malloc'd), or NULL when out of memory. */
char *vmess_link_v2rayn(const vmess_link *l);
/* The URI (malloc'd), or NULL and err: the URI form is AEAD only (alter_id 0). */
char *vmess_link_uri(const vmess_link *l, char *err, size_t errlen);

#endif
