/* Users through the ABI (1.2): the core's control handling drives list/add/remove/replace
 * against tests/plugins/named.so, whose users ({"name", "token"}) the core has never heard
 * of, loaded from a clientsFile and saved back to it; an ops struct too small for the users
 * fields counts as having none. */
#include "server.h"
#include "users.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64], schema_dir[PATH_MAX], users_file[PATH_MAX];

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A schema directory: the project's schemas plus the test plugin's user schema. */
static void make_schema_dir(void)
{
    char cwd[PATH_MAX], from[2 * PATH_MAX], to[2 * PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(schema_dir, sizeof schema_dir, "%s/schema", tmp);
    ck_assert_int_eq(mkdir(schema_dir, 0700), 0);
    DIR *d = opendir("schema");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(from, sizeof from, "%s/schema/%s", cwd, e->d_name);
        snprintf(to, sizeof to, "%s/%s", schema_dir, e->d_name);
        ck_assert_int_eq(symlink(from, to), 0);
    }
    closedir(d);
    snprintf(from, sizeof from, "%s/tests/data/schema/named-user.schema.json", cwd);
    snprintf(to, sizeof to, "%s/named-user.schema.json", schema_dir);
    ck_assert_int_eq(symlink(from, to), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Handles one request; returns the reply (static) and asserts its "ok". */
static const char *ask(evp_server *srv, const char *req, int want_ok)
{
    static char out[8192];
    char *r = evp_server_control_answer(srv, req);
    ck_assert_ptr_nonnull(r);
    snprintf(out, sizeof out, "%s", r);
    free(r);
    ck_assert_msg((strstr(out, "\"ok\":true") != NULL) == want_ok, "%s -> %s", req, out);
    return out;
}

/* Lets the reload the control change started finish (bounded by count, not time), and any
 * reload queued behind one the clients-file watch had started before the change: that older
 * one read the file as it was, and only the queued one reads the change. */
static void wait_reload(evp_server *srv, unsigned before)
{
    for (int i = 0; i < 2000 && (srv->reloads + srv->reloads_refused == before ||
                                 srv->reload_job != NULL || srv->reload_again);
         i++) {
        ev_run(srv->loop, EVRUN_NOWAIT);
        usleep(5000);
    }
    ck_assert_uint_ge(srv->reloads, before + 1);
    ck_assert_uint_eq(srv->reloads_refused, 0);
}

START_TEST(users_through_the_abi)
{
    snprintf(tmp, sizeof tmp, "/tmp/evp-users-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    make_schema_dir();
    snprintf(users_file, sizeof users_file, "%s/users.json", tmp);
    write_text(users_file, "{\"clients\": [{\"name\": \"ann\", \"token\": \"tok-ann-1\"}]}");
    char config[8192], plugins[PATH_MAX];
    const char *build = getenv("EVP_BUILD");
    snprintf(plugins, sizeof plugins, "%s/tests/plugins", build ? build : "build");
    snprintf(config, sizeof config,
             "{\"inbounds\": [{\"tag\": \"in\", \"listen\": \"127.0.0.1\", \"port\": %u, "
             "\"protocol\": \"named\", \"clientsFile\": \"%s\"}], "
             "\"outbounds\": [{\"protocol\": \"blackhole\"}]}", free_port(), users_file);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    evp_server srv;
    memset(&srv, 0, sizeof srv);
    ck_assert_int_eq(evp_server_start(&srv, loop, NULL, config, schema_dir, plugins), 0);

    /* Listed in the plugin's format, its secret shortened by the plugin. */
    const char *r = ask(&srv, "{\"cmd\":\"list-users\",\"inbound\":\"in\"}", 1);
    ck_assert_ptr_nonnull(strstr(r, "{\"name\":\"ann\",\"token\":\"to..\"}"));
    ck_assert_ptr_null(strstr(r, "tok-ann-1"));

    /* A session authenticated as ann keeps her after she is replaced. */
    evp_instance *in = evp_instance_ref(evp_server_inbound(&srv, "in"));
    void *s = evp_inops(in)->session_new(in->inst);
    evp_buf out = {0}, back = {0};
    evp_io io = {.in = (const uint8_t *)"tok-ann-1\n", .in_len = 10, .out = &out, .back = &back};
    ck_assert_int_eq(evp_inops(in)->decode(s, &io), EVP_TARGET);

    unsigned n = srv.reloads;
    r = ask(&srv, "{\"cmd\":\"add-user\",\"inbound\":\"in\","
                  "\"user\":{\"name\":\"bob\",\"token\":\"tok-bob-2\"}}", 1);
    ck_assert_ptr_nonnull(strstr(r, users_file));
    ck_assert_ptr_nonnull(strstr(read_text(users_file), "tok-bob-2"));
    wait_reload(&srv, n);
    ck_assert_ptr_nonnull(strstr(ask(&srv, "{\"cmd\":\"list-users\",\"inbound\":\"in\"}", 1),
                                 "\"bob\""));
    /* Positional fields, named by the user schema's x-ctl-args. */
    n = srv.reloads;
    ask(&srv, "{\"cmd\":\"add-user\",\"inbound\":\"in\",\"args\":[\"cat\",\"tok-cat-3\"]}", 1);
    wait_reload(&srv, n);
    ck_assert_ptr_nonnull(strstr(read_text(users_file), "tok-cat-3"));
    /* The user schema is checked first, and the error names the path. */
    r = ask(&srv, "{\"cmd\":\"add-user\",\"inbound\":\"in\",\"user\":{\"name\":\"x\"}}", 0);
    ck_assert_msg(strstr(r, "user") && strstr(r, "token"), "%s", r);
    r = ask(&srv, "{\"cmd\":\"add-user\",\"inbound\":\"in\","
                  "\"user\":{\"name\":\"bob\",\"token\":\"tok-bob-9\"}}", 0);
    ck_assert_msg(strstr(r, "already there"), "%s", r);
    ck_assert_ptr_null(strstr(read_text(users_file), "tok-bob-9"));

    n = srv.reloads;
    ask(&srv, "{\"cmd\":\"remove-user\",\"inbound\":\"in\",\"user\":\"bob\"}", 1);
    wait_reload(&srv, n);
    ck_assert_ptr_null(strstr(read_text(users_file), "bob"));
    ask(&srv, "{\"cmd\":\"remove-user\",\"inbound\":\"in\",\"user\":\"bob\"}", 0);

    r = ask(&srv, "{\"cmd\":\"replace-users\",\"inbound\":\"in\",\"users\":[{\"name\":1}]}", 0);
    ck_assert_msg(strstr(r, "users[0].name"), "%s", r);
    n = srv.reloads;
    ask(&srv, "{\"cmd\":\"replace-users\",\"inbound\":\"in\","
              "\"users\":[{\"name\":\"dan\",\"token\":\"tok-dan-4\"}]}", 1);
    wait_reload(&srv, n);
    const char *file = read_text(users_file);
    ck_assert_ptr_nonnull(strstr(file, "tok-dan-4"));
    ck_assert_ptr_null(strstr(file, "ann"));
    ck_assert_str_eq(evp_inops(in)->session_user(s), "ann");

    evp_inops(in)->session_free(s);
    evp_instance_unref(in);
    free(out.data);
    free(back.data);
    evp_server_stop(&srv);
    ev_loop_destroy(loop);
}
END_TEST

/* An ops struct whose size ends before the users fields has none, whatever follows. */
START_TEST(short_ops_have_no_users)
{
    static evp_inbound_ops ops;
    static evp_plugin desc;
    char err[256];
    char p[PATH_MAX];
    const char *build = getenv("EVP_BUILD");
    snprintf(p, sizeof p, "%s/tests/plugins/named.so", build ? build : "build");
    evp_module *named = evp_module_open(p, err, sizeof err);
    ck_assert_msg(named != NULL, "%s", err);
    ck_assert_int_eq(evp_users_supported(named), 1);
    ops = *named->desc->inbound;
    desc = *named->desc;
    desc.inbound = &ops;
    /* The host reads an ops struct as it was at load: one module per size. */
    const uint32_t sizes[] = {offsetof(evp_inbound_ops, user_schema),
                              offsetof(evp_inbound_ops, users_replace), /* one op short */
                              sizeof ops};
    const int want[] = {0, 0, 1};
    for (size_t k = 0; k < 3; k++) {
        ops.size = sizes[k];
        evp_module *m = evp_module_builtin(&desc, err, sizeof err);
        ck_assert_msg(m != NULL, "%s", err);
        ck_assert_int_eq(evp_users_supported(m), want[k]);
        evp_module_unref(m);
    }
    evp_module_unref(named);
}
END_TEST

Suite *users_abi_suite(void)
{
    Suite *s = suite_create("users_abi");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, users_through_the_abi);
    tcase_add_test(tc, short_ops_have_no_users);
    suite_add_tcase(s, tc);
    return s;
}
