/* A listening socket on an event loop whose connections each send one request, get one
 * reply and are closed: the control socket's and the metrics endpoint's transport. Nothing a
 * client does may stall the loop, so each connection is a small non-blocking state machine,
 * bounded in number, request size and time. What a request means is the owner's business. */
#ifndef EVP_ONESHOT_H
#define EVP_ONESHOT_H

#include <ev.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct evp_oneshot evp_oneshot;

/* Why answer is called without a request. */
enum evp_oneshot_why {
    EVP_ONESHOT_REQUEST,  /* a whole request came */
    EVP_ONESHOT_TOO_LONG, /* max_request bytes and still not whole */
    EVP_ONESHOT_TIMEOUT,  /* not whole within request_secs (the reply is sent best effort) */
    EVP_ONESHOT_BUSY,     /* max_conns are open (the reply is sent best effort) */
};

/* A reply the owner built: malloc'd bytes the server takes. */
typedef struct evp_oneshot_reply {
    char *bytes; /* NULL: close without a reply */
    size_t len;
} evp_oneshot_reply;

typedef struct evp_oneshot_conf {
    const char *name; /* for log lines: "control", "metrics" */
    int max_conns;
    size_t max_request; /* bytes of one request */
    double request_secs; /* from accept to a whole request */
    double reply_secs;   /* from the request to the last byte of the reply written */
    /* The length of the request held in buf[0..len) (what answer is given), -1 while more
     * is needed, -2 to close without a reply. buf[0..seen) was looked at before (and was not
     * whole); eof: the client has ended its side. */
    ssize_t (*complete)(const char *buf, size_t len, size_t seen, int eof);
    /* The reply to a request (req: len bytes, NUL-terminated) or to why without one. */
    evp_oneshot_reply (*answer)(void *arg, enum evp_oneshot_why why, const char *req,
                                size_t len);
} evp_oneshot_conf;

/* Serves the listening socket fd (non-blocking; taken) with conf (kept: static storage) and
 * arg; NULL when out of memory (fd is then closed). */
evp_oneshot *evp_oneshot_start(struct ev_loop *loop, int fd, const evp_oneshot_conf *conf,
                               void *arg);
/* Closes every connection and the listening socket (NULL is fine). */
void evp_oneshot_stop(evp_oneshot *o);

#endif
