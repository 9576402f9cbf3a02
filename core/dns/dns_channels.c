/* c-ares channels on a libev loop (see dns_channels.h). */
#include "dns_channels.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FDS 64 /* c-ares sockets open at once, over every channel */

/* A server asked on its own gets about V2Ray's 4 s before the next is asked: 1.5 s, then
 * 3 s (c-ares doubles the wait for each try). */
#define SPLIT_TIMEOUT_MS 1500
#define SPLIT_TRIES 2

typedef struct channel {
    ares_channel ch; /* NULL until its first query */
    evp_dns_channels *owner;
} channel;

typedef struct fd_watch {
    ev_io io; /* first member: the callback casts back */
    channel *chan;
} fd_watch;

struct evp_dns_channels {
    struct ev_loop *loop;
    evp_dns_servers *servers; /* a reference, or NULL: the system's */
    size_t n;
    channel chan[EVP_DNS_SERVERS_MAX];
    ev_timer timer;
    fd_watch fds[MAX_FDS];
};

static void arm_timer(evp_dns_channels *c)
{
    double soonest = -1;
    for (size_t i = 0; i < c->n; i++) {
        struct timeval tv, *t = c->chan[i].ch ? ares_timeout(c->chan[i].ch, NULL, &tv) : NULL;
        double secs = t ? (double)t->tv_sec + (double)t->tv_usec / 1e6 : -1;
        if (t && (soonest < 0 || secs < soonest))
            soonest = secs;
    }
    ev_timer_stop(c->loop, &c->timer);
    if (soonest >= 0) {
        ev_timer_set(&c->timer, soonest + 0.001, 0.);
        ev_timer_start(c->loop, &c->timer);
    }
}

static void on_fd(EV_P_ ev_io *w, int revents)
{
    fd_watch *fw = (fd_watch *)w;
    evp_dns_channels *c = fw->chan->owner;
    ares_process_fd(fw->chan->ch, (revents & EV_READ) ? w->fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? w->fd : ARES_SOCKET_BAD);
    arm_timer(c);
}

static void on_timer(EV_P_ ev_timer *w, int revents)
{
    evp_dns_channels *c = (evp_dns_channels *)((char *)w - offsetof(evp_dns_channels, timer));
    for (size_t i = 0; i < c->n; i++)
        if (c->chan[i].ch)
            ares_process_fd(c->chan[i].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer(c);
}

/* c-ares tells us which sockets of a channel to watch. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    channel *chan = data;
    evp_dns_channels *c = chan->owner;
    fd_watch *slot = NULL;
    for (int i = 0; i < MAX_FDS; i++)
        if (ev_is_active(&c->fds[i].io) && c->fds[i].io.fd == fd)
            slot = &c->fds[i];
    if (slot)
        ev_io_stop(c->loop, &slot->io);
    if (!readable && !writable)
        return;
    if (slot == NULL)
        for (int i = 0; i < MAX_FDS && slot == NULL; i++)
            if (!ev_is_active(&c->fds[i].io))
                slot = &c->fds[i];
    if (slot == NULL) {
        evp_err("resolver: too many c-ares sockets");
        return;
    }
    slot->chan = chan;
    ev_io_set(&slot->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    ev_io_start(c->loop, &slot->io);
}

/* Makes channel i, asking its server(s): 0, or -1 when c-ares refuses. */
static int open_channel(evp_dns_channels *c, size_t i)
{
    channel *chan = &c->chan[i];
    int split = c->servers && evp_dns_servers_split(c->servers);
    struct ares_options opts = {.sock_state_cb = sock_state,
                                .sock_state_cb_data = chan,
                                .timeout = SPLIT_TIMEOUT_MS,
                                .tries = SPLIT_TRIES};
    int mask = ARES_OPT_SOCK_STATE_CB | (split ? ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES : 0);
    if (ares_init_options(&chan->ch, &opts, mask) != ARES_SUCCESS) {
        chan->ch = NULL;
        return -1;
    }
    if (c->servers == NULL)
        return 0;
    const char *csv = evp_dns_servers_csv(c->servers, i);
    int rc = ares_set_servers_ports_csv(chan->ch, csv);
    if (rc != ARES_SUCCESS) { /* never fall back to the system's: they were not asked for */
        evp_warn("dns.servers: %s: %s", csv, ares_strerror(rc));
        ares_destroy(chan->ch);
        chan->ch = NULL;
        return -1;
    }
    return 0;
}

int evp_dns_channels_ask(evp_dns_channels *c, size_t i, const char *name, int family,
                         ares_addrinfo_callback cb, void *arg)
{
    if (i >= c->n || (c->chan[i].ch == NULL && open_channel(c, i) != 0))
        return -1;
    struct ares_addrinfo_hints hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    ares_getaddrinfo(c->chan[i].ch, name, NULL, &hints, cb, arg);
    arm_timer(c);
    return 0;
}

static void close_all(evp_dns_channels *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->chan[i].ch) {
            ares_destroy(c->chan[i].ch);
            c->chan[i].ch = NULL;
        }
    for (int i = 0; i < MAX_FDS; i++)
        ev_io_stop(c->loop, &c->fds[i].io);
    ev_timer_stop(c->loop, &c->timer);
}

void evp_dns_channels_reset(evp_dns_channels *c, evp_dns_servers *servers)
{
    close_all(c);
    evp_dns_servers_ref(servers);
    evp_dns_servers_unref(c->servers);
    c->servers = servers;
    c->n = servers ? evp_dns_servers_count(servers) : 1;
    for (size_t i = 0; i < c->n; i++)
        c->chan[i].owner = c;
}

const evp_dns_servers *evp_dns_channels_servers(const evp_dns_channels *c)
{
    return c->servers;
}

evp_dns_channels *evp_dns_channels_new(struct ev_loop *loop)
{
    static int lib_ready;
    if (!lib_ready) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
            return NULL;
        lib_ready = 1;
    }
    evp_dns_channels *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->loop = loop;
    ev_timer_init(&c->timer, on_timer, 0., 0.);
    for (int i = 0; i < MAX_FDS; i++)
        ev_io_init(&c->fds[i].io, on_fd, -1, 0);
    evp_dns_channels_reset(c, NULL);
    return c;
}

void evp_dns_channels_free(evp_dns_channels *c)
{
    if (c == NULL)
        return;
    close_all(c);
    evp_dns_servers_unref(c->servers);
    free(c);
}
