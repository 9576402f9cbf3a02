/* The control socket's listener and connections. The socket is a local admin door inside the
 * proxy's event loop, so nothing a client does may stall the loop: every connection is a
 * small non-blocking state machine (read one request line, then write one reply line),
 * bounded in number, request size and time. The socket path is claimed only when nothing
 * else holds it, and released only if it is still the socket we made. */
#include "control_socket.h"

#include "control.h"

#include "log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONNECTIONS 16
#define MAX_REQUEST 65536   /* bytes of one request line, its newline included */
#define REQUEST_SECS 5.0    /* from accept to a complete request */
#define REPLY_SECS 5.0      /* from the request to the last byte of the reply written */
#define ACCEPTS_PER_WAKE 64 /* then let the rest of the loop run */

typedef struct control_conn control_conn;

typedef struct evp_control_socket control;

struct evp_control_socket {
    ev_io io;       /* first member: the listening socket */
    ev_timer pause; /* accepting paused while out of descriptors */
    struct ev_loop *loop;
    evp_control_answer *answer;
    void *answer_arg;
    int fd;
    char *path;
    dev_t dev; /* the socket file we bound, to remove only that one */
    ino_t ino;
    control_conn *conns; /* open connections, a doubly linked list */
    int n_conns;
};

struct control_conn {
    ev_io io; /* first member */
    ev_timer deadline;
    control *owner;
    control_conn *prev, *next;
    char *request; /* MAX_REQUEST bytes, owned; NULL once the reply is being written */
    size_t request_len;
    char *reply; /* the reply line being written, owned */
    size_t reply_len, reply_sent;
};

static void conn_free(control_conn *c)
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
    free(c->reply);
    free(c);
}

/* The JSON reply text (owned, taken) as a line to send; NULL when out of memory. */
static char *line_of(char *json)
{
    size_t n = json ? strlen(json) : 0;
    char *line = json ? realloc(json, n + 2) : NULL;
    if (line == NULL) {
        free(json);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* Sends a line (owned, taken) on a connection we are about to drop; best effort, never waits:
 * a short line fits in a fresh socket's buffer. */
static void send_line_now(int fd, char *line)
{
    if (line && send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        evp_debug("control: could not send a last error line: %s", strerror(errno));
    free(line);
}

/* Writes what the socket takes now; frees the connection when done or failed. */
static void conn_write(control_conn *c)
{
    while (c->reply_sent < c->reply_len) {
        ssize_t n =
            send(c->io.fd, c->reply + c->reply_sent, c->reply_len - c->reply_sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* EV_WRITE brings us back */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            evp_debug("control: client went away before the reply");
            break;
        }
        c->reply_sent += (size_t)n;
    }
    conn_free(c);
}

/* Takes the reply line (owned) and switches the connection to writing it. */
static void conn_reply(control_conn *c, char *line)
{
    struct ev_loop *loop = c->owner->loop;
    free(c->request);
    c->request = NULL;
    if (line == NULL) {
        conn_free(c);
        return;
    }
    c->reply = line;
    c->reply_len = strlen(line);
    c->reply_sent = 0;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, EV_WRITE);
    ev_io_start(loop, &c->io);
    ev_timer_stop(loop, &c->deadline);
    ev_timer_set(&c->deadline, REPLY_SECS, 0.);
    ev_timer_start(loop, &c->deadline);
    conn_write(c);
}

/* The request (len bytes, newline excluded) is complete: answer it. */
static void conn_answer(control_conn *c, size_t len)
{
    c->request[len] = '\0';
    conn_reply(c, line_of(c->owner->answer(c->owner->answer_arg, c->request)));
}

static void conn_read(control_conn *c)
{
    for (;;) {
        size_t room = MAX_REQUEST - c->request_len;
        if (room == 0) {
            conn_reply(c, line_of(evp_control_error("request longer than %d bytes", MAX_REQUEST)));
            return;
        }
        ssize_t n = recv(c->io.fd, c->request + c->request_len, room, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n == 0 && c->request_len == 0)) {
            conn_free(c);
            return;
        }
        if (n == 0) { /* the client ended its request with EOF instead of a newline */
            conn_answer(c, c->request_len);
            return;
        }
        char *nl = memchr(c->request + c->request_len, '\n', (size_t)n);
        c->request_len += (size_t)n;
        if (nl) {
            conn_answer(c, (size_t)(nl - c->request));
            return;
        }
    }
}

static void on_conn_io(EV_P_ ev_io *w, int revents)
{
    control_conn *c = (control_conn *)w;
    if (c->request)
        conn_read(c);
    else
        conn_write(c);
}

static void on_conn_deadline(EV_P_ ev_timer *w, int revents)
{
    control_conn *c = (control_conn *)((char *)w - offsetof(control_conn, deadline));
    if (c->request)
        send_line_now(c->io.fd, line_of(evp_control_error("no complete request line within %g s",
                                                          REQUEST_SECS)));
    else
        evp_debug("control: reply not taken within %g s; dropped", REPLY_SECS);
    conn_free(c);
}

static void conn_open(control *ctl, int fd)
{
    control_conn *c = calloc(1, sizeof *c);
    char *request = malloc(MAX_REQUEST + 1);
    if (c == NULL || request == NULL) {
        free(c);
        free(request);
        close(fd);
        return;
    }
    c->owner = ctl;
    c->request = request;
    c->next = ctl->conns;
    if (c->next)
        c->next->prev = c;
    ctl->conns = c;
    ctl->n_conns++;
    ev_io_init(&c->io, on_conn_io, fd, EV_READ);
    ev_timer_init(&c->deadline, on_conn_deadline, REQUEST_SECS, 0.);
    ev_io_start(ctl->loop, &c->io);
    ev_timer_start(ctl->loop, &c->deadline);
}

static void on_accept_resume(EV_P_ ev_timer *w, int revents)
{
    control *ctl = (control *)((char *)w - offsetof(control, pause));
    ev_io_start(EV_A, &ctl->io);
}

static void on_accept(EV_P_ ev_io *w, int revents)
{
    control *ctl = (control *)w;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The pending connection keeps the socket readable: pause, don't spin. */
                evp_warn("control: accept: %s; pausing 0.2 s", strerror(errno));
                ev_io_stop(EV_A, &ctl->io);
                ev_timer_start(EV_A, &ctl->pause);
            }
            return;
        }
        if (ctl->n_conns >= MAX_CONNECTIONS) {
            send_line_now(fd, line_of(evp_control_error(
                                  "too many control connections (%d open); try again later",
                                  MAX_CONNECTIONS)));
            close(fd);
            continue;
        }
        conn_open(ctl, fd);
    }
}

/* Makes path free for our socket: nothing there, or a stale socket (nobody answers on it),
 * which is removed. Anything else is someone's, and left alone. 0 or -1 (logged). */
static int claim_path(const char *path, const struct sockaddr_un *a)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        evp_err("control.path: cannot inspect %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        evp_err("control.path: %s exists and is not a socket; left alone, not starting", path);
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe == -1) {
        evp_err("control.path: cannot probe %s: %s", path, strerror(errno));
        return -1;
    }
    int live = connect(probe, (const struct sockaddr *)a, sizeof *a) == 0 || errno == EAGAIN;
    int why = errno;
    close(probe);
    if (live) {
        evp_err("control.path: another evproxy is listening on %s", path);
        return -1;
    }
    if (why != ECONNREFUSED) {
        evp_err("control.path: cannot tell whether %s is in use (%s); not removing it", path,
                strerror(why));
        return -1;
    }
    evp_info("control.path: removing the stale socket %s", path);
    if (unlink(path) != 0 && errno != ENOENT) {
        evp_err("control.path: cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

evp_control_socket *evp_control_socket_open(struct ev_loop *loop, const char *path,
                                            evp_control_answer *answer, void *arg)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        evp_err("control.path: \"%s\" is too long for a Unix socket", path);
        return NULL;
    }
    strcpy(a.sun_path, path);
    if (claim_path(path, &a) != 0)
        return NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177); /* the socket is born 0600 */
    int bound = fd != -1 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    umask(old);
    struct stat st;
    control *ctl = NULL;
    if (!bound || stat(path, &st) != 0 || listen(fd, MAX_CONNECTIONS) != 0 ||
        (ctl = calloc(1, sizeof *ctl)) == NULL) {
        evp_err("control.path: cannot listen on %s: %s", path, strerror(errno));
        if (bound)
            unlink(path); /* bound just now: ours */
        if (fd != -1)
            close(fd);
        return NULL;
    }
    ctl->loop = loop;
    ctl->answer = answer;
    ctl->answer_arg = arg;
    ctl->fd = fd;
    ctl->path = strdup(path);
    ctl->dev = st.st_dev;
    ctl->ino = st.st_ino;
    ev_io_init(&ctl->io, on_accept, fd, EV_READ);
    ev_timer_init(&ctl->pause, on_accept_resume, 0.2, 0.);
    ev_io_start(loop, &ctl->io);
    return ctl;
}

void evp_control_socket_close(evp_control_socket *ctl)
{
    if (ctl == NULL)
        return;
    while (ctl->conns)
        conn_free(ctl->conns);
    ev_io_stop(ctl->loop, &ctl->io);
    ev_timer_stop(ctl->loop, &ctl->pause);
    close(ctl->fd);
    /* Someone may have put their own socket at the path since: remove only ours. */
    struct stat st;
    if (ctl->path && lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == ctl->dev &&
        st.st_ino == ctl->ino)
        unlink(ctl->path);
    free(ctl->path);
    free(ctl);
}
