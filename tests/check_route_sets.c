/* The matchers routing rules and geo data compile to: IP ranges looked up by binary search,
 * domain hashes walked label by label, substrings and regexes. */
#include "domain_set.h"
#include "ip_set.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

static evp_addr v4(const char *text)
{
    evp_addr a = {.type = EVP_ADDR_IPV4, .len = 4};
    ck_assert_int_eq(inet_pton(AF_INET, text, a.bytes), 1);
    return a;
}

static evp_addr v6(const char *text)
{
    evp_addr a = {.type = EVP_ADDR_IPV6, .len = 16};
    ck_assert_int_eq(inet_pton(AF_INET6, text, a.bytes), 1);
    return a;
}

static int has4(const evp_ip_set *s, const char *text)
{
    evp_addr a = v4(text);
    return evp_ip_set_has(s, &a);
}

static int has6(const evp_ip_set *s, const char *text)
{
    evp_addr a = v6(text);
    return evp_ip_set_has(s, &a);
}

START_TEST(ip_set_edges_and_families)
{
    evp_ip_set *s = evp_ip_set_new();
    ck_assert_int_eq(evp_ip_set_add_text(s, "10.0.0.0/8"), 0);
    ck_assert_int_eq(evp_ip_set_add_text(s, "10.1.0.0/16"), 0); /* inside: merged */
    ck_assert_int_eq(evp_ip_set_add_text(s, "192.0.2.7"), 0);
    ck_assert_int_eq(evp_ip_set_add_text(s, "2001:db8::/32"), 0);
    ck_assert_int_eq(evp_ip_set_add_text(s, "::ffff:198.51.100.0/120"), 0); /* as IPv4 */
    ck_assert_int_eq(evp_ip_set_add_text(s, "10.0.0.0/33"), -1);
    ck_assert_int_eq(evp_ip_set_add_text(s, "nonsense"), -1);
    evp_ip_set_seal(s);
    ck_assert_uint_eq(evp_ip_set_ranges(s), 4);
    ck_assert(has4(s, "10.0.0.0") && has4(s, "10.255.255.255") && has4(s, "10.1.2.3"));
    ck_assert(!has4(s, "9.255.255.255") && !has4(s, "11.0.0.0"));
    ck_assert(has4(s, "192.0.2.7") && !has4(s, "192.0.2.6") && !has4(s, "192.0.2.8"));
    ck_assert(has4(s, "198.51.100.200") && !has4(s, "198.51.101.0"));
    ck_assert(has6(s, "2001:db8:ffff::1") && !has6(s, "2001:db9::"));
    ck_assert(!has6(s, "::ffff:10.0.0.1")); /* targets come canonical: IPv4 is IPv4 */
    evp_ip_set_free(s);
}
END_TEST

/* ::/0 and 0.0.0.0/0: whole families, and only their own. */
START_TEST(ip_set_whole_family)
{
    evp_ip_set *s = evp_ip_set_new();
    ck_assert_int_eq(evp_ip_set_add_text(s, "::/0"), 0);
    evp_ip_set_seal(s);
    ck_assert(has6(s, "::") && has6(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    ck_assert(!has4(s, "1.2.3.4"));
    evp_ip_set_free(s);
    s = evp_ip_set_new();
    ck_assert_int_eq(evp_ip_set_add_text(s, "0.0.0.0/0"), 0);
    evp_ip_set_seal(s);
    ck_assert(has4(s, "0.0.0.0") && has4(s, "255.255.255.255") && !has6(s, "::1"));
    evp_ip_set_free(s);
}
END_TEST

/* Many ranges, added out of order: the binary search agrees with a plain walk. */
START_TEST(ip_set_many_ranges_agree_with_walk)
{
    evp_ip_set *s = evp_ip_set_new();
    char text[32];
    for (int i = 999; i >= 0; i--) {
        snprintf(text, sizeof text, "10.%d.%d.0/24", (i * 2) / 256, (i * 2) % 256);
        ck_assert_int_eq(evp_ip_set_add_text(s, text), 0);
    }
    evp_ip_set_seal(s);
    ck_assert_uint_eq(evp_ip_set_ranges(s), 1000);
    for (int third = 0; third < 2000; third += 7) {
        snprintf(text, sizeof text, "10.%d.%d.77", third / 256, third % 256);
        ck_assert_int_eq(has4(s, text), third % 2 == 0);
    }
    evp_ip_set_free(s);
}
END_TEST

static int dom_has(const evp_domain_set *s, const char *name)
{
    return evp_domain_set_has(s, name, strlen(name));
}

START_TEST(domain_set_kinds)
{
    evp_domain_set *s = evp_domain_set_new();
    ck_assert_int_eq(evp_domain_set_add(s, EVP_DOM_FULL, "Exact.Example"), 0);
    ck_assert_int_eq(evp_domain_set_add(s, EVP_DOM_SUFFIX, "google.com"), 0);
    ck_assert_int_eq(evp_domain_set_add(s, EVP_DOM_PLAIN, "track"), 0);
    ck_assert_int_eq(evp_domain_set_add(s, EVP_DOM_REGEX, "^ad[0-9]+\\.net$"), 0);
    ck_assert_int_eq(evp_domain_set_add(s, EVP_DOM_REGEX, "(unclosed"), -1);
    ck_assert_int_eq(evp_domain_set_add(s, 7, "x"), -1);
    ck_assert_uint_eq(evp_domain_set_size(s), 4);
    ck_assert(dom_has(s, "exact.example") && dom_has(s, "EXACT.example"));
    ck_assert(!dom_has(s, "a.exact.example") && !dom_has(s, "exact.example.org"));
    ck_assert(dom_has(s, "google.com") && dom_has(s, "www.google.com"));
    ck_assert(dom_has(s, "a.b.c.GOOGLE.com"));
    ck_assert(!dom_has(s, "notgoogle.com") && !dom_has(s, "google.com.evil"));
    ck_assert(dom_has(s, "mytracker.org") && !dom_has(s, "trac.org"));
    ck_assert(dom_has(s, "ad12.net") && dom_has(s, "AD3.NET") && !dom_has(s, "ad.net"));
    evp_domain_set_free(s);
}
END_TEST

/* Thousands of full names and suffixes: all found, near misses not (the hashes grow). */
START_TEST(domain_set_large_hashes)
{
    evp_domain_set *s = evp_domain_set_new();
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "site%d.test", i);
        ck_assert_int_eq(evp_domain_set_add(s, i % 2 ? EVP_DOM_FULL : EVP_DOM_SUFFIX, name), 0);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "www.site%d.test", i);
        ck_assert_int_eq(dom_has(s, name), i % 2 == 0); /* only suffixes take subdomains */
        ck_assert_int_eq(dom_has(s, name + 4), 1);
    }
    ck_assert(!dom_has(s, "site5000.test") && !dom_has(s, "test"));
    evp_domain_set_free(s);
}
END_TEST

Suite *route_sets_suite(void)
{
    Suite *s = suite_create("route_sets");
    TCase *tc = tcase_create("sets");
    tcase_add_test(tc, ip_set_edges_and_families);
    tcase_add_test(tc, ip_set_whole_family);
    tcase_add_test(tc, ip_set_many_ranges_agree_with_walk);
    tcase_add_test(tc, domain_set_kinds);
    tcase_add_test(tc, domain_set_large_hashes);
    suite_add_tcase(s, tc);
    return s;
}
