/* What sessions tell the outside: log labels, the access log, live counters. */
#include "session_int.h"

#include "buf.h"
#include "log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void evp_sess_addr_label(const evp_addr *a, int network, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *net = network == EVP_NET_UDP ? "udp" : "tcp";
    if (a->type == EVP_ADDR_IPV4) {
        inet_ntop(AF_INET, a->bytes, host, sizeof host);
        snprintf(out, n, "%s:%s:%u", net, host, a->port);
    } else if (a->type == EVP_ADDR_IPV6) {
        inet_ntop(AF_INET6, a->bytes, host, sizeof host);
        snprintf(out, n, "%s:[%s]:%u", net, host, a->port);
    } else if (a->type == EVP_ADDR_DOMAIN) {
        /* The name came from the network: escaped, it cannot break or forge a log line. */
        char name[4 * 255 + 1];
        evp_log_escape(a->bytes, a->len, name, sizeof name);
        snprintf(out, n, "%s:%s:%u", net, name, a->port);
    } else {
        snprintf(out, n, "%s:-", net);
    }
}

/* One line in the access log: who, to where, through which inbound and outbound. */
void evp_sess_access_line(evp_session *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN], from[INET6_ADDRSTRLEN + 16] = "?";
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    if (s->peer_len) {
        sa = (const struct sockaddr *)&s->peer;
    } else if (s->cl.fd == -1 || getpeername(s->cl.fd, (struct sockaddr *)&ss, &len) == -1) {
        sa = NULL;
    }
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(from, sizeof from, "%s:%u", host, ntohs(in4->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(from, sizeof from, "[%s]:%u", host, ntohs(in6->sin6_port));
    }
    const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    evp_access_log(from, s->label, s->in->tag, s->out->tag, user);
}

void evp_session_each_inbound(evp_runtime *rt, void (*fn)(evp_instance *, void *), void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next)
        fn(s->in, arg);
}

void evp_session_each_traffic(evp_runtime *rt,
                              void (*fn)(const char *inbound, const char *user, uint64_t up,
                                         uint64_t down, void *arg),
                              void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next) {
        if (s->state != S_RELAY || s->outs == NULL || s->carrier)
            continue;
        const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
        fn(s->in->tag, user, s->bytes_up, s->bytes_down, arg);
    }
}
