/* The plugin loader: a good plugin loads; a wrong ABI major, a missing entry symbol and a
 * file that is not an ELF object are each refused with a one-line error naming the file. */
#include "module.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[512];

static const char *plugin_path(const char *name)
{
    const char *build = getenv("EVP_BUILD");
    snprintf(path, sizeof path, "%s/tests/plugins/%s.so", build ? build : "build", name);
    return path;
}

START_TEST(good_plugin_loads)
{
    char err[512] = "";
    evp_module *m = evp_module_open(plugin_path("good"), err, sizeof err);
    ck_assert_msg(m != NULL, "load failed: %s", err);
    ck_assert_str_eq(m->desc->name, "good");
    ck_assert_str_eq(m->desc->version, "1.2.3");
    ck_assert_ptr_nonnull(m->desc->inbound);
    ck_assert_int_eq(evp_module_changed(m), 0);
    evp_module_ref(m);
    evp_module_unref(m);
    ck_assert_int_eq(atomic_load(&m->refs), 1);
    evp_module_unref(m);
}
END_TEST

START_TEST(wrong_major_refused)
{
    char err[512] = "";
    evp_module *m = evp_module_open(plugin_path("wrong_major"), err, sizeof err);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "wrong_major.so") != NULL, "no file name in: %s", err);
    ck_assert_msg(strstr(err, "major") != NULL, "no cause in: %s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(missing_symbol_refused)
{
    char err[512] = "";
    evp_module *m = evp_module_open(plugin_path("no_entry"), err, sizeof err);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, "no_entry.so") != NULL, "no file name in: %s", err);
    ck_assert_msg(strstr(err, "evp_plugin_entry") != NULL, "no cause in: %s", err);
}
END_TEST

START_TEST(not_elf_refused)
{
    char err[512] = "";
    char tmp[] = "/tmp/evp-not-elf-XXXXXX";
    int fd = mkstemp(tmp);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(write(fd, "{\"not\": \"a plugin\"}\n", 20), 20);
    close(fd);
    evp_module *m = evp_module_open(tmp, err, sizeof err);
    unlink(tmp);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err, tmp) != NULL, "no file name in: %s", err);
    ck_assert_msg(strstr(err, "not a loadable plugin") != NULL, "no cause in: %s", err);
}
END_TEST

START_TEST(missing_file_refused)
{
    char err[512] = "";
    ck_assert_ptr_null(evp_module_open("/nonexistent/x.so", err, sizeof err));
    ck_assert_msg(strstr(err, "/nonexistent/x.so") != NULL, "%s", err);
}
END_TEST

/* The good test plugin's inbound ops, copied: a complete set of hooks to cut down. */
static evp_inbound_ops good_inbound(void)
{
    char err[512] = "";
    evp_module *m = evp_module_open(plugin_path("good"), err, sizeof err);
    ck_assert_msg(m != NULL, "load failed: %s", err);
    evp_inbound_ops ops = *m->desc->inbound;
    evp_module_unref(m); /* the copy's pointers are not called after this */
    return ops;
}

START_TEST(descriptor_checks)
{
    char err[256];
    evp_inbound_ops ops = good_inbound();
    evp_plugin d = {.abi_major = EVP_ABI_MAJOR, .abi_minor = EVP_ABI_MINOR + 1,
                    .size = sizeof d, .name = "x", .inbound = &ops};
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "newer"));
    d.abi_minor = EVP_ABI_MINOR;
    d.name = NULL;
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), -1);
    d.name = "x";
    d.inbound = NULL;
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), -1);
    d.inbound = &ops;
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), 0);
}
END_TEST

/* An ops struct too small for a required hook, or missing one, is refused; fields past a
 * smaller (older) plugin's size read as absent, whatever bytes follow its struct. */
START_TEST(ops_sizes_checked)
{
    char err[256];
    evp_inbound_ops ops = good_inbound();
    evp_plugin d = {.abi_major = EVP_ABI_MAJOR, .abi_minor = EVP_ABI_MINOR, .size = sizeof d,
                    .name = "x", .inbound = &ops};
    ops.size = offsetof(evp_inbound_ops, encode);
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "inbound ops") != NULL, "%s", err);
    ops.size = sizeof ops;
    evp_inbound_ops full = ops;
    ops.decode = NULL;
    ck_assert_int_eq(evp_module_check(&d, err, sizeof err), -1);
    ops = full;
    ops.size = offsetof(evp_inbound_ops, connected); /* a plugin from before connected */
    ops.connected = full.connected ? full.connected : (int (*)(void *, int, evp_io *))1;
    ops.session_user = (const char *(*)(void *))1; /* bytes past its struct: not ops */
    evp_module *m = evp_module_builtin(&d, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    const evp_inbound_ops *seen = evp_module_inops(m);
    ck_assert_ptr_eq(seen->decode, full.decode);
    ck_assert_ptr_null(seen->connected);
    ck_assert_ptr_null(seen->session_user);
    ck_assert_ptr_null(seen->users_list);
    ck_assert_ptr_null(evp_module_outops(m));
    evp_module_unref(m);
}
END_TEST

Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, good_plugin_loads);
    tcase_add_test(tc, wrong_major_refused);
    tcase_add_test(tc, missing_symbol_refused);
    tcase_add_test(tc, not_elf_refused);
    tcase_add_test(tc, missing_file_refused);
    tcase_add_test(tc, descriptor_checks);
    tcase_add_test(tc, ops_sizes_checked);
    suite_add_tcase(s, tc);
    return s;
}
