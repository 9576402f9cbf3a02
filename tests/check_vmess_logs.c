/* Text the vmess plugin logs that a config or a peer chose (detour tags, domains, emails)
 * goes through the host's log_escape (ABI 1.1): a log line cannot be split or forged. */
#include <check.h>
#include <string.h>

#include "vmess_wire.h"

#define UUID1 "27848739-7e62-4138-9fd3-098a63964b6b"

/* A detour.to naming no inbound is warned about with the tag escaped. */
START_TEST(detour_tag_escaped_in_log)
{
    const evp_plugin *p = evp_plugin_entry();
    void *in = wire_instance(p, test_host_get(), 1,
                             "{\"clients\":[{\"id\":\"" UUID1 "\"}],"
                             "\"detour\":{\"to\":\"no\\nsuch \\\"tag\\\"\\u001b\"}}");
    void *out = wire_client(p, UUID1, 0);
    evp_buf wire = {0}, plain = {0}, back = {0}, resp = {0};
    wire_request(p, out, &wire);
    void *srv = p->inbound->session_new(in);
    evp_io io = {0};
    io.in = wire.data;
    io.in_len = wire.len;
    io.out = &plain;
    io.back = &back;
    ck_assert_int_eq(p->inbound->decode(srv, &io), EVP_TARGET);
    test_host_last_log()[0] = '\0';
    memset(&io, 0, sizeof io);
    io.out = &resp;
    io.back = &back;
    ck_assert_int_eq(p->inbound->encode(srv, &io), EVP_OK);
    ck_assert_uint_gt(resp.len, 0);
    const char *line = test_host_last_log();
    ck_assert_msg(strstr(line, "detour.to \"no\\x0asuch \\x22tag\\x22\\x1b\"") != NULL,
                  "logged: %s", line);
    ck_assert_ptr_null(strchr(line, '\n'));
    p->inbound->session_free(srv);
    p->inbound->instance_free(in);
    p->outbound->instance_free(out);
    test_buf_free(&wire);
    test_buf_free(&plain);
    test_buf_free(&back);
    test_buf_free(&resp);
}
END_TEST

Suite *vmess_logs_suite(void)
{
    Suite *s = suite_create("vmess_logs");
    TCase *tc = tcase_create("logs");
    tcase_add_test(tc, detour_tag_escaped_in_log);
    suite_add_tcase(s, tc);
    return s;
}
