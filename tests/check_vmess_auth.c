/* VMess server authentication: user table (AEAD AuthID lookup, legacy time-hash table,
 * refresh) and the taint fuses kept by the host. Time is always passed in (for the taint
 * fuses through the test host's clock), never read.
 * Legacy auth values are python3 hmac/hashlib vectors (see check_vmess_crypto.c). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../plugin/vmess/header_aead.h"
#include "../plugin/vmess/header_legacy.h"
#include "../plugin/vmess/mem.h"
#include "../plugin/vmess/replay.h"
#include "../plugin/vmess/user_id.h"
#include "../plugin/vmess/users.h"
#include "test_host.h"

#define T0 1700000000
#define UUID_A "27848739-7e62-4138-9fd3-098a63964b6b"
#define UUID_B "b831381d-6324-4d53-ad4f-8cda48b30811"

static size_t unhex(uint8_t *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void key_of(uint8_t k[16], uint32_t i)
{
    memset(k, 0x11, 16);
    memcpy(k, &i, sizeof i);
}

/* ---- user table ---- */

static vmess_users *two_users(int64_t now, unsigned flags)
{
    vmess_user_conf c[2];
    memset(c, 0, sizeof c);
    ck_assert_int_eq(vmess_uuid_parse(c[0].uuid, UUID_A), 0);
    c[0].alter_id = 2;
    c[0].email = "a@example.org";
    ck_assert_int_eq(vmess_uuid_parse(c[1].uuid, UUID_B), 0);
    c[1].alter_id = 3;
    c[1].level = 1;
    c[1].email = NULL;
    vmess_users *u = vmess_users_new(c, 2, now, flags);
    ck_assert_ptr_nonnull(u);
    return u;
}

START_TEST(users_basics)
{
    vmess_users *u = two_users(T0, 0);
    ck_assert_uint_eq(vmess_users_count(u), 2);
    const vmess_user *a = vmess_users_get(u, 0), *b = vmess_users_get(u, 1);
    ck_assert_str_eq(a->email, "a@example.org");
    ck_assert_str_eq(b->email, "");
    ck_assert_uint_eq(b->level, 1);
    ck_assert_uint_eq(b->alter_id, 3);
    ck_assert_ptr_null(vmess_users_get(u, 2));
    /* §11 #1 and #2 reach the table. */
    uint8_t want[16];
    unhex(want, "6f87e1b19f8da25df715d655ae9a1764");
    ck_assert_mem_eq(a->cmd_key, want, 16);
    char s[VMESS_UUID_STR_LEN + 1];
    vmess_uuid_format(s, a->alter_ids[0]);
    ck_assert_str_eq(s, "2bbd2628-154d-0411-51a5-488b24b9fc33");
    /* 241 seconds for each of 3 + 4 ids. */
    ck_assert_uint_eq(vmess_users_legacy_entries(u), 241 * 7);
    vmess_users *again = vmess_users_ref(u);
    vmess_users_unref(u);
    ck_assert_str_eq(vmess_users_get(again, 0)->email, "a@example.org");
    vmess_users_unref(again);
    vmess_users_unref(NULL);
}
END_TEST

static int aead(vmess_users *u, const uint8_t cmd_key[16], int64_t t, int64_t now, uint32_t r,
                const vmess_user **who)
{
    uint8_t authid[16];
    int64_t got = -1;
    vmess_authid_make(authid, cmd_key, t, (const uint8_t *)&r);
    int rc = vmess_users_find_aead(u, authid, now, who, &got);
    if (rc == VMESS_AUTH_OK)
        ck_assert_int_eq(got, t);
    return rc;
}

START_TEST(users_aead_lookup)
{
    vmess_users *u = two_users(T0, 0);
    const vmess_user *b = vmess_users_get(u, 1), *who = NULL;
    ck_assert_int_eq(aead(u, b->cmd_key, T0, T0, 1, &who), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, b);
    ck_assert_int_eq(aead(u, vmess_users_get(u, 0)->cmd_key, T0, T0, 1, &who), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, vmess_users_get(u, 0));
    /* Window: +-120 accepted, +-121 not. */
    ck_assert_int_eq(aead(u, b->cmd_key, T0 + 120, T0, 2, &who), VMESS_AUTH_OK);
    ck_assert_int_eq(aead(u, b->cmd_key, T0 - 120, T0, 3, &who), VMESS_AUTH_OK);
    ck_assert_int_eq(aead(u, b->cmd_key, T0 + 121, T0, 4, &who), VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(aead(u, b->cmd_key, T0 - 121, T0, 5, &who), VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(aead(u, b->cmd_key, T0 + 121, T0 + 1, 4, &who), VMESS_AUTH_OK);
    /* An unknown user: not found; the AuthID of an alternative id is no AEAD key. */
    uint8_t other[16], ck[16];
    ck_assert_int_eq(vmess_uuid_parse(other, "450bae28-b9da-67d0-16bc-4918dc8d79b5"), 0);
    vmess_cmd_key(ck, other);
    ck_assert_int_eq(aead(u, ck, T0, T0, 6, &who), VMESS_AUTH_NOT_FOUND);
    vmess_cmd_key(ck, vmess_users_get(u, 0)->alter_ids[0]);
    ck_assert_int_eq(aead(u, ck, T0, T0, 7, &who), VMESS_AUTH_NOT_FOUND);
    /* §11 #9 AuthID is user A's at T0. */
    uint8_t authid[16];
    unhex(authid, "6868c12572a3ce177baac5f08cc54ec3");
    ck_assert_int_eq(vmess_users_find_aead(u, authid, T0 + 30, &who, NULL), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, vmess_users_get(u, 0));
    vmess_users_unref(u);
}
END_TEST

static int legacy(vmess_users *u, const char *auth_hex, int64_t now, const vmess_user **who,
                  int64_t *t)
{
    uint8_t auth[16];
    unhex(auth, auth_hex);
    return vmess_users_find_legacy(u, auth, now, who, t);
}

/* python3 hmac.new(uuid16, struct.pack(">Q", t), hashlib.md5) */
#define A_PRIMARY_T0 "a965548db6bc114289eecbc893ca0c6f" /* §11 #4 */
#define A_ALT1_T0 "9ef56692e0f460507d56ed230a0a2204"    /* §11 #5 */
#define B_ALT3_T0 "4ccad24204cca0feeafe36d0542af0ff"
#define B_PRIMARY_T0_P121 "1ce6436109a227512fb2f901b014d544"
#define B_PRIMARY_T0_M121 "572e641f142aaae0bf5d7e147827af77"

START_TEST(users_legacy_lookup)
{
    vmess_users *u = two_users(T0, 0);
    const vmess_user *who = NULL;
    int64_t t = 0;
    ck_assert_int_eq(legacy(u, A_PRIMARY_T0, T0, &who, &t), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, vmess_users_get(u, 0));
    ck_assert_int_eq(t, T0);
    /* Alternative ids are accepted and map to their user. */
    ck_assert_int_eq(legacy(u, A_ALT1_T0, T0 + 3, &who, &t), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, vmess_users_get(u, 0));
    ck_assert_int_eq(legacy(u, B_ALT3_T0, T0, &who, &t), VMESS_AUTH_OK);
    ck_assert_ptr_eq(who, vmess_users_get(u, 1));
    ck_assert_int_eq(t, T0);
    /* t = now +- 121 rejected; one second closer accepted. */
    ck_assert_int_eq(legacy(u, B_PRIMARY_T0_P121, T0, &who, &t), VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(legacy(u, B_PRIMARY_T0_M121, T0, &who, &t), VMESS_AUTH_NOT_FOUND);
    vmess_users_refresh(u, T0 + 1); /* lookups alone refresh only every 10 s */
    ck_assert_int_eq(legacy(u, B_PRIMARY_T0_P121, T0 + 1, &who, &t), VMESS_AUTH_OK);
    ck_assert_int_eq(t, T0 + 121);
    ck_assert_int_eq(legacy(u, B_PRIMARY_T0_M121, T0 - 1, &who, &t), VMESS_AUTH_OK);
    ck_assert_int_eq(t, T0 - 121);
    /* Unknown bytes, and a near miss sharing the 8-byte tag. */
    ck_assert_int_eq(legacy(u, "00112233445566778899aabbccddeeff", T0, &who, &t),
                     VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(legacy(u, "a965548db6bc114289eecbc893ca0c6e", T0, &who, &t),
                     VMESS_AUTH_NOT_FOUND);
    vmess_users_unref(u);
}
END_TEST

START_TEST(users_legacy_every_id_and_second)
{
    /* Every id of every user at every second of the window, made by vmess_legacy_auth
     * (checked against python above), is found with the right user and time. */
    vmess_users *u = two_users(T0, 0);
    for (size_t i = 0; i < 2; i++) {
        const vmess_user *x = vmess_users_get(u, i);
        for (size_t id = 0; id <= x->alter_id; id++) {
            const uint8_t *uid = id == 0 ? x->uuid : x->alter_ids[id - 1];
            for (int64_t t = T0 - 120; t <= T0 + 120; t += 1) {
                uint8_t auth[16];
                const vmess_user *who = NULL;
                int64_t got = 0;
                vmess_legacy_auth(auth, uid, t);
                ck_assert_int_eq(vmess_users_find_legacy(u, auth, T0, &who, &got), VMESS_AUTH_OK);
                ck_assert_ptr_eq(who, x);
                ck_assert_int_eq(got, t);
            }
        }
    }
    vmess_users_unref(u);
}
END_TEST

/* The taint fuses live in the host's store (replay.c), keyed by the auth bytes. */
START_TEST(users_taint)
{
    const evp_host *h = test_host_get();
    vmess_users *u = two_users(T0, 0);
    uint8_t auth[16], other[16];
    *test_host_clock() = T0;
    unhex(auth, A_ALT1_T0);
    ck_assert(!vmess_replay_tainted(h, auth));
    vmess_replay_taint(h, auth);
    ck_assert(vmess_replay_tainted(h, auth));
    /* Other auths are unaffected, also the same id at another second, and bytes sharing
     * the 8-byte tag of a tainted auth. */
    unhex(other, A_PRIMARY_T0);
    ck_assert(!vmess_replay_tainted(h, other));
    vmess_legacy_auth(other, vmess_users_get(u, 0)->alter_ids[0], T0 + 1);
    ck_assert(!vmess_replay_tainted(h, other));
    memcpy(other, auth, 16);
    other[15] ^= 1;
    ck_assert(!vmess_replay_tainted(h, other));
    /* The fuse holds while the auth can still be valid: up to 240 s. */
    *test_host_clock() = T0 + 240;
    ck_assert(vmess_replay_tainted(h, auth));
    /* A taint of bytes that are no auth of the table changes nothing for the entry whose
     * 8-byte tag they share (a near miss of A's primary id at T0). */
    unhex(other, "a965548db6bc114289eecbc893ca0c6e");
    vmess_replay_taint(h, other);
    unhex(other, A_PRIMARY_T0);
    ck_assert(!vmess_replay_tainted(h, other));
    *test_host_clock() = 0;
    vmess_users_unref(u);
}
END_TEST

START_TEST(users_legacy_refresh)
{
    vmess_users *u = two_users(T0, 0);
    const vmess_user *who = NULL;
    int64_t t = 0;
    uint8_t auth[16];
    const uint8_t *b = vmess_users_get(u, 1)->uuid;
    /* Lookups refresh the table lazily: an hour later, new seconds are there and the
     * old ones are gone, with the table the same size. */
    int64_t later = T0 + 3600;
    vmess_legacy_auth(auth, b, later + 119);
    ck_assert_int_eq(vmess_users_find_legacy(u, auth, later, &who, &t), VMESS_AUTH_OK);
    ck_assert_int_eq(t, later + 119);
    ck_assert_uint_eq(vmess_users_legacy_entries(u), 241 * 7);
    ck_assert_int_eq(legacy(u, A_PRIMARY_T0, later, &who, &t), VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(legacy(u, A_PRIMARY_T0, T0, &who, &t), VMESS_AUTH_OK); /* steps back */
    /* Between refreshes (every 10 s) the newest seconds are missing, as in V2Ray. */
    vmess_users_refresh(u, T0);
    vmess_legacy_auth(auth, b, T0 + 125);
    ck_assert_int_eq(vmess_users_find_legacy(u, auth, T0 + 9, &who, &t), VMESS_AUTH_NOT_FOUND);
    ck_assert_int_eq(vmess_users_find_legacy(u, auth, T0 + 10, &who, &t), VMESS_AUTH_OK);
    /* Small steps keep it complete at every second of the window. */
    for (int64_t now = T0; now < T0 + 600; now += 13) {
        vmess_users_refresh(u, now);
        ck_assert_uint_eq(vmess_users_legacy_entries(u), 241 * 7);
        for (int64_t dt = -120; dt <= 120; dt += 40) {
            vmess_legacy_auth(auth, vmess_users_get(u, 0)->alter_ids[1], now + dt);
            ck_assert_int_eq(vmess_users_find_legacy(u, auth, now, &who, &t), VMESS_AUTH_OK);
            ck_assert_int_eq(t, now + dt);
        }
    }
    vmess_users_unref(u);
}
END_TEST

START_TEST(users_no_legacy)
{
    vmess_users *u = two_users(T0, VMESS_USERS_NO_LEGACY);
    const vmess_user *who = NULL;
    int64_t t = 0;
    ck_assert_uint_eq(vmess_users_legacy_entries(u), 0);
    ck_assert_int_eq(legacy(u, A_PRIMARY_T0, T0, &who, &t), VMESS_AUTH_NOT_FOUND);
    vmess_users_refresh(u, T0 + 50);
    vmess_users_unref(u);
    /* An empty table finds nobody. */
    vmess_users *none = vmess_users_new(NULL, 0, T0, 0);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(legacy(none, A_PRIMARY_T0, T0, &who, &t), VMESS_AUTH_NOT_FOUND);
    uint8_t authid[16];
    unhex(authid, "6868c12572a3ce177baac5f08cc54ec3");
    ck_assert_int_eq(vmess_users_find_aead(none, authid, T0, &who, NULL), VMESS_AUTH_NOT_FOUND);
    vmess_users_unref(none);
}
END_TEST

START_TEST(users_many)
{
    /* 200 users x alterId 16: every user's last alternative id is found; a refresh adds
     * exactly the new seconds and keeps the size. */
    enum { N = 200, ALT = 16 };
    static vmess_user_conf c[N];
    for (uint32_t i = 0; i < N; i++) {
        memset(&c[i], 0, sizeof c[i]);
        key_of(c[i].uuid, i * 7919u + 1);
        c[i].alter_id = ALT;
    }
    vmess_users *u = vmess_users_new(c, N, T0, 0);
    ck_assert_ptr_nonnull(u);
    ck_assert_uint_eq(vmess_users_legacy_entries(u), 241u * N * (ALT + 1));
    vmess_users_refresh(u, T0 + 10);
    ck_assert_uint_eq(vmess_users_legacy_entries(u), 241u * N * (ALT + 1));
    for (uint32_t i = 0; i < N; i += 13) {
        const vmess_user *x = vmess_users_get(u, i), *who = NULL;
        uint8_t auth[16];
        int64_t t = 0;
        vmess_legacy_auth(auth, x->alter_ids[ALT - 1], T0 + 130);
        ck_assert_int_eq(vmess_users_find_legacy(u, auth, T0 + 10, &who, &t), VMESS_AUTH_OK);
        ck_assert_ptr_eq(who, x);
        vmess_legacy_auth(auth, x->uuid, T0 - 115); /* dropped by the refresh */
        ck_assert_int_eq(vmess_users_find_legacy(u, auth, T0 + 10, &who, &t), VMESS_AUTH_NOT_FOUND);
    }
    vmess_users_unref(u);
}
END_TEST

Suite *vmess_auth_suite(void)
{
    Suite *s = suite_create("vmess_auth");
    vmess_mem_adopt(test_host_get()); /* these tests call the plugin's internals directly */
    TCase *tc = tcase_create("users");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, users_basics);
    tcase_add_test(tc, users_aead_lookup);
    tcase_add_test(tc, users_legacy_lookup);
    tcase_add_test(tc, users_legacy_every_id_and_second);
    tcase_add_test(tc, users_taint);
    tcase_add_test(tc, users_legacy_refresh);
    tcase_add_test(tc, users_no_legacy);
    tcase_add_test(tc, users_many);
    suite_add_tcase(s, tc);
    return s;
}
