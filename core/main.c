/* evproxy: command line. Daemon (-c), config check (-t), schema validation (validate),
 * control client (ctl), and SIP003 plugin mode (SS_* variables, no -c). */
#include "control.h"
#include "default_config.h"
#include "jsonschema.h"
#include "log.h"
#include "paths.h"
#include "server.h"
#include "sip003.h"

#include <ev.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0.1"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: evproxy -c CONFIG.json          run a V2Ray-shaped config\n"
            "       evproxy -t -c CONFIG.json       check a config and exit (0 good, 1 bad)\n"
            "       evproxy --default-config        run the embedded loopback default\n"
            "       evproxy validate SCHEMA DATA    validate JSON against a draft-07 schema\n"
            "       evproxy ctl [-s SOCKET] COMMAND control a running daemon (see README)\n"
            "       vmess-plugin                    SIP003 plugin mode (SS_* variables)\n"
            "options: --plugin-dir DIR  --schema-dir DIR  --version  --help\n");
}

/* A proxy holds two descriptors per connection: take the whole hard limit, as nginx's
 * worker_rlimit_nofile lets one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void ignore_signals(void)
{
    /* A server-side SIP003 plugin inherits SIGPIPE ignored and SIGABRT ignored; set our own. */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGABRT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int run(const char *config_path, const char *config_text, const char *schema_dir,
               const char *plugin_dir, int test_only)
{
    if (test_only) {
        if (evp_server_check(config_path, config_text, schema_dir, plugin_dir) != 0)
            return 1;
        printf("%s: configuration OK\n", config_path ? config_path : "(embedded)");
        return 0;
    }
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    evp_server srv;
    int rc = evp_server_start(&srv, loop, config_path, config_text, schema_dir, plugin_dir);
    if (rc != 0) {
        evp_server_stop(&srv);
        return 1;
    }
    evp_sip003_attach(loop); /* supervises a chained plugin */
    ev_run(loop, 0);
    rc = evp_sip003_detach(loop);
    evp_server_stop(&srv);
    return rc ? rc : srv.exit_code;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "evproxy: libsodium failed to initialise\n");
        return 1;
    }
    ignore_signals();
    raise_fd_limit();
    if (argc >= 2 && strcmp(argv[1], "validate") == 0)
        return evp_validate_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return evp_ctl_main(argc - 1, argv + 1);

    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"schema-dir", required_argument, NULL, 'S'},
        {"default-config", no_argument, NULL, 'D'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"fast-open", no_argument, NULL, 'F'}, /* older SIP003 hosts add it: ignored */
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *plugin_override = NULL, *schema_override = NULL;
    int test_only = 0, use_default = 0, c;
    while ((c = getopt_long(argc, argv, "c:tVhv", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 't':
            test_only = 1;
            break;
        case 'P':
            plugin_override = optarg;
            break;
        case 'S':
            schema_override = optarg;
            break;
        case 'D':
            use_default = 1;
            break;
        case 'v':
            printf("evproxy %s (plugin ABI %d.%d)\n", EVP_VERSION, EVP_ABI_MAJOR, EVP_ABI_MINOR);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'V': /* Android SIP003 hosts add -V (VPN mode): nothing to protect on Linux */
        case 'F':
            break;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "evproxy: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    char plugin_dir[PATH_MAX], schema_dir[PATH_MAX];
    evp_plugin_dir(plugin_override, plugin_dir, sizeof plugin_dir);
    evp_schema_dir(schema_override, schema_dir, sizeof schema_dir);

    if (use_default) {
        char *text = evp_default_config(plugin_dir);
        int rc = text ? run(NULL, text, schema_dir, plugin_dir, test_only) : 1;
        free(text);
        return rc;
    }
    if (config == NULL && evp_sip003_wanted()) {
        char *text = NULL;
        int rc = evp_sip003_config(plugin_dir, &text) != 0 ? 1 : run(NULL, text, schema_dir, plugin_dir,
                                                         test_only);
        free(text);
        if (rc != 0 && !test_only && getppid() != 1) {
            /* shadowsocks-libev 3.3.5 starts its plugin before it watches SIGCHLD: a plugin
             * that fails within milliseconds goes unnoticed and the host runs on without it.
             * Linger a moment so the host sees us go and exits too. */
            struct timespec ts = {0, 300 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        return rc;
    }
    if (config == NULL) {
        fprintf(stderr, "evproxy: no config: use -c CONFIG.json (or --help)\n");
        return 1;
    }
    return run(config, NULL, schema_dir, plugin_dir, test_only);
}
