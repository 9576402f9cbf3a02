/* Listen address parsing for the metrics endpoint. */
#include "listen_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int port_of(const char *s, unsigned short *port)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    long p = strtol(s, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    *port = (unsigned short)p;
    return 0;
}

int evp_listen_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                          char *err, size_t n)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    unsigned short port;
    memset(ss, 0, sizeof *ss);
    if (colon == NULL || port_of(colon + 1, &port) != 0) {
        snprintf(err, n, "\"%s\" is not HOST:PORT with a port 1..65535", text);
        return -1;
    }
    size_t hl = (size_t)(colon - text);
    int bracketed = hl >= 2 && text[0] == '[' && text[hl - 1] == ']';
    if (bracketed) {
        text++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, n, "\"%.*s\" is not an IP address", (int)(hl > 80 ? 80 : hl), text);
        return -1;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (!bracketed && (hl == 0 || inet_pton(AF_INET, host, &in4->sin_addr) == 1)) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof *in4; /* an empty host: 0.0.0.0, left zero by the memset */
        return 0;
    }
    if (bracketed && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof *in6;
        return 0;
    }
    snprintf(err, n, "\"%s\" is not an IP address%s", host,
             !bracketed && strchr(host, ':') ? " (write an IPv6 one as [ADDR]:PORT)" : "");
    return -1;
}
