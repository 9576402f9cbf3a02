/* The limits' state file (control.stateFile) and the control socket's editing of a user's
 * "limits" (ctl limits). */
#include "control_limits.h"
#include "limits_state.h"
#include "user_limits.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
    uint64_t used;
    int configured, found;
} seen;

static void find_a(const evp_limit_view *v, void *arg)
{
    seen *s = arg;
    if (strcmp(v->inbound, "in") == 0 && strcmp(v->user, "a@x") == 0) {
        s->used = v->used;
        s->configured = v->configured;
        s->found = 1;
    }
}

static seen look(void)
{
    seen s = {0};
    evp_limits_each(find_a, &s, 0);
    return s;
}

START_TEST(state_round_trip)
{
    char dir[] = "/tmp/evp-limits-state.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/usage.json", dir);
    ck_assert_int_eq(evp_limits_state_load(path), 0); /* no file yet: a first start */
    ck_assert_int_eq(evp_limits_set_used("in", "a@x", 123456789), 0);
    ck_assert_int_eq(evp_limits_state_save(path), 0); /* made, then replaced */
    ck_assert_int_eq(evp_limits_state_save(path), 0);
    evp_limits_clear();
    ck_assert_int_eq(look().found, 0);
    ck_assert_int_eq(evp_limits_state_load(path), 0);
    seen s = look();
    ck_assert(s.found && s.used == 123456789 && !s.configured);
    /* Limits given later find the usage loaded. */
    json_t *users = json_pack("[{s:s, s:{s:i}}]", "email", "a@x", "limits", "quotaBytes", 1000);
    evp_limits_sync("in", users, "email");
    json_decref(users);
    ck_assert(look().configured && look().used == 123456789);
    FILE *f = fopen(path, "w");
    fputs("{\"users\": 5}", f);
    fclose(f);
    ck_assert_int_eq(evp_limits_state_load(path), -1);
    f = fopen(path, "w");
    fputs("{\"users\": [", f);
    fclose(f);
    ck_assert_int_eq(evp_limits_state_load(path), -1);
    evp_limits_clear();
    unlink(path);
    rmdir(dir);
}
END_TEST

/* ctl limits on [{name: a@x, limits: {sessions: 2}}, {name: b@x}] with set (a JSON array). */
static json_t *edit(const char *who, const char *set, char *err, size_t n)
{
    json_t *users = json_loads("[{\"name\": \"a@x\", \"limits\": {\"sessions\": 2}},"
                               " {\"name\": \"b@x\"}]", 0, NULL);
    json_t *s = json_loads(set, 0, NULL);
    json_t *r = evp_control_limits_edit(users, "name", who, s, err, n);
    json_decref(s);
    json_decref(users);
    return r;
}

START_TEST(ctl_limits_edits)
{
    char err[256];
    json_t *r = edit("b@x", "[\"uplinkBps=1000\", \"expire=2027-01-01T00:00:00Z\"]", err,
                     sizeof err);
    ck_assert_ptr_nonnull(r);
    json_t *want = json_loads("[{\"name\": \"a@x\", \"limits\": {\"sessions\": 2}}, {\"name\":"
                              " \"b@x\", \"limits\": {\"uplinkBps\": 1000, \"expire\":"
                              " \"2027-01-01T00:00:00Z\"}}]", 0, NULL);
    ck_assert(json_equal(r, want));
    json_decref(want);
    json_decref(r);
    r = edit("a@x", "[\"sessions=none\"]", err, sizeof err); /* the last key: no limits */
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(json_object_get(json_array_get(r, 0), "limits"));
    json_decref(r);
    ck_assert_ptr_null(edit("c@x", "[\"ips=1\"]", err, sizeof err));
    ck_assert_str_eq(err, "no user labelled \"c@x\"");
    ck_assert_ptr_null(edit("a@x", "[\"speed=1\"]", err, sizeof err));
    ck_assert(strstr(err, "\"speed=1\": KEY=VALUE with KEY one of") == err);
    ck_assert_ptr_null(edit("a@x", "[\"ips=-1\"]", err, sizeof err));
    ck_assert_str_eq(err, "ips: \"-1\" is not a whole number (or none)");
    ck_assert_ptr_null(edit("a@x", "[\"expire=soon\"]", err, sizeof err));
    ck_assert(strstr(err, "limits.expire: an RFC 3339 time") == err);
    ck_assert_ptr_null(edit("a@x", "[\"sessions\"]", err, sizeof err));
    ck_assert_ptr_null(edit("a@x", "[5]", err, sizeof err));
    ck_assert_str_eq(err, "limits: a list of KEY=VALUE strings");
}
END_TEST

Suite *limits_state_suite(void)
{
    Suite *s = suite_create("limits_state");
    TCase *tc = tcase_create("limits_state");
    tcase_add_test(tc, state_round_trip);
    tcase_add_test(tc, ctl_limits_edits);
    suite_add_tcase(s, tc);
    return s;
}
