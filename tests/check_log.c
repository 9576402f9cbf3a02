/* Names from the network cannot break or forge log lines: the escaper, the session label
 * every session log line starts with, and the access log's email field. */
#include "access_log.h"
#include "log.h"
#include "session_int.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
} escapes[] = {
    {"www.example.com", 0, "www.example.com"},
    {"a\n[fake] accepted", 0, "a\\x0a[fake] accepted"},
    {"q\"uote\\back", 0, "q\\x22uote\\x5cback"},
    {"\r\t\x1b[31m\x7f", 0, "\\x0d\\x09\\x1b[31m\\x7f"},
    {"caf\xc3\xa9", 0, "caf\\xc3\\xa9"},
    {"nul\0inside", 10, "nul\\x00inside"},
    {"", 0, ""},
};

START_TEST(escaper_cases)
{
    char out[128];
    size_t len = escapes[_i].len ? escapes[_i].len : strlen(escapes[_i].in);
    evp_log_escape(escapes[_i].in, len, out, sizeof out);
    ck_assert_str_eq(out, escapes[_i].want);
}
END_TEST

/* A short buffer ends the text before an escape that would not fit whole. */
START_TEST(escaper_truncates_whole)
{
    char out[6];
    memset(out, 'X', sizeof out);
    evp_log_escape("ab\ncd", 5, out, sizeof out);
    ck_assert_str_eq(out, "ab");
    evp_log_escape("abcdefgh", 8, out, sizeof out);
    ck_assert_str_eq(out, "abcde");
    evp_log_escape("abc", 3, out, 0); /* nothing written at all */
    ck_assert_int_eq(out[0], 'a');
}
END_TEST

static evp_addr domain(const char *name)
{
    evp_addr a = {.type = EVP_ADDR_DOMAIN, .len = (uint8_t)strlen(name), .port = 443};
    memcpy(a.bytes, name, a.len);
    return a;
}

START_TEST(session_label_escapes_domain)
{
    char label[96];
    evp_addr a = domain("x\n2024/01/01 00:00:00 [fake] accepted \"q\"");
    evp_sess_addr_label(&a, EVP_NET_TCP, label, sizeof label);
    ck_assert_msg(strpbrk(label, "\n\r\"") == NULL, "raw bytes in label: %s", label);
    ck_assert_str_eq(label, "tcp:x\\x0a2024/01/01 00:00:00 [fake] accepted \\x22q\\x22:443");
}
END_TEST

START_TEST(access_log_escapes_email)
{
    char path[] = "/tmp/evp-check-access.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ne(fd, -1);
    close(fd);
    ck_assert_int_eq(evp_access_log_open(path), 0);
    const evp_access_entry e = {
        .from = "127.0.0.1:5000", .target = "tcp:example.com:443", .in_tag = "in",
        .out_tag = "out",
        .user = "u@example.org\n2024/01/01 00:00:00 127.0.0.1:1 accepted tcp:forged:1"};
    evp_access_log_write(&e);
    ck_assert_int_eq(evp_access_log_open(NULL), 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    unlink(path);
    ck_assert_int_eq(lines, 1);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_loop_test(tc, escaper_cases, 0, (int)(sizeof escapes / sizeof escapes[0]));
    tcase_add_test(tc, escaper_truncates_whole);
    tcase_add_test(tc, session_label_escapes_domain);
    tcase_add_test(tc, access_log_escapes_email);
    suite_add_tcase(s, tc);
    return s;
}
