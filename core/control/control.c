/* Control socket: user management and counters, as V2Ray's HandlerService and StatsService
 * give panels. Users go through the inbound plugin's users ops (ABI 1.2) as opaque JSON: the
 * plugin swaps in a new user table and running sessions keep the user they authenticated
 * as. When the inbound reads its users from a clientsFile the change is written there
 * (atomically) and the config reloaded, so it survives later reloads; otherwise it lives
 * until the next reload. */
#include "control.h"
#include "control_limits.h"
#include "control_sessions.h"

#include "file_replace.h"
#include "limits_sync.h"
#include "log.h"
#include "stats.h"
#include "user_limits.h"
#include "users.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

char *evp_control_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

static char *reply_ok(json_t *extra)
{
    json_t *r = extra ? extra : json_object();
    json_object_set_new(r, "ok", json_true());
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

static char *list_users(evp_instance *in)
{
    json_t *users = evp_users_list(in, 0);
    if (users == NULL)
        return evp_control_error("%s inbounds have no users to list", in->mod->desc->name);
    return reply_ok(json_pack("{s:o}", "users", users));
}

/* Writes users to file atomically as {"clients": [...]} (the clientsFile format's key),
 * keeping its mode and owner. -1 with why in err. */
static int write_users_file(const char *file, json_t *users, char *err, size_t errlen)
{
    json_t *doc = json_pack("{s:O}", "clients", users);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = evp_file_replace(file, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

enum user_change { ADD_USER, REMOVE_USER, REPLACE_USERS };

static int change(evp_instance *in, enum user_change what, json_t *arg, char *err, size_t n)
{
    if (what == ADD_USER)
        return evp_users_add(in, arg, err, n);
    if (what == REMOVE_USER)
        return evp_users_remove(in, json_string_value(arg), err, n);
    return evp_users_replace(in, arg, err, n);
}

/* Applies a change to the running inbound (new sessions see it; running ones keep their
 * user). With a clientsFile the whole list is saved there and the config reloaded, so the
 * change survives later reloads; if the file cannot be written the change is undone. */
static char *apply_change(const evp_control_host *host, const char *tag, evp_instance *in,
                          enum user_change what, json_t *arg)
{
    char file[4096] = "";
    host->clients_file(host->ctx, tag, file, sizeof file);
    json_t *before = file[0] ? evp_users_list(in, EVP_USERS_SECRETS) : NULL;
    if (file[0] && before == NULL)
        return evp_control_error("cannot read the users of [%s]", tag);
    char err[600];
    if (change(in, what, arg, err, sizeof err) != 0) {
        json_decref(before);
        return evp_control_error("%s", err);
    }
    evp_limits_sync_instance(in, host->schema_dir); /* new handshakes see them at once */
    if (file[0] == '\0')
        return reply_ok(json_pack("{s:b}", "saved", 0));
    json_t *after = evp_users_list(in, EVP_USERS_SECRETS);
    int rc = after ? write_users_file(file, after, err, sizeof err) : -1;
    json_decref(after);
    if (rc != 0) {
        char undo[256];
        evp_users_replace(in, before, undo, sizeof undo);
        evp_limits_sync_instance(in, host->schema_dir);
        json_decref(before);
        return evp_control_error("cannot write the clients file: %s", after ? err : "no list");
    }
    json_decref(before);
    /* The reload runs on its thread; "reload applied" in the log says when it is in. */
    if (host->reload(host->ctx) != 0)
        return evp_control_error("the clients file was written but the reload could not start");
    return reply_ok(json_pack("{s:s}", "saved", file));
}

/* Checks users against the plugin's user schema first: a bad user is refused before
 * anything (a clients file included) is touched. */
static char *checked_change(const evp_control_host *host, const char *tag, evp_instance *in,
                            enum user_change what, json_t *arg)
{
    if (!evp_users_supported(in->mod))
        return evp_control_error("%s inbounds have no users to manage", in->mod->desc->name);
    evp_errlist errs = {0};
    if (what != REMOVE_USER &&
        evp_users_validate(host->schema_dir, in->mod, arg, what == REPLACE_USERS,
                           what == REPLACE_USERS ? "users" : "user", &errs) != 0) {
        char *why = evp_errlist_take(&errs);
        char *r = evp_control_error("%s", why ? why : "invalid user");
        free(why);
        return r;
    }
    return apply_change(host, tag, in, what, arg);
}

/* add-user takes a user object, or positional "args" that the user schema names. */
static char *add_user(const evp_control_host *host, const char *tag, evp_instance *in,
                      json_t *req)
{
    char err[512];
    json_t *user = json_object_get(req, "user");
    json_t *built = NULL;
    if (user == NULL && json_is_array(json_object_get(req, "args"))) {
        built = evp_users_from_args(host->schema_dir, in->mod, json_object_get(req, "args"), err,
                                    sizeof err);
        if (built == NULL)
            return evp_control_error("%s", err);
        user = built;
    }
    if (!json_is_object(user)) {
        json_decref(built);
        return evp_control_error("add-user needs a user object");
    }
    char *r = checked_change(host, tag, in, ADD_USER, user);
    json_decref(built);
    return r;
}

/* The counter object for (inbound, user) in rows, made on first use. */
static json_t *stats_row(json_t *rows, const char *inbound, const char *user)
{
    char key[512];
    snprintf(key, sizeof key, "%s\x1f%s", inbound, user ? user : "");
    json_t *o = json_object_get(rows, key);
    if (o == NULL) {
        o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "inbound", inbound, "up", (json_int_t)0, "down",
                      (json_int_t)0, "sessions", (json_int_t)0, "active", (json_int_t)0);
        if (user)
            json_object_set_new(o, "email", json_string(user));
        json_object_set_new(rows, key, o);
    }
    return o;
}

static void stats_add(json_t *o, uint64_t up, uint64_t down, uint64_t sessions, int active)
{
    const char *keys[] = {"up", "down", "sessions", "active"};
    uint64_t add[] = {up, down, sessions, (uint64_t)active};
    for (int i = 0; i < 4; i++)
        json_object_set_new(
            o, keys[i],
            json_integer(json_integer_value(json_object_get(o, keys[i])) + (json_int_t)add[i]));
}

/* A running session counts too, as V2Ray's counters grow while traffic flows. */
static void stats_live(const evp_live_traffic *t, void *arg)
{
    stats_add(stats_row(arg, t->inbound, NULL), t->up, t->down, 1, 1);
    if (t->user)
        stats_add(stats_row(arg, t->inbound, t->user), t->up, t->down, 1, 1);
}

static json_t *module_list(const evp_control_host *host);
static json_t *plugin_memory(json_t *mods);

/* One row per worker: how the kernel spread the connections over them. */
static void worker_row(unsigned id, size_t sessions, uint64_t accepted, void *rows)
{
    json_array_append_new(rows, json_pack("{s:i, s:I, s:I}", "worker", (int)id, "sessions",
                                          (json_int_t)sessions, "accepted",
                                          (json_int_t)accepted));
}

static void stats_ended(const evp_counter *c, void *rows)
{
    if (c->inbound == NULL)
        return; /* an outbound's counter: the metrics show those */
    stats_add(stats_row(rows, c->inbound, c->user), c->up, c->down, c->sessions, 0);
}

/* The counters so far; with reset, zeroed after the reply is made (the users' quota usage
 * too: how a quota period is renewed). */
static char *stats(const evp_control_host *host, int reset)
{
    json_t *rows = json_object();
    evp_stats_each(stats_ended, rows);
    host->each_traffic(host->ctx, stats_live, rows);
    json_t *inbounds = json_array(), *users = json_array();
    const char *key;
    json_t *o;
    json_object_foreach (rows, key, o) {
        json_array_append(json_object_get(o, "email") ? users : inbounds, o);
    }
    json_decref(rows);
    json_t *workers = json_array();
    if (host->each_worker)
        host->each_worker(host->ctx, worker_row, workers);
    char *r = reply_ok(json_pack("{s:o, s:o, s:o, s:o}", "inbounds", inbounds, "users", users,
                                 "memory", plugin_memory(module_list(host)), "workers", workers));
    if (reset) {
        evp_stats_clear();
        evp_limits_reset_usage();
    }
    return r;
}

/* Loaded modules with their versions and how many holders (instances, sessions) each has:
 * after a plugin swap the old version stays listed until its last session ends. */
static void add_module(const evp_module *m, void *arg)
{
    json_t *mods = arg;
    size_t i;
    json_t *o;
    json_array_foreach (mods, i, o) {
        if (json_integer_value(json_object_get(o, "address")) == (json_int_t)(uintptr_t)m)
            return;
    }
    json_t *row = json_pack("{s:s, s:s, s:s?, s:i, s:I}", "name", m->desc->name, "version",
                            m->desc->version ? m->desc->version : "?", "file", m->origin, "refs",
                            atomic_load(&m->refs), "address", (json_int_t)(uintptr_t)m);
    if (m->handle) /* a plugin: what it holds through its host table (built-ins use libc) */
        json_object_update_new(row, json_pack("{s:I, s:I}", "bytes",
                                              (json_int_t)atomic_load(&m->host.bytes), "blocks",
                                              (json_int_t)atomic_load(&m->host.blocks)));
    json_array_append_new(mods, row);
}

/* Every loaded module: the registry's, and older copies an inbound or session still holds. */
static json_t *module_list(const evp_control_host *host)
{
    json_t *mods = json_array();
    host->each_module(host->ctx, add_module, mods);
    size_t i;
    json_t *o;
    json_array_foreach (mods, i, o) {
        json_object_del(o, "address");
    }
    return mods;
}

/* {"NAME": {"bytes": N, "blocks": M}} per plugin, all its loaded copies summed; takes mods. */
static json_t *plugin_memory(json_t *mods)
{
    json_t *mem = json_object();
    size_t i;
    json_t *m;
    json_array_foreach (mods, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (json_object_get(m, "bytes") == NULL)
            continue;
        json_t *sum = json_object_get(mem, name);
        if (sum == NULL) {
            sum = json_pack("{s:I, s:I}", "bytes", (json_int_t)0, "blocks", (json_int_t)0);
            json_object_set_new(mem, name, sum);
        }
        const char *keys[] = {"bytes", "blocks"};
        for (int k = 0; k < 2; k++)
            json_object_set_new(sum, keys[k],
                                json_integer(json_integer_value(json_object_get(sum, keys[k])) +
                                             json_integer_value(json_object_get(m, keys[k]))));
    }
    json_decref(mods);
    return mem;
}

static char *modules(const evp_control_host *host)
{
    return reply_ok(json_pack("{s:o}", "modules", module_list(host)));
}

/* limits: one user's "limits" changed, through replace-users (so a clients file keeps it). */
static char *set_limits(const evp_control_host *host, const char *tag, evp_instance *in,
                        json_t *req)
{
    const char *label = json_string_value(json_object_get(req, "user"));
    json_t *set = json_object_get(req, "set");
    if (label == NULL || !json_is_array(set))
        return evp_control_error("limits needs a user and a set array of KEY=VALUE");
    if (!evp_users_supported(in->mod))
        return evp_control_error("%s inbounds have no users to manage", in->mod->desc->name);
    char key[64], err[256];
    if (evp_users_label_key(host->schema_dir, in->mod, key, sizeof key) != 0)
        return evp_control_error("%s users have no label (x-label) to find one by",
                                 in->mod->desc->name);
    json_t *users = evp_users_list(in, EVP_USERS_SECRETS);
    json_t *changed =
        users ? evp_control_limits_edit(users, key, label, set, err, sizeof err) : NULL;
    json_decref(users);
    if (changed == NULL)
        return evp_control_error("%s", users ? err : "cannot read the users");
    char *r = checked_change(host, tag, in, REPLACE_USERS, changed);
    json_decref(changed);
    return r;
}

char *evp_control_handle(const evp_control_host *host, const char *request)
{
    json_error_t je;
    json_t *req = json_loads(request, 0, &je);
    if (!json_is_object(req)) {
        json_decref(req);
        return evp_control_error("request is not a JSON object: %s", je.text);
    }
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    const char *tag = json_string_value(json_object_get(req, "inbound"));
    char *r;
    evp_instance *in = tag ? host->inbound(host->ctx, tag) : NULL;
    if (cmd && strcmp(cmd, "stats") == 0) {
        r = stats(host, json_is_true(json_object_get(req, "reset")));
    } else if (cmd && strcmp(cmd, "modules") == 0) {
        r = modules(host);
    } else if (cmd && strcmp(cmd, "sessions") == 0) {
        r = reply_ok(json_pack("{s:o}", "sessions", evp_control_sessions(host)));
    } else if (cmd == NULL) {
        r = evp_control_error("request has no \"cmd\"");
    } else if (tag == NULL || in == NULL) {
        r = evp_control_error("no inbound tagged \"%s\"", tag ? tag : "(missing)");
    } else if (strcmp(cmd, "list-users") == 0) {
        r = list_users(in);
    } else if (strcmp(cmd, "add-user") == 0) {
        r = add_user(host, tag, in, req);
    } else if (strcmp(cmd, "remove-user") == 0) {
        json_t *who = json_object_get(req, "user");
        r = json_is_string(who) ? checked_change(host, tag, in, REMOVE_USER, who)
                                : evp_control_error("remove-user needs a user (email or id)");
    } else if (strcmp(cmd, "users") == 0) {
        r = reply_ok(json_pack("{s:o}", "users", evp_control_limit_users(tag)));
    } else if (strcmp(cmd, "limits") == 0) {
        r = set_limits(host, tag, in, req);
    } else if (strcmp(cmd, "replace-users") == 0) {
        json_t *users = json_object_get(req, "users");
        r = json_is_array(users) ? checked_change(host, tag, in, REPLACE_USERS, users)
                                 : evp_control_error("replace-users needs a users array");
    } else {
        r = evp_control_error("unknown command \"%s\"", cmd);
    }
    json_decref(req);
    return r;
}

/* ---- the client: evproxy ctl ----------------------------------------------------------- */

#define CTL_TIMEOUT_SECS 15
#define CTL_MAX_REPLY (64 << 20)

static void ctl_usage(void)
{
    fprintf(stderr,
            "usage: evproxy ctl [-s SOCKET] list-users INBOUND_TAG\n"
            "       evproxy ctl [-s SOCKET] add-user INBOUND_TAG USER_JSON | FIELD...\n"
            "       evproxy ctl [-s SOCKET] remove-user INBOUND_TAG EMAIL|ID\n"
            "       evproxy ctl [-s SOCKET] replace-users INBOUND_TAG USERS_JSON_ARRAY\n"
            "FIELDs are a user's fields in the order of its plugin's user schema (x-ctl-args),\n"
            "e.g. vmess: UUID [EMAIL [ALTERID [LEVEL]]]\n"
            "       evproxy ctl [-s SOCKET] users INBOUND_TAG\n"
            "       evproxy ctl [-s SOCKET] limits INBOUND_TAG EMAIL KEY=VALUE...\n"
            "KEYs: uplinkBps downlinkBps sessions ips quotaBytes expire (VALUE none removes)\n"
            "       evproxy ctl [-s SOCKET] stats [--reset]\n"
            "       evproxy ctl [-s SOCKET] modules\n"
            "       evproxy ctl [-s SOCKET] sessions\n"
            "SOCKET defaults to $EVPROXY_CONTROL or /run/evproxy.sock\n");
}

/* Reads the daemon's reply (up to EOF) on fd; NULL with a message on stderr. */
static json_t *ctl_read_reply(int fd, const char *sock)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ssize_t n = 0;
    while (buf && (n = read(fd, buf + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
        if (len == cap - 1) {
            char *bigger = cap < CTL_MAX_REPLY ? realloc(buf, cap * 2) : NULL;
            if (bigger == NULL) {
                fprintf(stderr, "evproxy ctl: the reply from %s is too long\n", sock);
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf == NULL || n < 0) {
        if (buf && (errno == EAGAIN || errno == EWOULDBLOCK))
            fprintf(stderr, "evproxy ctl: no reply from %s within %d s\n", sock, CTL_TIMEOUT_SECS);
        else
            fprintf(stderr, "evproxy ctl: no reply from %s: %s\n", sock,
                    buf ? strerror(errno) : "out of memory");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    json_error_t je;
    json_t *r = json_loads(buf, JSON_DISABLE_EOF_CHECK, &je);
    free(buf);
    if (json_is_object(r))
        return r;
    fprintf(stderr, "evproxy ctl: no valid reply from %s (%zu bytes): %s\n", sock, len,
            r ? "not a JSON object" : je.text);
    json_decref(r);
    return NULL;
}

int evp_ctl_main(int argc, char **argv)
{
    const char *sock = getenv("EVPROXY_CONTROL");
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
        sock = argv[i + 1];
        i += 2;
    }
    if (sock == NULL)
        sock = "/run/evproxy.sock";
    if (i >= argc) {
        ctl_usage();
        return 1;
    }
    const char *cmd = argv[i];
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    int nargs = argc - i - 1;
    char **args = argv + i + 1;
    if ((strcmp(cmd, "stats") == 0 || strcmp(cmd, "modules") == 0 ||
         strcmp(cmd, "sessions") == 0) &&
        nargs == 0) {
    } else if (strcmp(cmd, "stats") == 0 && nargs == 1 && strcmp(args[0], "--reset") == 0) {
        json_object_set_new(req, "reset", json_true());
    } else if ((strcmp(cmd, "list-users") == 0 || strcmp(cmd, "users") == 0) && nargs == 1) {
        json_object_set_new(req, "inbound", json_string(args[0]));
    } else if (strcmp(cmd, "add-user") == 0 && nargs >= 2) {
        json_object_set_new(req, "inbound", json_string(args[0]));
        json_t *u = nargs == 2 && args[1][0] == '{' ? json_loads(args[1], 0, NULL) : NULL;
        if (u) {
            json_object_set_new(req, "user", u);
        } else {
            json_t *fields = json_array(); /* the daemon names them from the user schema */
            for (int k = 1; k < nargs; k++)
                json_array_append_new(fields, json_string(args[k]));
            json_object_set_new(req, "args", fields);
        }
    } else if (strcmp(cmd, "replace-users") == 0 && nargs == 2) {
        json_t *users = json_loads(args[1], 0, NULL);
        if (!json_is_array(users)) {
            fprintf(stderr, "evproxy ctl: replace-users needs a JSON array of users\n");
            json_decref(users);
            json_decref(req);
            return 1;
        }
        json_object_set_new(req, "inbound", json_string(args[0]));
        json_object_set_new(req, "users", users);
    } else if (strcmp(cmd, "limits") == 0 && nargs >= 3) {
        json_object_set_new(req, "inbound", json_string(args[0]));
        json_object_set_new(req, "user", json_string(args[1]));
        json_t *set = json_array();
        for (int k = 2; k < nargs; k++)
            json_array_append_new(set, json_string(args[k]));
        json_object_set_new(req, "set", set);
    } else if (strcmp(cmd, "remove-user") == 0 && nargs == 2) {
        json_object_set_new(req, "inbound", json_string(args[0]));
        json_object_set_new(req, "user", json_string(args[1]));
    } else {
        json_decref(req);
        ctl_usage();
        return 1;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof a.sun_path) {
        fprintf(stderr, "evproxy ctl: \"%s\" is too long for a Unix socket\n", sock);
        free(text);
        return 2;
    }
    strcpy(a.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* The daemon answers within its own bounds (5 s + 5 s); never hang on a stuck one. */
    struct timeval tv = {CTL_TIMEOUT_SECS, 0};
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) == -1) {
        fprintf(stderr, "evproxy ctl: cannot reach %s: %s\n", sock, strerror(errno));
        free(text);
        if (fd != -1)
            close(fd);
        return 2;
    }
    size_t tl = strlen(text);
    int rc = 2;
    if (write(fd, text, tl) != (ssize_t)tl || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "evproxy ctl: cannot send to %s: %s\n", sock, strerror(errno));
    } else {
        json_t *r = ctl_read_reply(fd, sock);
        if (r) {
            rc = json_is_true(json_object_get(r, "ok")) ? 0 : 1;
            char *pretty = json_dumps(r, JSON_INDENT(2));
            printf("%s\n", pretty);
            free(pretty);
            json_decref(r);
        }
    }
    free(text);
    close(fd);
    return rc;
}
