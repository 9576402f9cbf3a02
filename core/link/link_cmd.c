/* `evproxy link`: loads a config as the daemon does (schema, plugins, clients files), asks
 * each inbound's plugin (ABI 1.7 share_link) for a link per user, prints them, and draws
 * them as QR codes. The core reads no field of a user: users stay opaque JSON. */
#include "link_cmd.h"

#include "config_files.h"
#include "paths.h"
#include "qr.h"
#include "users.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct link_opts {
    evp_config_files files;
    const char *inbound, *user, *address, *format, *png;
    const char *plugin_dir, *schema_dir;
    int qr;
} link_opts;

/* The links made so far (owned), for --png's "exactly one" rule and printing at the end. */
typedef struct link_list {
    char **links;
    size_t n;
} link_list;

static void link_usage(FILE *f)
{
    fprintf(f, "usage: evproxy link -c CONFIG.json [--inbound TAG] [--user EMAIL|ID]\n"
               "                    [--address HOST] [--format v2rayn|uri] [--qr] [--png FILE]\n"
               "                    [--plugin-dir DIR] [--schema-dir DIR]\n"
               "prints one share link per user of the config's inbounds whose plugin makes "
               "them\n");
}

static int parse_opts(int argc, char **argv, link_opts *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"inbound", required_argument, NULL, 'i'},
        {"user", required_argument, NULL, 'u'},     {"address", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},   {"qr", no_argument, NULL, 'q'},
        {"png", required_argument, NULL, 'p'},      {"plugin-dir", required_argument, NULL, 'P'},
        {"schema-dir", required_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (evp_config_files_add(&o->files, optarg) != 0)
                return -1;
            break;
        case 'i': o->inbound = optarg; break;
        case 'u': o->user = optarg; break;
        case 'a': o->address = optarg; break;
        case 'f': o->format = optarg; break;
        case 'q': o->qr = 1; break;
        case 'p': o->png = optarg; break;
        case 'P': o->plugin_dir = optarg; break;
        case 'S': o->schema_dir = optarg; break;
        case 'h': link_usage(stdout); exit(0);
        default: link_usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "evproxy link: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (evp_config_files_empty(&o->files)) {
        fprintf(stderr, "evproxy link: no config: use -c CONFIG.json\n");
        return -1;
    }
    return 0;
}

/* An address no client can dial from elsewhere: any, or loopback. */
static int undiallable(const char *a)
{
    return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 || strcmp(a, "::1") == 0 ||
           strncmp(a, "127.", 4) == 0 || strcasecmp(a, "localhost") == 0;
}

/* The host a client dials into out: --address ("[v6]" loses its brackets), else the
 * inbound's listen address. */
static void dial_address(const link_opts *o, const evp_inbound_conf *ic, char *out, size_t n)
{
    const char *a = o->address ? o->address : ic->listen;
    size_t len = strlen(a);
    if (len >= 2 && a[0] == '[' && a[len - 1] == ']')
        snprintf(out, n, "%.*s", (int)(len - 2), a + 1);
    else
        snprintf(out, n, "%s", a);
}

/* True when one of the user's string values is key (any case): its email or its id, as
 * the control socket's remove-user takes either; the core names no field. */
static int user_named(json_t *user, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach (user, k, v) {
        if (json_is_string(v) && strcasecmp(json_string_value(v), key) == 0)
            return 1;
    }
    return 0;
}

static int keep_link(link_list *l, char *link)
{
    char **grown = realloc(l->links, (l->n + 1) * sizeof *grown);
    if (grown == NULL) {
        free(link);
        return -1;
    }
    l->links = grown;
    l->links[l->n++] = link;
    return 0;
}

/* The links of one inbound's users (those --user names) into out; the number of errors. */
static int inbound_links(const link_opts *o, const evp_inbound_conf *ic, link_list *out)
{
    char err[512], address[256];
    evp_instance *in = evp_inbound_instance_new(ic, err, sizeof err);
    if (in == NULL) {
        fprintf(stderr, "evproxy link: inbound \"%s\": %s\n", ic->tag, err);
        return 1;
    }
    json_t *users = evp_users_list(in, EVP_USERS_SECRETS);
    int errors = users == NULL;
    if (users == NULL)
        fprintf(stderr, "evproxy link: inbound \"%s\": its users could not be listed\n",
                ic->tag);
    dial_address(o, ic, address, sizeof address);
    size_t i, made_before = out->n;
    json_t *user;
    json_array_foreach (users, i, user) {
        if (o->user && !user_named(user, o->user))
            continue;
        char *text = json_dumps(user, JSON_COMPACT);
        evp_link_args a = {.size = sizeof a, .user_json = text, .tag = ic->tag,
                           .address = address, .port = ic->port,
                           .stream_json = ic->stream.stream_json, .format = o->format};
        err[0] = '\0';
        char *link = text ? evp_inops(in)->share_link(in->inst, &a, err, sizeof err) : NULL;
        free(text);
        if (link == NULL || keep_link(out, link) != 0) {
            fprintf(stderr, "evproxy link: inbound \"%s\", user %zu: %s\n", ic->tag, i + 1,
                    err[0] ? err : "out of memory");
            errors++;
        }
    }
    if (o->address == NULL && out->n > made_before && undiallable(address))
        fprintf(stderr, "evproxy link: warning: inbound \"%s\" listens on %s, which clients "
                        "elsewhere cannot dial; its links carry it: give --address HOST\n",
                ic->tag, address);
    json_decref(users);
    evp_instance_unref(in);
    return errors;
}

/* True when ic's plugin makes share links for its users. */
static int makes_links(const evp_inbound_conf *ic)
{
    const evp_inbound_ops *ops = evp_module_inops(ic->mod);
    return ops && ops->share_link && evp_users_supported(ic->mod);
}

static int all_links(const link_opts *o, const evp_config *cfg, link_list *out)
{
    int errors = 0, named = 0;
    for (size_t i = 0; i < cfg->n_inbounds; i++) {
        const evp_inbound_conf *ic = &cfg->inbounds[i];
        if (o->inbound && strcmp(ic->tag, o->inbound) != 0)
            continue;
        named = 1;
        if (makes_links(ic))
            errors += inbound_links(o, ic, out);
        else if (o->inbound) {
            fprintf(stderr, "evproxy link: inbound \"%s\" (protocol %s) makes no share "
                            "links\n", ic->tag, ic->protocol);
            errors++;
        }
    }
    if (o->inbound && !named) {
        fprintf(stderr, "evproxy link: no inbound is tagged \"%s\"\n", o->inbound);
        errors++;
    }
    if (errors == 0 && out->n == 0) {
        fprintf(stderr, "evproxy link: no link: no inbound%s has users its plugin makes share "
                        "links for\n", o->user ? " (with that user)" : "");
        errors++;
    }
    return errors;
}

/* Prints the links (each followed by its QR code with --qr) and writes --png. */
static int show_links(const link_opts *o, const link_list *l)
{
    char err[256];
    if (o->png && l->n != 1) {
        fprintf(stderr, "evproxy link: --png takes one link, and %zu were made: name one "
                        "with --inbound and --user\n", l->n);
        return 1;
    }
    for (size_t i = 0; i < l->n; i++) {
        printf("%s\n", l->links[i]);
        if (o->qr && evp_qr_print(stdout, l->links[i], err, sizeof err) != 0) {
            fprintf(stderr, "evproxy link: %s\n", err);
            return 1;
        }
    }
    if (o->png && evp_qr_png(o->png, l->links[0], err, sizeof err) != 0) {
        fprintf(stderr, "evproxy link: %s\n", err);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int evp_link_main(int argc, char **argv)
{
    link_opts o = {0};
    if (parse_opts(argc, argv, &o) != 0) {
        evp_config_files_free(&o.files);
        return 1;
    }
    char plugin_dir[PATH_MAX], schema_dir[PATH_MAX];
    evp_plugin_dir(o.plugin_dir, plugin_dir, sizeof plugin_dir);
    evp_schema_dir(o.schema_dir, schema_dir, sizeof schema_dir);
    evp_registry reg;
    if (evp_registry_init(&reg, plugin_dir) != 0) {
        evp_config_files_free(&o.files);
        return 1;
    }
    char *errors = NULL;
    evp_config *cfg = evp_config_load_files(&o.files, NULL, schema_dir, &reg, &errors);
    int rc = 1;
    if (cfg == NULL) {
        fprintf(stderr, "%s", errors ? errors : "config: out of memory\n");
    } else {
        link_list l = {0};
        /* The links made are printed even when others failed (the status says so). */
        int failed = all_links(&o, cfg, &l) != 0;
        rc = l.n > 0 ? show_links(&o, &l) : 1;
        rc = rc || failed;
        for (size_t i = 0; i < l.n; i++)
            free(l.links[i]);
        free(l.links);
    }
    free(errors);
    evp_config_free(cfg);
    evp_registry_free(&reg);
    evp_config_files_free(&o.files);
    return rc;
}
