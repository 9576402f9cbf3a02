/* SIP003 plugin mode (see shared/sip003.md): config from SS_* variables and options,
 * an optional chained plugin supervised as a child, and death of the host noticed. */
#include "sip003.h"

#include "log.h"
#include "registry.h"
#include "stream_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPTIONS 32

extern char **environ;

static struct {
    char *plugin; /* chained plugin command, or NULL */
    char *opts; /* its SS_PLUGIN_OPTIONS */
    char local_host[64], remote_host[256];
    unsigned local_port, remote_port;
    pid_t pid;
    ev_child child;
    int exit_code;
    struct ev_loop *loop;
} chain;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int evp_sip003_wanted(void)
{
    extern char *program_invocation_short_name;
    return env("SS_REMOTE_HOST") || env("SS_REMOTE_PORT") || env("SS_LOCAL_HOST") ||
           env("SS_LOCAL_PORT") || strcmp(program_invocation_short_name, "vmess-plugin") == 0;
}

int evp_sip003_parse_options(const char *s, char **keys, char **values, int max)
{
    int n = 0;
    size_t len = strlen(s);
    char *key = calloc(1, len + 1), *val = calloc(1, len + 1);
    size_t kl = 0, vl = 0;
    int in_val = 0, ok = key && val;
    for (size_t i = 0; ok && i <= len; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= len) {
                ok = 0; /* a trailing backslash escapes nothing */
                break;
            }
            c = s[++i];
            if (in_val)
                val[vl++] = c;
            else
                key[kl++] = c;
            continue;
        }
        if (c == ';' || c == '\0') {
            if (kl == 0 && vl == 0 && !in_val)
                continue; /* empty segment */
            if (kl == 0 || n >= max) {
                ok = 0;
                break;
            }
            key[kl] = val[vl] = '\0';
            keys[n] = strdup(key);
            values[n] = strdup(val);
            n++;
            kl = vl = 0;
            in_val = 0;
        } else if (c == '=' && !in_val) {
            in_val = 1;
        } else if (in_val) {
            val[vl++] = c;
        } else {
            key[kl++] = c;
        }
    }
    free(key);
    free(val);
    if (!ok) {
        evp_sip003_free_options(keys, values, n);
        return -1;
    }
    return n;
}

void evp_sip003_free_options(char **keys, char **values, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
}

static const char *opt(char **keys, char **values, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], name) == 0)
            return values[i];
    return NULL;
}

static int parse_port(const char *s, unsigned *port)
{
    char *end;
    long p = s ? strtol(s, &end, 10) : 0;
    if (s == NULL || *end != '\0' || p < 1 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

/* A free loopback port for the hop between us and a chained plugin. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    unsigned port = 0;
    if (fd != -1 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd != -1)
        close(fd);
    return port;
}

/* "host:port" for freedom's redirect, bracketing an IPv6 host. */
static void host_port(char *out, size_t n, const char *host, unsigned port)
{
    snprintf(out, n, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/* The protocol SIP003 mode speaks unless protocol=NAME names another plugin's (the mode is
 * "vmess-plugin"). */
#define SIP003_DEFAULT_PROTOCOL "vmess"

/* Options the host takes (here and the transport's); the others are the protocol plugin's. */
static int host_option(const char *key)
{
    if (evp_sip003_stream_option(key))
        return 1;
    static const char *const mine[] = {"server", "clients", "target", "loglevel", "chain",
                                       "chain_opts", "compat", "protocol"};
    for (size_t j = 0; j < sizeof mine / sizeof mine[0]; j++)
        if (strcmp(key, mine[j]) == 0)
            return 1;
    return 0;
}

/* The settings of the protocol plugin named protocol for the options it takes (parsed as
 * JSON; new reference), or NULL with a message on stderr. */
static json_t *plugin_settings(const char *plugin_dir, const char *protocol, evp_sip003_args *a,
                               char **keys, char **values, int n)
{
    const char *pk[MAX_OPTIONS], *pv[MAX_OPTIONS];
    a->size = sizeof *a;
    a->n = 0;
    for (int i = 0; i < n; i++) {
        if (host_option(keys[i]))
            continue;
        pk[a->n] = keys[i];
        pv[a->n++] = values[i];
    }
    a->keys = pk;
    a->values = pv;
    evp_registry reg;
    char err[512] = "out of memory";
    json_t *settings = NULL;
    evp_module *m = evp_registry_init(&reg, plugin_dir) == 0
                        ? evp_registry_get(&reg, protocol, err, sizeof err) : NULL;
    const evp_plugin *d = m ? m->desc : NULL;
    if (d && (d->size < offsetof(evp_plugin, sip003_settings) + sizeof d->sip003_settings ||
              d->sip003_settings == NULL)) {
        snprintf(err, sizeof err, "the %s plugin does not take SIP003 options", d->name);
    } else if (d) {
        char *text = d->sip003_settings(&m->host.services, a, err, sizeof err);
        settings = text ? json_loads(text, 0, NULL) : NULL;
        free(text); /* the host's alloc is malloc */
    }
    if (settings == NULL)
        fprintf(stderr, "vmess-plugin: protocol=%s: %s\n", protocol, err);
    evp_module_unref(m);
    evp_registry_free(&reg);
    return settings;
}

/* compat=v2ray-plugin: the multiplexer's name (a copy), which v2ray-plugin's server names as
 * its dokodemo-door's address; NULL with a message when there is no multiplexer. */
static char *mux_target(const char *plugin_dir)
{
    evp_registry reg;
    char err[512] = "out of memory";
    char *name = NULL;
    evp_module *m = evp_registry_init(&reg, plugin_dir) == 0
                        ? evp_registry_get(&reg, "mux", err, sizeof err) : NULL;
    const evp_mux_ops *ops = m ? evp_module_muxops(m) : NULL;
    if (ops && ops->target)
        name = strdup(ops->target);
    else if (m)
        snprintf(err, sizeof err, "plugin \"mux\" has no multiplexer");
    if (name == NULL)
        fprintf(stderr, "vmess-plugin: compat=v2ray-plugin needs Mux.Cool: %s\n", err);
    evp_module_unref(m);
    evp_registry_free(&reg);
    return name;
}

/* compat=v2ray-plugin: only the host's options mean anything (there is no VMess). */
static int compat_options(const char *compat, char **keys, int n)
{
    if (strcmp(compat, "v2ray-plugin") != 0) {
        fprintf(stderr, "vmess-plugin: compat must be v2ray-plugin, not \"%s\"\n", compat);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!host_option(keys[i]) || strcmp(keys[i], "protocol") == 0) {
            fprintf(stderr, "vmess-plugin: compat=v2ray-plugin carries no VMess: %s= is not "
                            "taken (the transport options are)\n", keys[i]);
            return -1;
        }
    return 0;
}

int evp_sip003_config(const char *plugin_dir, char **text)
{
    const char *rhost = env("SS_REMOTE_HOST"), *rport = env("SS_REMOTE_PORT");
    const char *lhost = env("SS_LOCAL_HOST"), *lport = env("SS_LOCAL_PORT");
    const char *options = getenv("SS_PLUGIN_OPTIONS");
    unsigned remote_port, local_port;
    const char *missing = !rhost ? "SS_REMOTE_HOST" : !rport ? "SS_REMOTE_PORT"
                        : !lhost ? "SS_LOCAL_HOST" : !lport ? "SS_LOCAL_PORT" : NULL;
    if (missing) {
        fprintf(stderr, "vmess-plugin: %s is not set (run me from ss-local/ss-server, or use "
                        "evproxy -c CONFIG)\n", missing);
        return -1;
    }
    if (parse_port(rport, &remote_port) || parse_port(lport, &local_port)) {
        fprintf(stderr, "vmess-plugin: SS_REMOTE_PORT/SS_LOCAL_PORT must be ports 1..65535\n");
        return -1;
    }
    char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
    int n = evp_sip003_parse_options(options ? options : "", keys, values, MAX_OPTIONS);
    if (n < 0) {
        fprintf(stderr, "vmess-plugin: SS_PLUGIN_OPTIONS is malformed: \"%s\"\n", options);
        return -1;
    }
    int server = opt(keys, values, n, "server") != NULL;
    const char *protocol = opt(keys, values, n, "protocol");
    if (protocol == NULL)
        protocol = SIP003_DEFAULT_PROTOCOL;
    const char *clients = opt(keys, values, n, "clients");
    /* ss hosts may pass several hosts joined by '|': we use the first. */
    char first_remote[256];
    snprintf(first_remote, sizeof first_remote, "%s", rhost);
    first_remote[strcspn(first_remote, "|")] = '\0';

    const char *chain_cmd = opt(keys, values, n, "chain");
    unsigned hop = 0;
    if (chain_cmd) {
        hop = free_port();
        if (hop == 0) {
            fprintf(stderr, "vmess-plugin: no free loopback port for the chain\n");
            evp_sip003_free_options(keys, values, n);
            return -1;
        }
        const char *copts = opt(keys, values, n, "chain_opts");
        free(chain.plugin);
        free(chain.opts);
        chain.plugin = strdup(chain_cmd);
        chain.opts = copts ? strdup(copts) : NULL;
        /* Client: the chained plugin listens on the hop and dials the real remote.
         * Server: it listens on the public address and dials the hop where we listen. */
        snprintf(chain.remote_host, sizeof chain.remote_host, "%s", rhost);
        chain.remote_port = remote_port;
        snprintf(chain.local_host, sizeof chain.local_host, "127.0.0.1");
        chain.local_port = hop;
    }

    const char *level = opt(keys, values, n, "loglevel");
    if (level && evp_log_parse_level(level) < 0) {
        fprintf(stderr, "vmess-plugin: loglevel must be debug, info, warning, error or none, "
                        "not \"%s\"\n", level);
        evp_sip003_free_options(keys, values, n);
        return -1;
    }
    /* compat=v2ray-plugin: v2ray-plugin's wire (WebSocket, TLS, Mux.Cool, no VMess). */
    const char *compat = opt(keys, values, n, "compat");
    char *muxname = NULL;
    if (compat && (compat_options(compat, keys, n) || !(muxname = mux_target(plugin_dir)))) {
        evp_sip003_free_options(keys, values, n);
        return -1;
    }
    json_t *stream = NULL;
    char err[512];
    if (evp_sip003_stream((const char *const *)keys, (const char *const *)values, n, server,
                          compat != NULL, &stream, err, sizeof err)) {
        fprintf(stderr, "vmess-plugin: %s\n", err);
        evp_sip003_free_options(keys, values, n);
        free(muxname);
        return -1;
    }
    evp_sip003_args a = {.inbound = server, .users_from_file = clients != NULL,
                         .server_host = chain_cmd ? "127.0.0.1" : first_remote,
                         .server_port = (uint16_t)(chain_cmd ? hop : remote_port)};
    json_t *settings = compat ? json_object()
                              : plugin_settings(plugin_dir, protocol, &a, keys, values, n);
    if (settings == NULL) {
        evp_sip003_free_options(keys, values, n);
        json_decref(stream);
        free(muxname);
        return -1;
    }
    json_t *root = json_pack("{s:{s:s}}", "log", "loglevel", level ? level : "warning");
    char addr[300];
    if (server) {
        if (compat) { /* v2ray-plugin's server: a dokodemo-door naming the multiplexer */
            json_decref(settings);
            settings = json_pack("{s:s, s:s}", "address", muxname, "network", "tcp");
        }
        json_t *in = json_pack("{s:s, s:s, s:i, s:s, s:o}", "tag", "sip003-in", "listen",
                               chain_cmd ? "127.0.0.1" : first_remote, "port",
                               chain_cmd ? (int)hop : (int)remote_port, "protocol",
                               compat ? "dokodemo-door" : protocol, "settings",
                               settings);
        if (clients)
            json_object_set_new(in, "clientsFile", json_string(clients));
        if (stream)
            json_object_set_new(in, "streamSettings", stream);
        /* Every stream goes to the local ss-server and nowhere else: never an open proxy. */
        host_port(addr, sizeof addr, lhost, local_port);
        json_object_set_new(root, "inbounds", json_pack("[o]", in));
        json_object_set_new(root, "outbounds",
                            json_pack("[{s:s, s:s, s:{s:s}}]", "tag", "to-ss-server", "protocol",
                                      "freedom", "settings", "redirect", addr));
    } else {
        const char *target = opt(keys, values, n, "target");
        char thost[256];
        unsigned tport = remote_port;
        snprintf(thost, sizeof thost, "%s", first_remote);
        if (target) {
            const char *colon = strrchr(target, ':');
            if (colon == NULL || parse_port(colon + 1, &tport)) {
                fprintf(stderr, "vmess-plugin: target must be HOST:PORT, not \"%s\"\n", target);
                evp_sip003_free_options(keys, values, n);
                json_decref(root);
                json_decref(settings);
                json_decref(stream);
                free(muxname);
                return -1;
            }
            size_t hl = (size_t)(colon - target);
            if (hl >= 2 && target[0] == '[' && target[hl - 1] == ']') {
                target++;
                hl -= 2;
            }
            snprintf(thost, sizeof thost, "%.*s", (int)hl, target);
        }
        json_object_set_new(
            root, "inbounds",
            json_pack("[{s:s, s:s, s:i, s:s, s:{s:s, s:i, s:s}}]", "tag", "sip003-in", "listen",
                      lhost, "port", (int)local_port, "protocol", "dokodemo-door", "settings",
                      "address", thost, "port", (int)tport, "network", "tcp"));
        if (compat) { /* v2ray-plugin's client: freedom to the server, multiplexed */
            json_decref(settings);
            host_port(addr, sizeof addr, chain_cmd ? "127.0.0.1" : first_remote,
                      chain_cmd ? hop : remote_port);
            settings = json_pack("{s:s}", "redirect", addr);
        }
        json_t *out = json_pack("{s:s, s:s, s:o}", "tag", "sip003-out", "protocol",
                                compat ? "freedom" : protocol, "settings", settings);
        if (stream)
            json_object_set_new(out, "streamSettings", stream);
        int mux = evp_sip003_mux((const char *const *)keys, (const char *const *)values, n);
        if (compat && opt(keys, values, n, "mux") == NULL)
            mux = 1; /* v2ray-plugin's default */
        if (mux > 0) /* a server takes a multiplexing client as it is: nothing to set there */
            json_object_set_new(out, "mux", json_pack("{s:b, s:i}", "enabled", 1,
                                                      "concurrency", mux));
        json_object_set_new(root, "outbounds", json_pack("[o]", out));
    }
    evp_sip003_free_options(keys, values, n);
    free(muxname);
    *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (evp_log_enabled(EVP_LOG_DEBUG))
        fprintf(stderr, "vmess-plugin config:\n%s\n", *text);
    /* The host is our parent: if it dies without a signal, follow it (sip003.md §7.5). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    return *text ? 0 : -1;
}

static void on_chain_exit(EV_P_ ev_child *w, int revents)
{
    int st = w->rstatus;
    evp_err("chained plugin %s exited (%s %d): stopping", chain.plugin,
            WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st)
                                                                   : WEXITSTATUS(st));
    chain.pid = 0;
    chain.exit_code = 1;
    ev_child_stop(EV_A, w);
    ev_break(EV_A, EVBREAK_ALL);
}

void evp_sip003_attach(struct ev_loop *loop)
{
    if (chain.plugin == NULL)
        return;
    chain.loop = loop;
    pid_t pid = fork();
    if (pid == -1) {
        evp_err("cannot start chained plugin %s: %s", chain.plugin, strerror(errno));
        chain.exit_code = 1;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (pid == 0) {
        char port[8];
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setenv("SS_REMOTE_HOST", chain.remote_host, 1);
        snprintf(port, sizeof port, "%u", chain.remote_port);
        setenv("SS_REMOTE_PORT", port, 1);
        setenv("SS_LOCAL_HOST", chain.local_host, 1);
        snprintf(port, sizeof port, "%u", chain.local_port);
        setenv("SS_LOCAL_PORT", port, 1);
        if (chain.opts)
            setenv("SS_PLUGIN_OPTIONS", chain.opts, 1);
        else
            unsetenv("SS_PLUGIN_OPTIONS");
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        char *argv[] = {chain.plugin, NULL};
        execvp(chain.plugin, argv);
        fprintf(stderr, "vmess-plugin: cannot run chained plugin %s: %s\n", chain.plugin,
                strerror(errno));
        _exit(127);
    }
    chain.pid = pid;
    evp_info("chained plugin %s started (pid %d) on 127.0.0.1:%u", chain.plugin, (int)pid,
             chain.local_port);
    ev_child_init(&chain.child, on_chain_exit, pid, 0);
    ev_child_start(loop, &chain.child);
}

int evp_sip003_detach(struct ev_loop *loop)
{
    if (chain.pid > 0) {
        ev_child_stop(loop, &chain.child);
        kill(chain.pid, SIGTERM);
        /* Give it two seconds to go, then make sure: no orphan is left behind. */
        for (int i = 0; i < 200; i++) {
            if (waitpid(chain.pid, NULL, WNOHANG) == chain.pid) {
                chain.pid = 0;
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (chain.pid > 0) {
            kill(chain.pid, SIGKILL);
            waitpid(chain.pid, NULL, 0);
        }
        chain.pid = 0;
    }
    free(chain.plugin);
    free(chain.opts);
    chain.plugin = chain.opts = NULL;
    return chain.exit_code;
}
