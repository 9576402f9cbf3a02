/* Module refcounting: a loaded plugin's code stays mapped while an instance or a session
 * still holds it, and is unloaded with the last reference, whoever drops it. */
#include "instance.h"
#include "module.h"
#include "router.h"
#include "session.h"

#include <check.h>
#include <dlfcn.h>
#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static evp_runtime rt;
static evp_router *router;

static void setup(void)
{
    evp_errlist errs = {0};
    json_t *root = json_object();
    router = evp_router_new(root, NULL, 0, &errs);
    json_decref(root);
    ck_assert_ptr_nonnull(router);
    memset(&rt, 0, sizeof rt);
    rt.loop = ev_loop_new(EVFLAG_AUTO);
    rt.handshake_timeout = rt.connect_timeout = rt.idle_timeout = rt.udp_timeout = 30;
    rt.limits = evp_limits_default();
    for (int i = 0; i < EVP_POLICY_LEVELS; i++)
        rt.relay_buffer[i] = EVP_RELAY_BUFFER_DEFAULT;
}

static void teardown(void)
{
    evp_session_close_all(&rt);
    ev_run(rt.loop, EVRUN_NOWAIT); /* frees what was closed */
    ev_loop_destroy(rt.loop);
    evp_router_unref(router);
}

/* The good test plugin, freshly loaded (refs 1). */
static evp_module *open_good(void)
{
    char path[512], err[512] = "";
    const char *build = getenv("EVP_BUILD");
    snprintf(path, sizeof path, "%s/tests/plugins/good.so", build ? build : "build");
    evp_module *m = evp_module_open(path, err, sizeof err);
    ck_assert_msg(m != NULL, "load failed: %s", err);
    return m;
}

/* True while the object that holds addr is mapped (dladdr knows no unloaded object). */
static int code_loaded(const void *addr)
{
    Dl_info info;
    return dladdr(addr, &info) != 0 && info.dli_fname != NULL &&
           strstr(info.dli_fname, "evproxy-plugin-") != NULL;
}

START_TEST(instance_keeps_module_loaded)
{
    char err[256];
    evp_module *m = open_good();
    const void *desc = m->desc;
    ck_assert(code_loaded(desc));
    evp_instance *in = evp_instance_new(m, 1, "in", "{}", 1080, err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    ck_assert_int_eq(atomic_load(&m->refs), 2);
    evp_module_unref(m); /* the loader's reference goes; the instance's stays */
    ck_assert_int_eq(atomic_load(&m->refs), 1);
    ck_assert_msg(code_loaded(desc), "unloaded while an instance holds it");
    evp_instance_unref(in);
    ck_assert_msg(!code_loaded(desc), "still loaded after its last reference");
}
END_TEST

/* The config lets go of the instance while a session runs on it: the code must stay until
 * the session ends by itself (its client leaves). */
START_TEST(session_keeps_module_loaded)
{
    char err[256];
    int pair[2];
    evp_module *m = open_good();
    const void *desc = m->desc;
    evp_instance *in = evp_instance_new(m, 1, "in", "{}", 1080, err, sizeof err);
    ck_assert_msg(in != NULL, "%s", err);
    evp_module_unref(m);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_ptr_nonnull(evp_session_tcp(&rt, pair[0], in, router));
    ck_assert_int_eq(in->refs, 2);
    evp_instance_unref(in); /* a reload dropped it */
    ck_assert_msg(code_loaded(desc), "unloaded while a session holds it");
    ck_assert_int_eq(write(pair[1], "x", 1), 1);
    for (int i = 0; i < 10; i++) /* it reads, and lives on */
        ev_run(rt.loop, EVRUN_NOWAIT);
    ck_assert_uint_eq(rt.n_sessions, 1);
    ck_assert(code_loaded(desc));
    close(pair[1]);
    for (int i = 0; i < 1000 && rt.n_sessions > 0; i++)
        ev_run(rt.loop, EVRUN_ONCE);
    ck_assert_uint_eq(rt.n_sessions, 0);
    ck_assert_msg(!code_loaded(desc), "still loaded after the last session ended");
}
END_TEST

Suite *module_suite(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("refcounting");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, instance_keeps_module_loaded);
    tcase_add_test(tc, session_keeps_module_loaded);
    suite_add_tcase(s, tc);
    return s;
}
