/* "HOST:PORT" listen addresses of the metrics endpoint, as Go's net.Listen spells them. */
#ifndef EVP_LISTEN_ADDR_H
#define EVP_LISTEN_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Parses "1.2.3.4:9100", "[::1]:9100" or ":9100" (every address) into *ss and *len; -1 with
 * the reason in err (n bytes) for anything else (names are refused: an IP address is
 * needed before any resolver runs). */
int evp_listen_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                          char *err, size_t n);

#endif
