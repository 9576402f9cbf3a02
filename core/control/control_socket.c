/* The control socket's listener: a Unix socket whose connections each send one request line
 * and get one reply line (oneshot.c runs them, bounded in number, request size and time). The
 * socket path is claimed only when nothing else holds it, and released only if it is still
 * the socket we made. */
#include "control_socket.h"

#include "control.h"

#include "log.h"
#include "oneshot.h"

#include <errno.h>
#include <stdio.h>
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

struct evp_control_socket {
    evp_oneshot *server;
    evp_control_answer *answer;
    void *answer_arg;
    char *path;
    dev_t dev; /* the socket file we bound, to remove only that one */
    ino_t ino;
};

/* The JSON reply text (owned, taken) as a line to send; no bytes when out of memory. */
static evp_oneshot_reply line_of(char *json)
{
    size_t n = json ? strlen(json) : 0;
    char *line = json ? realloc(json, n + 1) : NULL;
    if (line == NULL) {
        free(json);
        return (evp_oneshot_reply){NULL, 0};
    }
    line[n] = '\n';
    return (evp_oneshot_reply){line, n + 1};
}

/* A request is its first line; one the client ended with EOF instead of a newline counts. */
static ssize_t line_complete(const char *buf, size_t len, size_t seen, int eof)
{
    const char *nl = memchr(buf + seen, '\n', len - seen);
    if (nl)
        return nl - buf;
    if (eof)
        return len ? (ssize_t)len : -2;
    return -1;
}

static evp_oneshot_reply control_reply(void *arg, enum evp_oneshot_why why, const char *req,
                                       size_t len)
{
    const evp_control_socket *ctl = arg;
    switch (why) {
    case EVP_ONESHOT_REQUEST:
        return line_of(ctl->answer(ctl->answer_arg, req));
    case EVP_ONESHOT_TOO_LONG:
        return line_of(evp_control_error("request longer than %d bytes", MAX_REQUEST));
    case EVP_ONESHOT_TIMEOUT:
        return line_of(evp_control_error("no complete request line within %g s", REQUEST_SECS));
    default:
        return line_of(evp_control_error(
            "too many control connections (%d open); try again later", MAX_CONNECTIONS));
    }
}

static const evp_oneshot_conf control_conf = {
    .name = "control",
    .max_conns = MAX_CONNECTIONS,
    .max_request = MAX_REQUEST,
    .request_secs = REQUEST_SECS,
    .reply_secs = REPLY_SECS,
    .complete = line_complete,
    .answer = control_reply,
};

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
    evp_control_socket *ctl = NULL;
    if (!bound || stat(path, &st) != 0 || listen(fd, MAX_CONNECTIONS) != 0 ||
        (ctl = calloc(1, sizeof *ctl)) == NULL || (ctl->path = strdup(path)) == NULL) {
        evp_err("control.path: cannot listen on %s: %s", path, strerror(errno));
        if (bound)
            unlink(path); /* bound just now: ours */
        if (fd != -1)
            close(fd);
        free(ctl);
        return NULL;
    }
    ctl->answer = answer;
    ctl->answer_arg = arg;
    ctl->dev = st.st_dev;
    ctl->ino = st.st_ino;
    ctl->server = evp_oneshot_start(loop, fd, &control_conf, ctl);
    if (ctl->server == NULL) {
        evp_err("control.path: out of memory");
        evp_control_socket_close(ctl);
        return NULL;
    }
    return ctl;
}

void evp_control_socket_close(evp_control_socket *ctl)
{
    if (ctl == NULL)
        return;
    evp_oneshot_stop(ctl->server);
    /* Someone may have put their own socket at the path since: remove only ours. */
    struct stat st;
    if (ctl->path && lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == ctl->dev &&
        st.st_ino == ctl->ino)
        unlink(ctl->path);
    free(ctl->path);
    free(ctl);
}
