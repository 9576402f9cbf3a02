/* Config files with comments, read as V2Ray 4.34's json reader reads them: `//`, `#` and
 * block comments outside strings dropped, their newlines kept (error lines still match). */
#include "json_comments.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void assert_stripped(const char *in, const char *want)
{
    char out[256];
    size_t n = evp_json_strip_comments(in, strlen(in), out);
    out[n] = '\0';
    ck_assert_str_eq(out, want);
}

START_TEST(comments_dropped_outside_strings)
{
    assert_stripped("{\"a\": 1} // tail", "{\"a\": 1} ");
    assert_stripped("{# hash\n\"a\": 1}", "{\n\"a\": 1}");
    assert_stripped("{/* one\ntwo */\"a\": /**/1}", "{\n\"a\": 1}");
    assert_stripped("{/* a ** b */}", "{}");
    assert_stripped("{\"u\": \"http://x/#y\"}", "{\"u\": \"http://x/#y\"}");
    assert_stripped("{\"q\": \"a\\\"//b\"}", "{\"q\": \"a\\\"//b\"}");
    assert_stripped("{'s': '#//'}", "{'s': '#//'}");
    assert_stripped("{\"a\": 1/2}", "{\"a\": 1/2}");
}
END_TEST

START_TEST(loads_commented_file_with_lines_kept)
{
    char path[] = "/tmp/evp-json-comments-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\n  // the inbound\n  \"port\": 1080, # V2Ray's style\n  /* the\n     end */\n"
          "  \"tag\": \"a//b\"\n}\n",
          f);
    fclose(f);
    json_error_t je;
    json_t *root = evp_json_load_commented(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(root != NULL, "%s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "port")), 1080);
    ck_assert_str_eq(json_string_value(json_object_get(root, "tag")), "a//b");
    json_decref(root);
    f = fopen(path, "w");
    fputs("{\n// one\n/* two\n three */\n\"a\": ,\n}\n", f);
    fclose(f);
    ck_assert_ptr_null(evp_json_load_commented(path, 0, &je));
    ck_assert_int_eq(je.line, 5); /* the file's own line */
    ck_assert_str_eq(je.source, path);
    unlink(path);
    ck_assert_ptr_null(evp_json_load_commented(path, 0, &je));
    ck_assert_ptr_nonnull(strstr(je.text, "unable to open"));
}
END_TEST

Suite *json_comments_suite(void)
{
    Suite *s = suite_create("json_comments");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, comments_dropped_outside_strings);
    tcase_add_test(tc, loads_commented_file_with_lines_kept);
    suite_add_tcase(s, tc);
    return s;
}
