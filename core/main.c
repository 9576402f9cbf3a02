/* evproxy: command line. Daemon (-c), config check (-t), schema validation (validate),
 * control client (ctl), and SIP003 plugin mode (SS_* variables, no -c). V2Ray 4.34's flags
 * (-config, -confdir, -test, -format, -version) are read too, so its units run us unchanged. */
#include "config_files.h"
#include "control.h"
#include "default_config.h"
#include "jsonschema.h"
#include "link_cmd.h"
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
            "       evproxy link -c CONFIG.json     share links of its users (link --help)\n"
            "       vmess-plugin                    SIP003 plugin mode (SS_* variables)\n"
            "       evproxy -config A.json [-config B.json] [-confdir DIR] [-test]\n"
            "                                       V2Ray 4.34's command line: the files merged\n"
            "                                       as V2Ray merges them; -test exits 23 if bad\n"
            "options: --plugin-dir DIR  --schema-dir DIR  --version  --help  -format json\n");
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

enum { CHECK_NONE, CHECK_EVPROXY, CHECK_V2RAY };
/* V2Ray's exit status for a config it cannot load. */
#define V2RAY_BAD_CONFIG 23

static int run(const evp_config_files *files, const char *config_text, const char *schema_dir,
               const char *plugin_dir, int test_only)
{
    if (test_only == CHECK_V2RAY) {
        if (evp_server_check(files, config_text, schema_dir, plugin_dir) != 0)
            return V2RAY_BAD_CONFIG;
        printf("Configuration OK.\n");
        return 0;
    }
    if (test_only) {
        if (evp_server_check(files, config_text, schema_dir, plugin_dir) != 0)
            return 1;
        printf("%s: configuration OK\n", files && files->n ? files->paths[0] : "(embedded)");
        return 0;
    }
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    evp_server srv;
    int rc = evp_server_start(&srv, loop, files, config_text, schema_dir, plugin_dir);
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

/* Runs what the command line chose: the embedded default, SIP003 mode, or the config files. */
static int run_chosen(const evp_config_files *files, const char *plugin_override,
                      const char *schema_override, int use_default, int test_only)
{
    char plugin_dir[PATH_MAX], schema_dir[PATH_MAX];
    evp_plugin_dir(plugin_override, plugin_dir, sizeof plugin_dir);
    evp_schema_dir(schema_override, schema_dir, sizeof schema_dir);

    if (use_default) {
        char *text = evp_default_config(plugin_dir);
        int rc = text ? run(NULL, text, schema_dir, plugin_dir, test_only) : 1;
        free(text);
        return rc;
    }
    if (evp_config_files_empty(files) && evp_sip003_wanted()) {
        char *text = NULL;
        int rc = evp_sip003_config(plugin_dir, &text) != 0
                     ? 1
                     : run(NULL, text, schema_dir, plugin_dir, test_only);
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
    if (evp_config_files_empty(files)) {
        fprintf(stderr, "evproxy: no config: use -c CONFIG.json (or --help)\n");
        return test_only == CHECK_V2RAY ? V2RAY_BAD_CONFIG : 1;
    }
    return run(files, NULL, schema_dir, plugin_dir, test_only);
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
    if (argc >= 2 && strcmp(argv[1], "link") == 0)
        return evp_link_main(argc - 1, argv + 1);

    /* Parsed with getopt_long_only so V2Ray's -config/-confdir/-test/-format/-version read as
     * long options; one-letter options (-c, -t, -V) stay short. */
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"confdir", required_argument, NULL, 'C'},
        {"test", no_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"schema-dir", required_argument, NULL, 'S'},
        {"default-config", no_argument, NULL, 'D'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"fast-open", no_argument, NULL, 'F'}, /* older SIP003 hosts add it: ignored */
        {NULL, 0, NULL, 0},
    };
    evp_config_files files = {0};
    const char *plugin_override = NULL, *schema_override = NULL;
    int test_only = CHECK_NONE, use_default = 0, c, bad = 0;
    while (!bad && (c = getopt_long_only(argc, argv, "c:tVhv", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            bad = evp_config_files_add(&files, optarg) != 0;
            break;
        case 'C':
            free(files.confdir);
            bad = (files.confdir = strdup(optarg)) == NULL;
            break;
        case 't':
            test_only = CHECK_EVPROXY;
            break;
        case 'T':
            test_only = CHECK_V2RAY;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0) {
                fprintf(stderr, "evproxy: -format %s: only json configs are read (V2Ray's "
                                "protobuf format is not)\n", optarg);
                evp_config_files_free(&files);
                return V2RAY_BAD_CONFIG;
            }
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
            printf("reads V2Ray 4.34's JSON config and command line\n");
            evp_config_files_free(&files);
            return 0;
        case 'h':
            usage(stdout);
            evp_config_files_free(&files);
            return 0;
        case 'V': /* Android SIP003 hosts add -V (VPN mode): nothing to protect on Linux */
        case 'F':
            break;
        default:
            usage(stderr);
            bad = 1;
        }
    }
    if (!bad && optind < argc) {
        fprintf(stderr, "evproxy: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        bad = 1;
    }
    int rc = bad ? 1 : run_chosen(&files, plugin_override, schema_override, use_default,
                                  test_only);
    evp_config_files_free(&files);
    return rc;
}
