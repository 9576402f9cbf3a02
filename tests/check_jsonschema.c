/* The draft-07 validator against the official JSON-Schema-Test-Suite, its messages, the
 * project's schema files against good and bad configs, and `evproxy validate`. */
#include "jsonschema.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"
#define MAX_ERRORS 20

/* ---- JSON-Schema-Test-Suite ---- */

/* Claimed files: every draft7 file except refRemote.json (remote refs over HTTP), plus the
 * formats we check. */
static const char *const optional_claimed[] = {
    "optional/format/ipv4.json",
    "optional/format/ipv6.json",
    "optional/format/hostname.json",
};

/* Cases of claimed files that need what we do not claim ($id-based resolution). */
static const struct {
    const char *file, *group;
} skipped[] = {
    {NULL, NULL}, /* none at the moment: $id-based resolution is claimed too */
};

static const char *suite_dir(void)
{
    const char *d = getenv("JSON_SCHEMA_TEST_SUITE");
    return d ? d : SUITE_DIR;
}

static int is_skipped(const char *file, const char *group)
{
    for (size_t i = 0; skipped[i].file != NULL; i++)
        if (strcmp(skipped[i].file, file) == 0 && strcmp(skipped[i].group, group) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir entries ending in suffix; caller frees each and the array. */
static char **list_dir(const char *dir, const char *suffix, size_t *count)
{
    char **names = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        ck_assert_ptr_nonnull(names);
        names[n++] = strdup(e->d_name);
    }
    if (d)
        closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_str);
    *count = n;
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Runs one suite file; returns failures and adds to the counters. */
static int run_suite_file(const char *rel, int *passed, int *failed, int *nskipped)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", suite_dir(), rel);
    json_error_t je;
    json_t *groups = json_load_file(path, 0, &je);
    ck_assert_msg(groups != NULL, "cannot read %s: %s", path, je.text);
    int p = 0, f = 0, s = 0;
    size_t gi, ti;
    json_t *g, *t;
    json_array_foreach (groups, gi, g) {
        const char *gdesc = json_string_value(json_object_get(g, "description"));
        json_t *tests = json_object_get(g, "tests");
        if (is_skipped(rel, gdesc)) {
            s += (int)json_array_size(tests);
            printf("jsonschema: SKIP %s: \"%s\" (%zu cases)\n", rel, gdesc, json_array_size(tests));
            continue;
        }
        evp_schema *sch = evp_schema_from_json(json_object_get(g, "schema"));
        ck_assert_ptr_nonnull(sch);
        json_array_foreach (tests, ti, t) {
            int want = json_is_true(json_object_get(t, "valid"));
            char *errors = NULL;
            int n = evp_schema_validate(sch, json_object_get(t, "data"), "", MAX_ERRORS, &errors);
            /* Valid exactly when no error is reported, and then no text is handed back. */
            int consistent = (n == 0) == (errors == NULL);
            if ((n == 0) == want && consistent) {
                p++;
            } else {
                f++;
                printf("jsonschema: FAIL %s: \"%s\" / \"%s\": expected %s, got %d errors%s%s", rel,
                       gdesc, json_string_value(json_object_get(t, "description")),
                       want ? "valid" : "invalid", n, errors ? ":\n" : "\n", errors ? errors : "");
            }
            free(errors);
        }
        evp_schema_free(sch);
    }
    printf("jsonschema: %-34s %3d passed, %d failed, %d skipped\n", rel, p, f, s);
    fflush(stdout); /* a failing check ends the forked test without flushing */
    json_decref(groups);
    *passed += p;
    *failed += f;
    *nskipped += s;
    return f;
}

START_TEST(test_official_suite)
{
    size_t n;
    char **files = list_dir(suite_dir(), ".json", &n);
    ck_assert_msg(n >= 30, "the draft7 test suite is missing from %s", suite_dir());
    int passed = 0, failed = 0, nskipped = 0, nfiles = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(files[i], "refRemote.json") == 0) {
            printf("jsonschema: SKIP refRemote.json (remote refs are not claimed)\n");
            continue;
        }
        run_suite_file(files[i], &passed, &failed, &nskipped);
        nfiles++;
    }
    for (size_t i = 0; i < sizeof optional_claimed / sizeof optional_claimed[0]; i++) {
        run_suite_file(optional_claimed[i], &passed, &failed, &nskipped);
        nfiles++;
    }
    free_list(files, n);
    printf("jsonschema: TOTAL %d files: %d passed, %d failed, %d skipped\n", nfiles, passed, failed,
           nskipped);
    ck_assert_int_gt(passed, 400);
    ck_assert_int_eq(failed, 0);
}
END_TEST

/* ---- messages and paths ---- */

static const struct {
    const char *schema, *instance, *prefix;
    int count;          /* expected number of error lines */
    const char *expect; /* substring of the error text */
} msg_cases[] = {
    {"{\"type\":\"string\"}", "5", "", 1, "(root): 5 is not of type \"string\""},
    {"{\"type\":[\"string\",\"null\"]}", "true", "x", 1,
     "x: true is not of type \"string\" or \"null\""},
    {"{\"properties\":{\"a\":{\"items\":{\"maximum\":3}}}}", "{\"a\":[1,2,7]}", "cfg", 1,
     "cfg.a[2]: 7 is greater than the maximum 3"},
    {"{\"properties\":{\"a\":{\"items\":{\"maximum\":3}}}}", "{\"a\":[9]}", "", 1,
     "a[0]: 9 is greater than the maximum 3"},
    {"{\"properties\":{\"a b\":{\"type\":\"null\"}}}", "{\"a b\":1}", "", 1,
     "[\"a b\"]: 1 is not of type \"null\""},
    {"{\"required\":[\"vnext\"]}", "{}", "outbounds[0].settings", 1,
     "outbounds[0].settings: required property \"vnext\" is missing"},
    {"{\"enum\":[\"aes-128-cfb\",\"auto\"]}", "\"aes-256-xyz\"", "s", 1,
     "s: \"aes-256-xyz\" is not one of [\"aes-128-cfb\", \"auto\"]"},
    {"{\"format\":\"uuid\"}", "\"abc\"", "id", 1, "id: \"abc\" is not a uuid"},
    {"{\"minimum\":1.5}", "1", "", 1, "(root): 1 is less than the minimum 1.5"},
    {"{\"exclusiveMaximum\":3}", "3", "", 1, "3 is not less than the exclusive maximum 3"},
    {"{\"multipleOf\":3}", "10", "", 1, "10 is not a multiple of 3"},
    {"{\"minLength\":3}", "\"\xc3\xa9\xc3\xa9\"", "", 1, "is shorter than 3 characters"},
    {"{\"pattern\":\"^a\"}", "\"ba\"", "", 1, "\"ba\" does not match the pattern \"^a\""},
    {"{\"minItems\":1}", "[]", "v", 1, "v: array has 0 items, fewer than the minimum 1"},
    {"{\"uniqueItems\":true}", "[1,2,1.0]", "", 1, "items 0 and 2 are equal"},
    {"{\"additionalProperties\":false}", "{\"x\":1}", "o", 1, "o: unknown property \"x\""},
    {"{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1}", "", 1,
     "property \"b\" is required when \"a\" is present"},
    {"{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":2}]}", "1", "p", 1,
     "p: matches none of the 2 alternatives of anyOf: [0] 1 is not of type \"string\"; "
     "[1] 1 is less than the minimum 2"},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "3", "", 1,
     "matches alternatives 0 and 1 of oneOf"},
    {"{\"oneOf\":[{\"properties\":{\"a\":{\"type\":\"string\"}}}]}", "{\"a\":1}", "", 1,
     "[0] a: 1 is not of type \"string\""},
    {"{\"not\":{\"type\":\"null\"}}", "null", "", 1, "must not match the schema in \"not\""},
    {"{\"contains\":{\"const\":1}}", "[2]", "", 1, "no item of the array matches"},
    {"{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}", "", 1,
     "property name \"abc\" is invalid: \"abc\" is longer than 2 characters"},
    {"{\"if\":{\"const\":1},\"then\":false}", "1", "k", 1, "k: 1 is not allowed here"},
    {"{\"$ref\":\"#/definitions/nope\"}", "1", "", 1,
     "cannot resolve the schema reference \"#/definitions/nope\""},
    {"{\"items\":{\"type\":\"string\"}}", "[1,2,3,4,5]", "", 3, "[2]: 3 is not of type"},
};

START_TEST(test_messages)
{
    json_error_t je;
    json_t *schema = json_loads(msg_cases[_i].schema, 0, &je);
    json_t *inst = json_loads(msg_cases[_i].instance, JSON_DECODE_ANY, &je);
    ck_assert_ptr_nonnull(schema);
    ck_assert_ptr_nonnull(inst);
    evp_schema *s = evp_schema_from_json(schema);
    char *errors = NULL;
    /* At most 3 lines, which also checks that max_errors stops the walk. */
    int n = evp_schema_validate(s, inst, msg_cases[_i].prefix, 3, &errors);
    ck_assert_ptr_nonnull(errors);
    ck_assert_msg(n == msg_cases[_i].count, "case %d: %d errors:\n%s", _i, n, errors);
    ck_assert_msg(strstr(errors, msg_cases[_i].expect) != NULL, "case %d: want \"%s\" in:\n%s", _i,
                  msg_cases[_i].expect, errors);
    int lines = 0;
    for (const char *p = errors; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, n);
    free(errors);
    evp_schema_free(s);
    json_decref(schema);
    json_decref(inst);
}
END_TEST

START_TEST(test_valid_gives_null)
{
    json_t *schema = json_loads("{\"type\":\"object\"}", 0, NULL);
    evp_schema *s = evp_schema_from_json(schema);
    json_decref(schema); /* the schema keeps its own reference */
    json_t *inst = json_object();
    char *errors = (char *)"untouched";
    ck_assert_int_eq(evp_schema_validate(s, inst, "x", 5, &errors), 0);
    ck_assert_ptr_null(errors);
    json_decref(inst);
    evp_schema_free(s);
}
END_TEST

/* Messages stay bounded however big the values are (long, nested enum lists). */
START_TEST(test_long_values)
{
    json_t *e = json_array();
    for (int i = 0; i < 200; i++)
        json_array_append_new(e,
                              json_pack("[[i, s], [i]]", i, "a long string to fill the line", i));
    json_t *schema = json_pack("{s:o}", "enum", e);
    evp_schema *s = evp_schema_from_json(schema);
    json_t *inst = json_pack("[[i]]", -1);
    char *errors = NULL;
    ck_assert_int_eq(evp_schema_validate(s, inst, "", 5, &errors), 1);
    ck_assert_ptr_nonnull(strstr(errors, "(root): [[-1]] is not one of [[[0, \"a long string"));
    ck_assert_uint_lt(strlen(errors), 1024);
    free(errors);
    json_decref(inst);
    evp_schema_free(s);
    json_decref(schema);
}
END_TEST

/* A $ref cycle that consumes no instance ends in an error, not a stack overflow. */
START_TEST(test_ref_cycle)
{
    const char *texts[] = {
        "{\"$ref\":\"#\"}",
        "{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
        "\"b\":{\"allOf\":[{\"$ref\":\"#/definitions/a\"}]}},\"$ref\":\"#/definitions/a\"}",
    };
    for (int i = 0; i < 2; i++) {
        json_t *schema = json_loads(texts[i], 0, NULL);
        ck_assert_ptr_nonnull(schema);
        evp_schema *s = evp_schema_from_json(schema);
        json_t *inst = json_integer(1);
        char *errors = NULL;
        ck_assert_int_eq(evp_schema_validate(s, inst, "", 5, &errors), 1);
        ck_assert_ptr_nonnull(strstr(errors, "nests too deeply"));
        free(errors);
        json_decref(inst);
        evp_schema_free(s);
        json_decref(schema);
    }
}
END_TEST

/* $id bases and anchors; the verdicts were computed with python3-jsonschema (Draft7Validator):
 * the first instance is invalid, the second valid. */
static const struct {
    const char *schema, *invalid, *valid;
} id_cases[] = {
    {"{\"$id\":\"http://x.test/r\",\"properties\":{\"p\":{\"$ref\":\"#foo\"}},\"definitio"
     "ns\":{\"a\":{\"$id\":\"#foo\",\"type\":\"integer\"}}}",
     "{\"p\":\"s\"}", "{\"p\":1}"},
    {"{\"$id\":\"http://x.test/a/b/c.json\",\"properties\":{\"p\":{\"$ref\":\"../d/e.js"
     "on\"}},\"definitions\":{\"x\":{\"$id\":\"http://x.test/a/d/e.json\",\"type\":\"str"
     "ing\"}}}",
     "{\"p\":1}", "{\"p\":\"s\"}"},
    {"{\"$id\":\"http://x.test/dir/root\",\"definitions\":{\"n\":{\"$id\":\"sub/node\",\""
     "definitions\":{\"t\":{\"type\":\"null\"}},\"properties\":{\"q\":{\"$ref\":\"#/defini"
     "tions/t\"}}}},\"properties\":{\"p\":{\"$ref\":\"sub/node\"}}}",
     "{\"p\":{\"q\":1}}", "{\"p\":{\"q\":null}}"},
    {"{\"$id\":\"http://x.test/dir/root\",\"definitions\":{\"n\":{\"$id\":\"/abs/node\","
     "\"type\":\"boolean\"}},\"items\":{\"$ref\":\"http://x.test/abs/node\"}}",
     "[1]", "[true]"},
    {"{\"$id\":\"http://x.test/dir/root\",\"definitions\":{\"n\":{\"$id\":\"./sub/../le"
     "af\",\"type\":\"boolean\"}},\"items\":{\"$ref\":\"leaf\"}}",
     "[1]", "[true]"},
};

START_TEST(test_id_resolution)
{
    json_t *schema = json_loads(id_cases[_i].schema, 0, NULL);
    json_t *bad = json_loads(id_cases[_i].invalid, JSON_DECODE_ANY, NULL);
    json_t *good = json_loads(id_cases[_i].valid, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(schema);
    ck_assert_ptr_nonnull(bad);
    ck_assert_ptr_nonnull(good);
    evp_schema *s = evp_schema_from_json(schema);
    char *errors = NULL;
    ck_assert_int_eq(evp_schema_validate(s, good, "", 5, &errors), 0);
    ck_assert_int_eq(evp_schema_validate(s, bad, "", 5, &errors), 1);
    ck_assert_ptr_null(strstr(errors, "cannot resolve"));
    free(errors);
    evp_schema_free(s);
    json_decref(schema);
    json_decref(bad);
    json_decref(good);
}
END_TEST

/* Nothing is fetched: a URI no loaded document declares does not resolve. */
START_TEST(test_remote_ref_fails)
{
    json_t *schema = json_loads("{\"$ref\":\"http://localhost:1234/integer.json\"}", 0, NULL);
    evp_schema *s = evp_schema_from_json(schema);
    json_t *inst = json_integer(1);
    char *errors = NULL;
    ck_assert_int_eq(evp_schema_validate(s, inst, "", 5, &errors), 1);
    ck_assert_ptr_nonnull(strstr(errors, "cannot resolve the schema reference"));
    free(errors);
    json_decref(inst);
    evp_schema_free(s);
    json_decref(schema);
}
END_TEST

/* Writes text to a fresh temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
    char tmpl[] = "/tmp/check_jsonschema_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ne(fd, -1);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return strdup(tmpl);
}

START_TEST(test_load_errors)
{
    char err[256] = "";
    ck_assert_ptr_null(evp_schema_load("/nonexistent/x.json", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.json"));
    /* The stray "x" is on line 3, column 5. */
    char *path = write_temp("{\n  \"type\": \"object\",\n    x\n}\n");
    ck_assert_ptr_null(evp_schema_load(path, err, sizeof err));
    char want[300];
    snprintf(want, sizeof want, "%s:3:5", path);
    ck_assert_msg(strstr(err, want) != NULL, "want %s in %s", want, err);
    ck_assert_ptr_null(strchr(err, '\n'));
    unlink(path);
    free(path);
}
END_TEST

/* ---- the project's schema files ---- */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Validates one section's settings against schema/PROTO-KIND.schema.json when it exists. */
static int check_settings(json_t *section, const char *kind, size_t i, char **all)
{
    const char *proto = json_string_value(json_object_get(section, "protocol"));
    char path[512], prefix[64];
    snprintf(path, sizeof path, "schema/%s-%s.schema.json", proto ? proto : "", kind);
    if (proto == NULL || !file_exists(path))
        return 0;
    char err[512];
    evp_schema *s = evp_schema_load(path, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    json_t *settings = json_object_get(section, "settings");
    json_t *empty = json_object();
    snprintf(prefix, sizeof prefix, "%ss[%zu].settings", kind, i);
    char *errors = NULL;
    int n = evp_schema_validate(s, settings ? settings : empty, prefix, MAX_ERRORS, &errors);
    if (n > 0) {
        size_t old = *all ? strlen(*all) : 0;
        *all = realloc(*all, old + strlen(errors) + 1);
        memcpy(*all + old, errors, strlen(errors) + 1);
    }
    free(errors);
    json_decref(empty);
    evp_schema_free(s);
    return n;
}

/* Validates a whole config the way the core does; returns the error count, lines in *all. */
static int check_config(const char *file, char **all)
{
    char err[512];
    evp_schema *s = evp_schema_load("schema/config.schema.json", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    json_error_t je;
    json_t *doc = json_load_file(file, 0, &je);
    ck_assert_msg(doc != NULL, "%s:%d:%d: %s", file, je.line, je.column, je.text);
    *all = NULL;
    int n = evp_schema_validate(s, doc, "", MAX_ERRORS, all);
    evp_schema_free(s);
    size_t i;
    json_t *sec;
    json_array_foreach (json_object_get(doc, "inbounds"), i, sec)
        n += check_settings(sec, "inbound", i, all);
    json_array_foreach (json_object_get(doc, "outbounds"), i, sec)
        n += check_settings(sec, "outbound", i, all);
    json_decref(doc);
    return n;
}

START_TEST(test_schema_files_are_draft07)
{
    char err[512];
    evp_schema *meta = evp_schema_load("schema/draft-07.json", err, sizeof err);
    ck_assert_msg(meta != NULL, "%s", err);
    size_t n;
    char **files = list_dir("schema", ".schema.json", &n);
    ck_assert_int_ge(n, 7);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "schema/%s", files[i]);
        json_t *doc = json_load_file(path, 0, NULL);
        ck_assert_msg(doc != NULL, "%s is not JSON", path);
        char *errors = NULL;
        int bad = evp_schema_validate(meta, doc, files[i], MAX_ERRORS, &errors);
        ck_assert_msg(bad == 0, "%s", errors);
        json_decref(doc);
    }
    free_list(files, n);
    evp_schema_free(meta);
}
END_TEST

START_TEST(test_bad_configs)
{
    FILE *f = fopen("tests/data/bad-configs/expected.tsv", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int cases = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || tab == NULL)
            continue;
        *tab = '\0';
        char path[1100], *errors = NULL;
        snprintf(path, sizeof path, "tests/data/bad-configs/%s", line);
        int n = check_config(path, &errors);
        /* Each file is broken in exactly one way. */
        ck_assert_msg(n == 1, "%s: %d errors:\n%s", line, n, errors ? errors : "");
        ck_assert_msg(strstr(errors, tab + 1) != NULL, "%s: want \"%s\" in:\n%s", line, tab + 1,
                      errors);
        printf("jsonschema: bad-configs/%s: %s", line, errors);
        fflush(stdout);
        free(errors);
        cases++;
    }
    fclose(f);
    /* Every .json in the folder has an expectation. */
    size_t n;
    char **files = list_dir("tests/data/bad-configs", ".json", &n);
    ck_assert_int_eq((int)n, cases);
    free_list(files, n);
    ck_assert_int_ge(cases, 10);
}
END_TEST

/* Every .json in dir must pass; returns how many there were (at least min, and min > 0
 * so that a wrong folder or working directory cannot pass as "nothing to check"). */
static size_t check_all_valid(const char *dir, size_t min)
{
    size_t n;
    ck_assert_uint_gt(min, 0);
    char **files = list_dir(dir, ".json", &n);
    ck_assert_msg(n >= min, "%s: %zu .json files, want at least %zu", dir, n, min);
    for (size_t i = 0; i < n; i++) {
        char path[512], *errors = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        int bad = check_config(path, &errors);
        ck_assert_msg(bad == 0, "%s:\n%s", path, errors ? errors : "");
    }
    free_list(files, n);
    return n;
}

START_TEST(test_good_configs)
{
    check_all_valid("tests/data/good", 3);
}
END_TEST

/* The four examples README.md names (socks-freedom, vmess-server, vmess-client,
 * dokodemo-vmess): adding one means raising the 4. */
START_TEST(test_examples)
{
    ck_assert_uint_eq(check_all_valid("contrib/examples", 4), 4);
}
END_TEST

/* ---- evproxy validate ---- */

/* Runs evp_validate_main with stdout and stderr sent to files; returns the status. */
static int run_validate(const char *schema, const char *data, char *out, char *err, size_t len)
{
    char otmpl[] = "/tmp/check_jsonschema_out_XXXXXX", etmpl[] = "/tmp/check_jsonschema_err_XXXXXX";
    int ofd = mkstemp(otmpl), efd = mkstemp(etmpl);
    ck_assert_int_ne(ofd, -1);
    ck_assert_int_ne(efd, -1);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(ofd, STDOUT_FILENO);
    dup2(efd, STDERR_FILENO);
    char *argv[] = {"validate", (char *)schema, (char *)data, NULL};
    int rc = evp_validate_main(3, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    ssize_t n = pread(ofd, out, len - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    n = pread(efd, err, len - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(ofd);
    close(efd);
    unlink(otmpl);
    unlink(etmpl);
    return rc;
}

START_TEST(test_validate_cli)
{
    char out[4096], err[4096], want[512];
    char *schema = write_temp("{\"properties\":{\"port\":{\"maximum\":65535}}}");
    char *good = write_temp("{\"port\": 80}");
    char *bad = write_temp("{\"port\": 70000}");
    char *broken = write_temp("{\"port\": 80,\n}"); /* the stray "}" is at line 2, column 1 */
    ck_assert_int_eq(run_validate(schema, good, out, err, sizeof out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(run_validate(schema, bad, out, err, sizeof out), 1);
    ck_assert_str_eq(out, "port: 70000 is greater than the maximum 65535\n");
    snprintf(want, sizeof want, "%s:2:1:", broken);
    ck_assert_int_eq(run_validate(schema, broken, out, err, sizeof out), 2);
    ck_assert_msg(strstr(err, want) != NULL, "want %s in %s", want, err);
    ck_assert_int_eq(run_validate(broken, good, out, err, sizeof out), 2);
    ck_assert_msg(strstr(err, want) != NULL, "want %s in %s", want, err);
    ck_assert_int_eq(run_validate("/nonexistent.json", good, out, err, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent.json"));
    char *argv[] = {"validate", schema, NULL};
    ck_assert_int_eq(evp_validate_main(2, argv), 2);
    char *files[] = {schema, good, bad, broken};
    for (int i = 0; i < 4; i++) {
        unlink(files[i]);
        free(files[i]);
    }
}
END_TEST

Suite *jsonschema_suite(void)
{
    Suite *s = suite_create("jsonschema");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_official_suite);
    tcase_add_loop_test(tc, test_messages, 0, (int)(sizeof msg_cases / sizeof msg_cases[0]));
    tcase_add_test(tc, test_valid_gives_null);
    tcase_add_test(tc, test_long_values);
    tcase_add_test(tc, test_ref_cycle);
    tcase_add_loop_test(tc, test_id_resolution, 0, (int)(sizeof id_cases / sizeof id_cases[0]));
    tcase_add_test(tc, test_remote_ref_fails);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_schema_files_are_draft07);
    tcase_add_test(tc, test_bad_configs);
    tcase_add_test(tc, test_good_configs);
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_validate_cli);
    suite_add_tcase(s, tc);
    return s;
}
