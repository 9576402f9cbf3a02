/* Several config files merged as V2Ray 4.34 merges -config/-confdir files: a lone entry with a
 * known tag replaces it, a lone new outbound is prepended unless the name holds "tail", several
 * replace the list, other top-level keys: the later file's wins. */
#include "config_files.h"
#include "registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* base overridden by next (file name) and dumped compactly with sorted keys (caller frees). */
static char *merged(const char *base, const char *next, const char *name)
{
    json_t *b = json_loads(base, 0, NULL), *n = json_loads(next, 0, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(n);
    evp_config_override(b, n, name);
    char *text = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(b);
    json_decref(n);
    return text;
}

static void assert_merge(const char *base, const char *next, const char *name, const char *want)
{
    char *got = merged(base, next, name);
    ck_assert_str_eq(got, want);
    free(got);
}

#define OUTS_AB "{\"outbounds\":[{\"tag\":\"a\"},{\"tag\":\"b\"}]}"

START_TEST(same_tag_replaces)
{
    assert_merge(OUTS_AB, "{\"outbounds\":[{\"tag\":\"b\",\"protocol\":\"blackhole\"}]}", "x.json",
                 "{\"outbounds\":[{\"tag\":\"a\"},{\"protocol\":\"blackhole\",\"tag\":\"b\"}]}");
    assert_merge("{\"inbounds\":[{\"tag\":\"i\",\"port\":1}]}",
                 "{\"inbounds\":[{\"tag\":\"i\",\"port\":2}]}", "x.json",
                 "{\"inbounds\":[{\"port\":2,\"tag\":\"i\"}]}");
}
END_TEST

START_TEST(new_outbound_prepended_unless_tail)
{
    assert_merge(OUTS_AB, "{\"outbounds\":[{\"tag\":\"c\"}]}", "/etc/v2/02_out.json",
                 "{\"outbounds\":[{\"tag\":\"c\"},{\"tag\":\"a\"},{\"tag\":\"b\"}]}");
    assert_merge(OUTS_AB, "{\"outbounds\":[{\"tag\":\"c\"}]}", "/etc/v2/03_TAIL.json",
                 "{\"outbounds\":[{\"tag\":\"a\"},{\"tag\":\"b\"},{\"tag\":\"c\"}]}");
    /* a new inbound is appended whatever the name */
    assert_merge("{\"inbounds\":[{\"tag\":\"i\"}]}", "{\"inbounds\":[{\"tag\":\"j\"}]}", "x.json",
                 "{\"inbounds\":[{\"tag\":\"i\"},{\"tag\":\"j\"}]}");
}
END_TEST

START_TEST(several_entries_replace_the_list)
{
    assert_merge(OUTS_AB, "{\"outbounds\":[{\"tag\":\"c\"},{\"tag\":\"a\"}]}", "x.json",
                 "{\"outbounds\":[{\"tag\":\"c\"},{\"tag\":\"a\"}]}");
    assert_merge(OUTS_AB, "{\"outbounds\":[]}", "x.json", OUTS_AB);
}
END_TEST

START_TEST(later_key_wins_whole)
{
    assert_merge("{\"log\":{\"loglevel\":\"debug\",\"access\":\"/a\"},\"dns\":{\"servers\":[1]}}",
                 "{\"log\":{\"loglevel\":\"none\"},\"dns\":null,\"policy\":{}}", "x.json",
                 "{\"dns\":{\"servers\":[1]},\"log\":{\"loglevel\":\"none\"},\"policy\":{}}");
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* -config files first, then the confdir's *.json in name order; a bad file is named. */
START_TEST(files_then_dir_in_name_order)
{
    char dir[] = "/tmp/evp-confdir-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/main.conf", dir);
    write_file(path, "{\"inbounds\":[{\"port\":1080,\"protocol\":\"socks\"}],"
                     "\"outbounds\":[{\"tag\":\"first\",\"protocol\":\"freedom\"}]}");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/d", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/d/20.json", dir);
    write_file(path, "{\"outbounds\":[{\"tag\":\"late\",\"protocol\":\"blackhole\"}]}");
    snprintf(path, sizeof path, "%s/d/10.json", dir);
    write_file(path, "{\"outbounds\":[{\"tag\":\"early\",\"protocol\":\"freedom\"}]}");
    snprintf(path, sizeof path, "%s/d/05.txt", dir);
    write_file(path, "not json, not read");

    evp_registry reg;
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
    evp_config_files f = {0};
    snprintf(path, sizeof path, "%s/main.conf", dir);
    ck_assert_int_eq(evp_config_files_add(&f, path), 0);
    f.confdir = strdup(sub);
    char *errors = NULL;
    evp_config *c = evp_config_load_files(&f, NULL, "schema", &reg, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    ck_assert_uint_eq(c->n_outbounds, 3);
    ck_assert_str_eq(c->outbounds[0].tag, "late"); /* the default: the last file prepended */
    ck_assert_str_eq(c->outbounds[1].tag, "early");
    ck_assert_str_eq(c->outbounds[2].tag, "first");
    evp_config_free(c);

    snprintf(path, sizeof path, "%s/d/30.json", dir);
    write_file(path, "{\"outbounds\":[");
    c = evp_config_load_files(&f, NULL, "schema", &reg, &errors);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(errors, "/d/30.json:"));
    free(errors);
    unlink(path);
    evp_config_files_free(&f);
    evp_registry_free(&reg);
    const char *names[] = {"d/20.json", "d/10.json", "d/05.txt", "main.conf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
}
END_TEST

Suite *config_files_suite(void)
{
    Suite *s = suite_create("config_files");
    TCase *tc = tcase_create("merge");
    tcase_add_test(tc, same_tag_replaces);
    tcase_add_test(tc, new_outbound_prepended_unless_tail);
    tcase_add_test(tc, several_entries_replace_the_list);
    tcase_add_test(tc, later_key_wins_whole);
    tcase_add_test(tc, files_then_dir_in_name_order);
    suite_add_tcase(s, tc);
    return s;
}
