/* What sessions tell the outside: log labels, the access log, live counters. */
#include "session_int.h"

#include "access_log.h"
#include "buf.h"
#include "log.h"
#include "stats.h"
#include "v2stats.h"

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

/* The client's address as the access log writes it ("?" when unknown). A Mux.Cool sub-stream
 * names it as V2Ray's mux server does, a destination: "tcp:ADDR:PORT". */
const struct sockaddr *evp_sess_client_sockaddr(evp_session *s, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof *ss;
    if (s->peer_len)
        return (const struct sockaddr *)&s->peer;
    if (s->cl.fd == -1 || getpeername(s->cl.fd, (struct sockaddr *)ss, &len) == -1)
        return NULL;
    return (const struct sockaddr *)ss;
}

static void client_label(evp_session *s, char *from, size_t n)
{
    struct sockaddr_storage ss;
    char host[INET6_ADDRSTRLEN];
    const struct sockaddr *sa = evp_sess_client_sockaddr(s, &ss);
    const char *net = s->sub_link ? "tcp:" : "";
    snprintf(from, n, "?");
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(from, n, "%s%s:%u", net, host, ntohs(in4->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(from, n, "%s[%s]:%u", net, host, ntohs(in6->sin6_port));
    }
}

/* One line in the access log: who, to where, through which inbound and outbound. A Mux.Cool
 * carrier has none (as in V2Ray): each of its sub-streams has its own. */
void evp_sess_access_line(evp_session *s)
{
    if (s->carrier)
        return;
    char from[INET6_ADDRSTRLEN + 16];
    client_label(s, from, sizeof from);
    const char *user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL;
    /* Sniffing may have replaced the target: V2Ray logs the one the client named. */
    const char *to = s->access_to ? s->access_to : s->label;
    const evp_access_entry e = {.from = from, .target = to, .in_tag = s->in->tag,
                                .out_tag = s->out->tag, .user = user};
    evp_access_log_write(&e);
}

void evp_sess_rejected(evp_session *s, const char *why)
{
    evp_warn("rejected a client on [%s]: %s", s->in->tag, why);
    char from[INET6_ADDRSTRLEN + 16];
    client_label(s, from, sizeof from);
    const evp_access_entry e = {.from = from, .reason = why, .in_tag = s->in->tag};
    evp_access_log_write(&e);
    evp_stats_handshake_failed(s->in->tag, why);
}

void evp_session_each_inbound(evp_runtime *rt, void (*fn)(evp_instance *, void *), void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next)
        fn(s->in, arg);
}

void evp_session_each_traffic(evp_runtime *rt, evp_traffic_fn *fn, void *arg)
{
    for (evp_session *s = rt->sessions; s; s = s->next) {
        if (s->state != S_RELAY || s->outs == NULL || s->carrier)
            continue;
        const evp_live_traffic t = {
            .inbound = s->in->tag, .outbound = s->out->tag,
            .user = s->inops->session_user ? s->inops->session_user(s->ins) : NULL,
            .up = s->bytes_up, .down = s->bytes_down, .level = s->level,
            .queued_up = evp_qbuf_len(&s->cl.rbuf) + evp_sess_pending(&s->sv),
            .queued_down = evp_qbuf_len(&s->sv.rbuf) + evp_sess_pending(&s->cl)};
        fn(&t, arg);
    }
}

void evp_sess_v2stats_flush(evp_session *s, const char *user, int relayed)
{
    const uint64_t now[6] = {relayed ? s->bytes_up : 0, relayed ? s->bytes_down : 0,
                             s->cl.wire_in, s->cl.wire_out, s->sv.wire_out, s->sv.wire_in};
    uint64_t d[6];
    for (int i = 0; i < 6; i++) {
        d[i] = now[i] - s->v2_given[i];
        s->v2_given[i] = now[i];
    }
    evp_v2stats_count(&(evp_v2stats_traffic){
        s->in->tag, s->outs && s->out ? s->out->tag : NULL, user, s->level, d[0], d[1], d[2],
        d[3], d[4], d[5]});
}
