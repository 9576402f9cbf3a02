/* The embedded default: one process holds a client side and a server side on loopback,
 * socks 127.0.0.1:1080 -> vmess out -> vmess in 127.0.0.1:10086 -> freedom. Without the
 * vmess plugin (a core built alone), socks 127.0.0.1:1080 -> freedom. */
#include "default_config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char template[] =
    "{\n"
    "  \"log\": {\"loglevel\": \"info\"},\n"
    "  \"inbounds\": [\n"
    "    {\"tag\": \"socks-in\", \"listen\": \"127.0.0.1\", \"port\": 1080,\n"
    "     \"protocol\": \"socks\", \"settings\": {\"auth\": \"noauth\"}},\n"
    "    {\"tag\": \"vmess-in\", \"listen\": \"127.0.0.1\", \"port\": 10086,\n"
    "     \"protocol\": \"vmess\",\n"
    "     \"settings\": {\"clients\": [{\"id\": \"%s\", \"alterId\": 0, \"email\": \"me@local\"}]}}\n"
    "  ],\n"
    "  \"outbounds\": [\n"
    "    {\"tag\": \"vmess-out\", \"protocol\": \"vmess\",\n"
    "     \"settings\": {\"vnext\": [{\"address\": \"127.0.0.1\", \"port\": 10086,\n"
    "       \"users\": [{\"id\": \"%s\", \"alterId\": 0, \"security\": \"auto\"}]}]}},\n"
    "    {\"tag\": \"direct\", \"protocol\": \"freedom\", \"settings\": {}}\n"
    "  ],\n"
    "  \"routing\": {\"rules\": [\n"
    "    {\"type\": \"field\", \"inboundTag\": [\"socks-in\"], \"outboundTag\": \"vmess-out\"},\n"
    "    {\"type\": \"field\", \"inboundTag\": [\"vmess-in\"], \"outboundTag\": \"direct\"}\n"
    "  ]}\n"
    "}\n";

static const char socks_only[] =
    "{\n"
    "  \"log\": {\"loglevel\": \"info\"},\n"
    "  \"inbounds\": [\n"
    "    {\"tag\": \"socks-in\", \"listen\": \"127.0.0.1\", \"port\": 1080,\n"
    "     \"protocol\": \"socks\", \"settings\": {\"auth\": \"noauth\"}}\n"
    "  ],\n"
    "  \"outbounds\": [{\"tag\": \"direct\", \"protocol\": \"freedom\", \"settings\": {}}]\n"
    "}\n";

/* The socks -> freedom default, for a plugin directory without vmess.so. */
static char *default_without_vmess(const char *plugin_so)
{
    char *text = strdup(socks_only);
    if (text == NULL)
        return NULL;
    printf("evproxy: default config on loopback (no VMess: %s is missing)\n"
           "  SOCKS5 for your applications: 127.0.0.1:1080 -> freedom\n"
           "    e.g. curl --socks5-hostname 127.0.0.1:1080 http://example.org/\n"
           "  Ctrl-C stops it.\n",
           plugin_so);
    fflush(stdout);
    return text;
}

char *evp_default_config(const char *plugin_dir)
{
    char *plugin_so = NULL;
    if (asprintf(&plugin_so, "%s/vmess.so", plugin_dir) < 0)
        return NULL;
    if (access(plugin_so, R_OK) != 0) {
        char *text = default_without_vmess(plugin_so);
        free(plugin_so);
        return text;
    }
    free(plugin_so);
    unsigned char u[16];
    char id[37];
    randombytes_buf(u, sizeof u);
    u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
    u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    snprintf(id, sizeof id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    char *text = NULL;
    if (asprintf(&text, template, id, id) < 0)
        return NULL;
    printf("evproxy: default config on loopback\n"
           "  SOCKS5 for your applications: 127.0.0.1:1080\n"
           "    e.g. curl --socks5-hostname 127.0.0.1:1080 http://example.org/\n"
           "  VMess inbound for a V2Ray client: 127.0.0.1:10086\n"
           "    id %s, alterId 0, security auto (aes-128-gcm), network tcp\n"
           "  Ctrl-C stops it.\n",
           id);
    fflush(stdout);
    return text;
}
