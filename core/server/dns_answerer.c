/* The dns outbound's answerer (dns_answerer.h). One connection per dns outbound session:
 * the header names the destination; each framed query is then answered locally (A/AAAA
 * through the resolver, as V2Ray's dns outbound asks its DNS client) or forwarded to the
 * destination over its network, and every reply goes back framed. */
#include "dns_answerer.h"

#include "buf.h"
#include "builtin/dns_msg.h"
#include "builtin/dns_out.h"
#include "ip_literal.h"
#include "log.h"
#include "state_store.h"

#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_LOOKUPS 64         /* per connection; more queries wait unread */
#define MAX_PENDING_OUT 262144 /* bytes queued toward a session before it is dropped */
#define IDLE_SECS 60.0         /* a connection with nothing to do is closed */

typedef struct conn conn;

typedef struct lookup {
    conn *c;
    struct lookup *next;
    evp_resolve_req *req;
    evp_dns_query q;
} lookup;

typedef struct side {
    int fd;
    ev_io rw, ww;
    evp_buf in, out;
    int connecting;
} side;

struct conn {
    conn *next, **pprev;
    side cl; /* the dns outbound session */
    side up; /* the destination, opened with the first forwarded query */
    ev_timer idle;
    int have_header, cl_eof;
    uint8_t dest_net;
    evp_addr dest;
    lookup *lookups;
    unsigned n_lookups, forwarded;
    evp_resolve_req *dest_req; /* the destination's name, resolving */
    int dest_failed;
};

static struct {
    struct ev_loop *loop;
    evp_resolver *resolver;
    int fd;
    ev_io accept_w;
    conn *conns;
    unsigned n_conns;
    uint8_t secret[EVP_DNS_OUT_SECRET];
} A = {.fd = -1};

static void conn_free(conn *c);
static void pump(conn *c);

static void set_watch(side *s, int read, int write)
{
    if (s->fd < 0)
        return;
    if (read && !ev_is_active(&s->rw))
        ev_io_start(A.loop, &s->rw);
    else if (!read && ev_is_active(&s->rw))
        ev_io_stop(A.loop, &s->rw);
    if (write && !ev_is_active(&s->ww))
        ev_io_start(A.loop, &s->ww);
    else if (!write && ev_is_active(&s->ww))
        ev_io_stop(A.loop, &s->ww);
}

static void side_close(side *s)
{
    if (s->fd >= 0) {
        ev_io_stop(A.loop, &s->rw);
        ev_io_stop(A.loop, &s->ww);
        close(s->fd);
        s->fd = -1;
    }
    evp_buf_free(&s->in);
    evp_buf_free(&s->out);
}

/* Appends one framed message toward the session; -1 when too much waits already. */
static int send_framed(conn *c, const uint8_t *msg, size_t len)
{
    uint8_t head[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    if (len > 65535 || c->cl.out.len + len > MAX_PENDING_OUT ||
        evp_buf_append(&c->cl.out, head, 2) != 0 || evp_buf_append(&c->cl.out, msg, len) != 0)
        return -1;
    return 0;
}

/* ---- local answers ------------------------------------------------------------------- */

/* Every address of the family asked goes in the reply, as V2Ray's handleIPQuery writes them. */
static void on_resolved(void *arg, const evp_dns_sockaddr *addrs, unsigned n_addrs,
                        const char *err)
{
    lookup *lk = arg, **p;
    conn *c = lk->c;
    for (p = &c->lookups; *p != lk; p = &(*p)->next)
        ;
    *p = lk->next;
    c->n_lookups--;
    evp_addr ips[EVP_DNS_ADDRS_MAX];
    size_t have = 0;
    for (unsigned i = 0; i < n_addrs && i < EVP_DNS_ADDRS_MAX; i++)
        if (evp_addr_from_sockaddr(&addrs[i].sa, &ips[have]) == 0)
            have++;
    int rcode = 0;
    if (!have && err != NULL && strcmp(err, ares_strerror(ARES_ENOTFOUND)) == 0)
        rcode = EVP_DNS_RCODE_NXDOMAIN;
    else if (!have && err != NULL && strcmp(err, ares_strerror(ARES_ENODATA)) != 0) {
        /* V2Ray writes no reply when the lookup failed without a DNS answer code. */
        evp_info("dns outbound: %s: %s, no reply", lk->q.name, err);
        free(lk);
        pump(c);
        return;
    }
    uint8_t msg[EVP_DNS_MSG_MAX];
    size_t n = evp_dns_build_reply(&lk->q, rcode, ips, have, msg, sizeof msg);
    free(lk);
    if (n == 0 || send_framed(c, msg, n) != 0) {
        conn_free(c);
        return;
    }
    pump(c);
}

static int answer_locally(conn *c, const evp_dns_query *q)
{
    lookup *lk = calloc(1, sizeof *lk);
    if (lk == NULL)
        return -1;
    lk->c = c;
    lk->q = *q;
    lk->next = c->lookups;
    c->lookups = lk;
    c->n_lookups++;
    int family = q->qtype == EVP_DNS_TYPE_AAAA ? AF_INET6 : AF_INET;
    lk->req = evp_resolve_family(A.resolver, q->name, 0, family, on_resolved, lk);
    if (lk->req == NULL) {
        c->lookups = lk->next;
        c->n_lookups--;
        free(lk);
        return -1;
    }
    return 0;
}

/* ---- forwarding ---------------------------------------------------------------------- */

static void on_up_read(EV_P_ ev_io *w, int revents);
static void on_up_write(EV_P_ ev_io *w, int revents);

static int open_upstream(conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = evp_addr_to_sockaddr(&c->dest, &ss);
    int udp = c->dest_net == EVP_NET_UDP;
    int fd = len == 0 ? -1
                      : socket(ss.ss_family,
                               (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->up.fd = fd;
    c->up.connecting = !udp;
    ev_io_init(&c->up.rw, on_up_read, fd, EV_READ);
    ev_io_init(&c->up.ww, on_up_write, fd, EV_WRITE);
    c->up.rw.data = c->up.ww.data = c;
    return 0;
}

/* Sends the framed queries waiting in up.out as datagrams (a UDP destination). */
static void send_queued_datagrams(conn *c)
{
    size_t at = 0;
    while (c->up.out.len - at >= 2) {
        size_t m = (size_t)(c->up.out.data[at] << 8 | c->up.out.data[at + 1]);
        if (send(c->up.fd, c->up.out.data + at + 2, m, 0) < 0)
            evp_debug("dns outbound: send to the destination: %s", strerror(errno));
        at += 2 + m;
    }
    c->up.out.len = 0;
}

/* The destination's name resolved (or not): its queries go, or are dropped. */
static void on_dest_resolved(void *arg, const struct sockaddr *sa, socklen_t len, const char *err)
{
    conn *c = arg;
    c->dest_req = NULL;
    if (sa == NULL || evp_addr_from_sockaddr(sa, &c->dest) != 0 || open_upstream(c) != 0) {
        evp_info("dns outbound: destination %s: %s: its queries are dropped",
                 (const char *)c->dest.bytes, err ? err : "cannot connect");
        c->dest_failed = 1;
        c->up.out.len = 0;
        c->forwarded = 0;
    } else if (c->dest_net == EVP_NET_UDP) {
        send_queued_datagrams(c);
    }
    pump(c);
}

/* One query to the destination: a datagram, or framed on its TCP stream; queued while the
 * destination's name resolves. A query that cannot go is dropped, as one to an unreachable
 * server: the client times out. */
static int forward(conn *c, const uint8_t *msg, size_t len)
{
    int named = c->dest.type == EVP_ADDR_DOMAIN;
    if (c->dest_failed || (c->up.fd < 0 && !named && open_upstream(c) != 0))
        return 0;
    c->forwarded++;
    if (c->up.fd >= 0 && c->dest_net == EVP_NET_UDP) {
        if (send(c->up.fd, msg, len, 0) < 0)
            evp_debug("dns outbound: send to the destination: %s", strerror(errno));
        return 0;
    }
    uint8_t head[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    if (c->up.out.len + len > MAX_PENDING_OUT || evp_buf_append(&c->up.out, head, 2) != 0 ||
        evp_buf_append(&c->up.out, msg, len) != 0)
        return -1;
    if (c->up.fd < 0 && c->dest_req == NULL) {
        c->dest.bytes[c->dest.len] = '\0';
        c->dest_req =
            evp_resolve(A.resolver, (const char *)c->dest.bytes, c->dest.port, on_dest_resolved, c);
        if (c->dest_req == NULL)
            return -1;
    }
    return 0;
}

static void on_up_read(EV_P_ ev_io *w, int revents)
{
    conn *c = w->data;
    uint8_t *p = evp_buf_reserve(&c->up.in, 65536);
    if (p == NULL) {
        conn_free(c);
        return;
    }
    ssize_t n = recv(c->up.fd, p, 65536, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* the destination ended: what it still owes will not come */
        side_close(&c->up);
        c->forwarded = 0;
        pump(c);
        return;
    }
    if (c->dest_net == EVP_NET_UDP) {
        if (send_framed(c, p, (size_t)n) != 0) {
            conn_free(c);
            return;
        }
        if (c->forwarded)
            c->forwarded--;
    } else {
        c->up.in.len += (size_t)n;
        while (c->up.in.len >= 2) {
            size_t m = (size_t)(c->up.in.data[0] << 8 | c->up.in.data[1]);
            if (c->up.in.len < 2 + m)
                break;
            if (send_framed(c, c->up.in.data + 2, m) != 0) {
                conn_free(c);
                return;
            }
            evp_buf_consume(&c->up.in, 2 + m);
            if (c->forwarded)
                c->forwarded--;
        }
    }
    pump(c);
}

static void on_up_write(EV_P_ ev_io *w, int revents)
{
    conn *c = w->data;
    c->up.connecting = 0;
    ssize_t n = send(c->up.fd, c->up.out.data, c->up.out.len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        evp_info("dns outbound: the destination: %s", strerror(errno));
        side_close(&c->up);
        c->forwarded = 0;
    } else if (n > 0) {
        evp_buf_consume(&c->up.out, (size_t)n);
    }
    pump(c);
}

/* ---- the session's side ---------------------------------------------------------------- */

/* Reads the header once it is all there: 1 read, 0 wait, -1 bad. */
static int read_header(conn *c)
{
    const uint8_t *p = c->cl.in.data;
    size_t n = c->cl.in.len;
    if (n < EVP_DNS_OUT_HEADER_FIXED)
        return 0;
    if (sodium_memcmp(p, A.secret, EVP_DNS_OUT_SECRET) != 0)
        return -1;
    p += EVP_DNS_OUT_SECRET;
    uint8_t net = p[0], type = p[1], alen = p[2];
    if ((net != EVP_NET_TCP && net != EVP_NET_UDP) ||
        (type == EVP_ADDR_IPV4   ? alen != 4
         : type == EVP_ADDR_IPV6 ? alen != 16
                                 : type != EVP_ADDR_DOMAIN))
        return -1;
    if (n < (size_t)EVP_DNS_OUT_HEADER_FIXED + alen)
        return 0;
    c->dest_net = net;
    c->dest.type = type;
    c->dest.len = alen;
    c->dest.port = (uint16_t)(p[3] << 8 | p[4]);
    memcpy(c->dest.bytes, p + 5, alen);
    evp_buf_consume(&c->cl.in, EVP_DNS_OUT_HEADER_FIXED + alen);
    c->have_header = 1;
    return 1;
}

/* Takes the complete queries the session sent; -1 ends the connection. */
static int take_queries(conn *c)
{
    if (!c->have_header) {
        int r = read_header(c);
        if (r <= 0)
            return r;
    }
    while (c->cl.in.len >= 2 && c->n_lookups < MAX_LOOKUPS) {
        size_t m = (size_t)(c->cl.in.data[0] << 8 | c->cl.in.data[1]);
        if (c->cl.in.len < 2 + m)
            break;
        const uint8_t *msg = c->cl.in.data + 2;
        evp_dns_query q;
        int r = evp_dns_parse_ip_query(msg, m, &q) ? answer_locally(c, &q) : forward(c, msg, m);
        if (r != 0)
            return -1;
        evp_buf_consume(&c->cl.in, 2 + m);
    }
    return 0;
}

static void on_cl_read(EV_P_ ev_io *w, int revents)
{
    conn *c = w->data;
    uint8_t *p = evp_buf_reserve(&c->cl.in, 65536 + 2);
    if (p == NULL) {
        conn_free(c);
        return;
    }
    ssize_t n = recv(c->cl.fd, p, 65536 + 2, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        c->cl_eof = 1;
    else
        c->cl.in.len += (size_t)n;
    if (take_queries(c) != 0) {
        evp_info("dns outbound: a bad header or no memory: connection closed");
        {
            conn_free(c);
            return;
        }
    }
    pump(c);
}

static void on_cl_write(EV_P_ ev_io *w, int revents)
{
    conn *c = w->data;
    ssize_t n = send(c->cl.fd, c->cl.out.data, c->cl.out.len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        conn_free(c);
        return;
    }
    if (n > 0)
        evp_buf_consume(&c->cl.out, (size_t)n);
    if (take_queries(c) != 0) /* room for lookups may have held some */
    {
        conn_free(c);
        return;
    }
    pump(c);
}

/* Sets the watchers from the state; closes a connection whose session ended and that owes
 * it nothing more. */
static void pump(conn *c)
{
    int owed = c->n_lookups > 0 || c->dest_req != NULL || (c->up.fd >= 0 && c->forwarded > 0) ||
               c->cl.out.len > 0;
    if (c->cl_eof && !owed) {
        conn_free(c);
        return;
    }
    set_watch(&c->cl,
              !c->cl_eof && c->n_lookups < MAX_LOOKUPS && c->cl.in.len<65536 + 2, c->cl.out.len> 0);
    set_watch(&c->up, !c->up.connecting, c->up.connecting || c->up.out.len > 0);
    ev_timer_again(A.loop, &c->idle);
}

static void on_idle(EV_P_ ev_timer *w, int revents)
{
    conn_free(w->data);
}

static void conn_free(conn *c)
{
    if (c->dest_req)
        evp_resolve_cancel(c->dest_req);
    while (c->lookups) {
        lookup *lk = c->lookups;
        c->lookups = lk->next;
        evp_resolve_cancel(lk->req);
        free(lk);
    }
    side_close(&c->cl);
    side_close(&c->up);
    ev_timer_stop(A.loop, &c->idle);
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    A.n_conns--;
    free(c);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    int fd = accept4(A.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    conn *c = A.n_conns < MAX_CONNS ? calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
        close(fd);
        return;
    }
    c->cl.fd = fd;
    c->up.fd = -1;
    ev_io_init(&c->cl.rw, on_cl_read, fd, EV_READ);
    ev_io_init(&c->cl.ww, on_cl_write, fd, EV_WRITE);
    c->cl.rw.data = c->cl.ww.data = c;
    ev_init(&c->idle, on_idle);
    c->idle.repeat = IDLE_SECS;
    c->idle.data = c;
    c->next = A.conns;
    c->pprev = &A.conns;
    if (A.conns)
        A.conns->pprev = &c->next;
    A.conns = c;
    A.n_conns++;
    pump(c);
}

int evp_dns_answerer_start(struct ev_loop *loop, evp_resolver *r)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        evp_err("dns outbound: cannot listen on loopback: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    A.loop = loop;
    A.resolver = r;
    A.fd = fd;
    randombytes_buf(A.secret, sizeof A.secret);
    uint8_t v[2 + EVP_DNS_OUT_SECRET];
    uint16_t port = ntohs(sin.sin_port);
    v[0] = (uint8_t)(port >> 8);
    v[1] = (uint8_t)port;
    memcpy(v + 2, A.secret, EVP_DNS_OUT_SECRET);
    int put = evp_host_state_put(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY,
                                 strlen(EVP_DNS_OUT_STATE_KEY), v, sizeof v, 0, 0);
    sodium_memzero(v, sizeof v);
    if (put != 0) {
        evp_dns_answerer_stop();
        return -1;
    }
    ev_io_init(&A.accept_w, on_accept, fd, EV_READ);
    ev_io_start(loop, &A.accept_w);
    return 0;
}

void evp_dns_answerer_stop(void)
{
    if (A.fd < 0)
        return;
    while (A.conns)
        conn_free(A.conns);
    ev_io_stop(A.loop, &A.accept_w);
    close(A.fd);
    A.fd = -1;
    evp_host_state_del(EVP_DNS_OUT_STATE_NS, EVP_DNS_OUT_STATE_KEY, strlen(EVP_DNS_OUT_STATE_KEY));
    sodium_memzero(A.secret, sizeof A.secret);
}
