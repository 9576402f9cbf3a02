/* The one-request-one-reply connections (oneshot.h). */
#include "oneshot.h"

#include "log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKE 64 /* then let the rest of the loop run */

typedef struct oneshot_conn oneshot_conn;

struct evp_oneshot {
    ev_io io;       /* first member: the listening socket */
    ev_timer pause; /* accepting paused while out of descriptors */
    struct ev_loop *loop;
    const evp_oneshot_conf *conf;
    void *arg;
    oneshot_conn *conns; /* open connections, a doubly linked list */
    int n_conns;
};

struct oneshot_conn {
    ev_io io; /* first member */
    ev_timer deadline;
    evp_oneshot *owner;
    oneshot_conn *prev, *next;
    char *request; /* max_request + 1 bytes, owned; NULL once the reply is being written */
    size_t request_len;
    evp_oneshot_reply reply; /* being written, owned */
    size_t reply_sent;
};

static void conn_free(oneshot_conn *c)
{
    struct ev_loop *loop = c->owner->loop;
    ev_io_stop(loop, &c->io);
    ev_timer_stop(loop, &c->deadline);
    close(c->io.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->owner->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->owner->n_conns--;
    free(c->request);
    free(c->reply.bytes);
    free(c);
}

/* Sends a reply (taken) on a connection about to be dropped; best effort, never waits: a short
 * reply fits in a fresh socket's buffer. */
static void send_now(const evp_oneshot *o, int fd, evp_oneshot_reply r)
{
    if (r.bytes && send(fd, r.bytes, r.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        evp_debug("%s: could not send a last reply: %s", o->conf->name, strerror(errno));
    free(r.bytes);
}

/* Writes what the socket takes now; frees the connection when done or failed. */
static void conn_write(oneshot_conn *c)
{
    while (c->reply_sent < c->reply.len) {
        ssize_t n = send(c->io.fd, c->reply.bytes + c->reply_sent,
                         c->reply.len - c->reply_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* EV_WRITE brings us back */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            evp_debug("%s: client went away before the reply", c->owner->conf->name);
            break;
        }
        c->reply_sent += (size_t)n;
    }
    conn_free(c);
}

/* Takes the reply and switches the connection to writing it. */
static void conn_reply(oneshot_conn *c, evp_oneshot_reply r)
{
    struct ev_loop *loop = c->owner->loop;
    free(c->request);
    c->request = NULL;
    if (r.bytes == NULL) {
        conn_free(c);
        return;
    }
    c->reply = r;
    c->reply_sent = 0;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, EV_WRITE);
    ev_io_start(loop, &c->io);
    ev_timer_stop(loop, &c->deadline);
    ev_timer_set(&c->deadline, c->owner->conf->reply_secs, 0.);
    ev_timer_start(loop, &c->deadline);
    conn_write(c);
}

/* Answers once the request is whole; 1 when the connection has moved on (or is gone). */
static int conn_try_answer(oneshot_conn *c, size_t seen, int eof)
{
    const evp_oneshot *o = c->owner;
    ssize_t whole = o->conf->complete(c->request, c->request_len, seen, eof);
    if (whole == -2 || (whole == -1 && eof)) {
        conn_free(c);
        return 1;
    }
    if (whole < 0)
        return 0;
    c->request[whole] = '\0';
    conn_reply(c, o->conf->answer(o->arg, EVP_ONESHOT_REQUEST, c->request, (size_t)whole));
    return 1;
}

static void conn_read(oneshot_conn *c)
{
    const evp_oneshot *o = c->owner;
    for (;;) {
        size_t room = o->conf->max_request - c->request_len;
        if (room == 0) {
            conn_reply(c, o->conf->answer(o->arg, EVP_ONESHOT_TOO_LONG, NULL, 0));
            return;
        }
        ssize_t n = recv(c->io.fd, c->request + c->request_len, room, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            conn_free(c);
            return;
        }
        size_t seen = c->request_len;
        c->request_len += (size_t)n;
        if (conn_try_answer(c, seen, n == 0))
            return;
    }
}

static void on_conn_io(EV_P_ ev_io *w, int revents)
{
    oneshot_conn *c = (oneshot_conn *)w;
    if (c->request)
        conn_read(c);
    else
        conn_write(c);
}

static void on_conn_deadline(EV_P_ ev_timer *w, int revents)
{
    oneshot_conn *c = (oneshot_conn *)((char *)w - offsetof(oneshot_conn, deadline));
    const evp_oneshot *o = c->owner;
    if (c->request)
        send_now(o, c->io.fd, o->conf->answer(o->arg, EVP_ONESHOT_TIMEOUT, NULL, 0));
    else
        evp_debug("%s: reply not taken within %g s; dropped", o->conf->name,
                  o->conf->reply_secs);
    conn_free(c);
}

static void conn_open(evp_oneshot *o, int fd)
{
    oneshot_conn *c = calloc(1, sizeof *c);
    char *request = malloc(o->conf->max_request + 1);
    if (c == NULL || request == NULL) {
        free(c);
        free(request);
        close(fd);
        return;
    }
    c->owner = o;
    c->request = request;
    c->next = o->conns;
    if (c->next)
        c->next->prev = c;
    o->conns = c;
    o->n_conns++;
    ev_io_init(&c->io, on_conn_io, fd, EV_READ);
    ev_timer_init(&c->deadline, on_conn_deadline, o->conf->request_secs, 0.);
    ev_io_start(o->loop, &c->io);
    ev_timer_start(o->loop, &c->deadline);
}

static void on_accept_resume(EV_P_ ev_timer *w, int revents)
{
    evp_oneshot *o = (evp_oneshot *)((char *)w - offsetof(evp_oneshot, pause));
    ev_io_start(EV_A, &o->io);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    evp_oneshot *o = (evp_oneshot *)w;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(o->io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The pending connection keeps the socket readable: pause, don't spin. */
                evp_warn("%s: accept: %s; pausing 0.2 s", o->conf->name, strerror(errno));
                ev_io_stop(EV_A, &o->io);
                ev_timer_start(EV_A, &o->pause);
            }
            return;
        }
        if (o->n_conns >= o->conf->max_conns) {
            send_now(o, fd, o->conf->answer(o->arg, EVP_ONESHOT_BUSY, NULL, 0));
            close(fd);
            continue;
        }
        conn_open(o, fd);
    }
}

evp_oneshot *evp_oneshot_start(struct ev_loop *loop, int fd, const evp_oneshot_conf *conf,
                               void *arg)
{
    evp_oneshot *o = calloc(1, sizeof *o);
    if (o == NULL) {
        close(fd);
        return NULL;
    }
    o->loop = loop;
    o->conf = conf;
    o->arg = arg;
    ev_io_init(&o->io, on_accept, fd, EV_READ);
    ev_timer_init(&o->pause, on_accept_resume, 0.2, 0.);
    ev_io_start(loop, &o->io);
    return o;
}

void evp_oneshot_stop(evp_oneshot *o)
{
    if (o == NULL)
        return;
    while (o->conns)
        conn_free(o->conns);
    ev_io_stop(o->loop, &o->io);
    ev_timer_stop(o->loop, &o->pause);
    close(o->io.fd);
    free(o);
}
