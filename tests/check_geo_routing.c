/* Routing with V2Ray's data files and the newer conditions: geoip:/geosite:/ext: read from
 * .dat files this test packs with the same generated protobuf-c code (found through
 * V2RAY_LOCATION_ASSET), a missing file or tag refused naming it, balancers spreading
 * sessions, source and user conditions, and domainStrategy asking for the name's address. */
#include "config.h"
#include "geodata.pb-c.h"
#include "registry.h"
#include "router.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static evp_registry reg;
static char dir[] = "/tmp/evp-geo-XXXXXX";

static void write_file(const char *name, const uint8_t *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_message(const char *name, const ProtobufCMessage *m)
{
    uint8_t buf[1024];
    size_t len = protobuf_c_message_get_packed_size(m);
    ck_assert_uint_le(len, sizeof buf);
    protobuf_c_message_pack(m, buf);
    write_file(name, buf, len);
}

/* GeoIPList: tag -> one CIDR each (text "ADDR/PREFIX"). */
static void write_geoip(const char *name, const char *const *tags, const char *const *cidrs,
                        size_t n)
{
    Evp__Geo__GeoIP geo[8], *geo_p[8];
    Evp__Geo__CIDR cidr[8], *cidr_p[8];
    uint8_t addr[8][16];
    for (size_t i = 0; i < n; i++) {
        char text[64];
        snprintf(text, sizeof text, "%s", cidrs[i]);
        char *slash = strchr(text, '/');
        *slash = '\0';
        int v6 = strchr(text, ':') != NULL;
        ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, text, addr[i]), 1);
        evp__geo__cidr__init(&cidr[i]);
        cidr[i].ip.data = addr[i];
        cidr[i].ip.len = v6 ? 16 : 4;
        cidr[i].prefix = (uint32_t)atoi(slash + 1);
        cidr_p[i] = &cidr[i];
        evp__geo__geo_ip__init(&geo[i]);
        geo[i].country_code = (char *)tags[i];
        geo[i].n_cidr = 1;
        geo[i].cidr = &cidr_p[i];
        geo_p[i] = &geo[i];
    }
    Evp__Geo__GeoIPList list = EVP__GEO__GEO_IPLIST__INIT;
    list.n_entry = n;
    list.entry = geo_p;
    write_message(name, &list.base);
}

/* GeoSiteList: "LIST" with domains of each kind; one carries the attribute "ads". */
static void write_geosite(const char *name)
{
    static const struct {
        const char *list;
        int type;
        const char *value;
        const char *attr;
    } doms[] = {
        {"GOOGLE", EVP__GEO__DOMAIN__TYPE__Domain, "google.com", NULL},
        {"GOOGLE", EVP__GEO__DOMAIN__TYPE__Full, "www.gstatic.test", NULL},
        {"CN", EVP__GEO__DOMAIN__TYPE__Domain, "cn", NULL},
        {"CN", EVP__GEO__DOMAIN__TYPE__Domain, "ads.baidu.test", "ads"},
        {"CN", EVP__GEO__DOMAIN__TYPE__Regex, "^qq[0-9]+\\.test$", NULL},
        {"CN", EVP__GEO__DOMAIN__TYPE__Plain, "taobao", NULL},
    };
    enum { N = sizeof doms / sizeof doms[0] };
    Evp__Geo__Domain d[N], *cn_p[N], *google_p[N];
    Evp__Geo__Domain__Attribute attr = EVP__GEO__DOMAIN__ATTRIBUTE__INIT, *attr_p = &attr;
    attr.key = "ads";
    attr.typed_value_case = EVP__GEO__DOMAIN__ATTRIBUTE__TYPED_VALUE_BOOL_VALUE;
    attr.bool_value = 1;
    size_t n_cn = 0, n_google = 0;
    for (size_t i = 0; i < N; i++) {
        evp__geo__domain__init(&d[i]);
        d[i].type = (Evp__Geo__Domain__Type)doms[i].type;
        d[i].value = (char *)doms[i].value;
        if (doms[i].attr) {
            d[i].n_attribute = 1;
            d[i].attribute = &attr_p;
        }
        if (strcmp(doms[i].list, "CN") == 0)
            cn_p[n_cn++] = &d[i];
        else
            google_p[n_google++] = &d[i];
    }
    Evp__Geo__GeoSite sites[2], *sites_p[2] = {&sites[0], &sites[1]};
    evp__geo__geo_site__init(&sites[0]);
    sites[0].country_code = "CN";
    sites[0].n_domain = n_cn;
    sites[0].domain = cn_p;
    evp__geo__geo_site__init(&sites[1]);
    sites[1].country_code = "GOOGLE";
    sites[1].n_domain = n_google;
    sites[1].domain = google_p;
    Evp__Geo__GeoSiteList list = EVP__GEO__GEO_SITE_LIST__INIT;
    list.n_entry = 2;
    list.entry = sites_p;
    write_message(name, &list.base);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static const char *const tags[] = {"CN", "PRIVATE", "CN6", "CN"};
    static const char *const cidrs[] = {"1.0.1.0/24", "10.0.0.0/8", "240e::/20", "5.5.5.0/24"};
    write_geoip("geoip.dat", tags, cidrs, 4);
    static const char *const ext_tags[] = {"mine"};
    static const char *const ext_cidrs[] = {"203.0.113.0/24"};
    write_geoip("extra.dat", ext_tags, ext_cidrs, 1);
    write_geosite("geosite.dat");
    write_geosite("sites.dat");
    setenv("V2RAY_LOCATION_ASSET", dir, 1);
    ck_assert_int_eq(evp_registry_init(&reg, "/nonexistent"), 0);
}

static void teardown(void)
{
    static const char *const files[] = {"geoip.dat", "extra.dat", "geosite.dat", "sites.dat"};
    char path[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
    unsetenv("V2RAY_LOCATION_ASSET");
    evp_registry_free(&reg);
}

#define HEAD                                                                                \
    "{\"inbounds\":[{\"tag\":\"a\",\"listen\":\"127.0.0.1\",\"port\":1080,"                 \
    "\"protocol\":\"socks\"}],\"outbounds\":[{\"tag\":\"direct\",\"protocol\":\"freedom\"}," \
    "{\"tag\":\"block\",\"protocol\":\"blackhole\"},{\"tag\":\"proxy-1\",\"protocol\":\"freedom\"}," \
    "{\"tag\":\"proxy-2\",\"protocol\":\"freedom\"}],"

static evp_config *load(const char *routing, char **errors)
{
    char text[2048];
    snprintf(text, sizeof text, HEAD "\"routing\":%s}", routing);
    *errors = NULL;
    return evp_config_load(NULL, text, "schema", &reg, errors);
}

static evp_config *load_ok(const char *routing)
{
    char *errors;
    evp_config *c = load(routing, &errors);
    ck_assert_msg(c != NULL, "%s", errors ? errors : "");
    return c;
}

static evp_addr addr(const char *text)
{
    evp_addr a = {.port = 443};
    if (inet_pton(AF_INET, text, a.bytes) == 1) {
        a.type = EVP_ADDR_IPV4;
        a.len = 4;
    } else if (inet_pton(AF_INET6, text, a.bytes) == 1) {
        a.type = EVP_ADDR_IPV6;
        a.len = 16;
    } else {
        a.type = EVP_ADDR_DOMAIN;
        a.len = (uint8_t)strlen(text);
        memcpy(a.bytes, text, a.len);
    }
    return a;
}

static size_t pick(const evp_config *c, const char *target)
{
    evp_addr a = addr(target);
    return evp_router_pick(c->router, "a", &a, EVP_NET_TCP);
}

START_TEST(geoip_and_geosite_from_files)
{
    evp_config *c = load_ok(
        "{\"rules\":["
        "{\"type\":\"field\",\"domain\":[\"geosite:cn@ads\"],\"outboundTag\":\"block\"},"
        "{\"type\":\"field\",\"domain\":[\"geosite:google\",\"ext:sites.dat:cn\"],"
        "\"outboundTag\":\"proxy-1\"},"
        "{\"type\":\"field\",\"ip\":[\"geoip:cn\",\"geoip:cn6\",\"ext-ip:extra.dat:MINE\"],"
        "\"outboundTag\":\"proxy-2\"},"
        "{\"type\":\"field\",\"ip\":[\"geoip:private\"],\"outboundTag\":\"block\"}]}");
    ck_assert_uint_eq(pick(c, "x.ads.baidu.test"), 1); /* only the domain with the attr */
    ck_assert_uint_eq(pick(c, "www.google.com"), 2);
    ck_assert_uint_eq(pick(c, "www.gstatic.test"), 2);
    ck_assert_uint_eq(pick(c, "a.www.gstatic.test"), 0); /* Full: that name only */
    ck_assert_uint_eq(pick(c, "example.cn"), 2);         /* the cn list, from sites.dat */
    ck_assert_uint_eq(pick(c, "qq123.test"), 2);         /* Regex */
    ck_assert_uint_eq(pick(c, "m.taobao.test"), 2);      /* Plain */
    ck_assert_uint_eq(pick(c, "1.0.1.77"), 3);
    ck_assert_uint_eq(pick(c, "240e:1::1"), 3);
    ck_assert_uint_eq(pick(c, "203.0.113.9"), 3);
    ck_assert_uint_eq(pick(c, "1.0.2.1"), 0);
    ck_assert_uint_eq(pick(c, "5.5.5.5"), 0); /* a second "CN" entry: V2Ray reads the first */
    ck_assert_uint_eq(pick(c, "10.1.2.3"), 1);
    /* The file's "private" list, not evproxy's own: 192.168/16 is not in this one. */
    ck_assert_uint_eq(pick(c, "192.168.1.1"), 0);
    evp_config_free(c);
}
END_TEST

static const struct {
    const char *routing, *want;
} refused[] = {
    {"{\"rules\":[{\"ip\":[\"geoip:xx\"],\"outboundTag\":\"block\"}]}",
     "routing.rules[0].ip[0]: \"geoip:xx\": country not found in "},
    {"{\"rules\":[{\"domain\":[\"geosite:nope\"],\"outboundTag\":\"block\"}]}",
     "routing.rules[0].domain[0]: \"geosite:nope\": list not found in "},
    {"{\"rules\":[{\"domain\":[\"ext:missing.dat:cn\"],\"outboundTag\":\"block\"}]}",
     "failed to open file: "},
    {"{\"rules\":[{\"ip\":[\"ext:extra.dat\"],\"outboundTag\":\"block\"}]}",
     "invalid external resource"},
    {"{\"rules\":[{\"ip\":[\"geoip:!cn\"],\"outboundTag\":\"block\"}]}", /* not in 4.34 */
     "country not found in "},
    {"{\"rules\":[{\"domain\":[\"full:\"],\"outboundTag\":\"block\"}]}", "empty full rule"},
    {"{\"rules\":[{\"balancerTag\":\"lb\"}]}", "balancerTag: balancer lb not found"},
    {"{\"balancers\":[{\"tag\":\"lb\"}],\"rules\":[]}", "empty selector list"},
    {"{\"domainStrategy\":\"Sometimes\",\"rules\":[]}", "routing.domainStrategy"},
};

START_TEST(bad_data_refused_naming_it)
{
    char *errors;
    evp_config *c = load(refused[_i].routing, &errors);
    ck_assert_msg(c == NULL, "accepted %s", refused[_i].routing);
    ck_assert_msg(errors && strstr(errors, refused[_i].want), "%s lacks \"%s\"",
                  errors ? errors : "(none)", refused[_i].want);
    free(errors);
}
END_TEST

/* No geoip.dat anywhere: geoip:private falls back to the built-in list; geoip:cn is an error
 * naming the path looked at. */
START_TEST(missing_geoip_file)
{
    char path[256], *errors;
    snprintf(path, sizeof path, "%s/geoip.dat", dir);
    unlink(path);
    evp_config *c = load_ok("{\"rules\":[{\"ip\":[\"geoip:private\"],\"outboundTag\":\"block\"}]}");
    ck_assert_uint_eq(pick(c, "192.168.1.1"), 1);
    evp_config_free(c);
    c = load("{\"rules\":[{\"ip\":[\"geoip:cn\"],\"outboundTag\":\"block\"}]}", &errors);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(errors, "failed to open file: ") && strstr(errors, path), "%s", errors);
    free(errors);
}
END_TEST

/* balancerTag: both selected outbounds get sessions (counted over 400 picks), others none. */
START_TEST(balancer_spreads)
{
    evp_config *c = load_ok("{\"balancers\":[{\"tag\":\"lb\",\"selector\":[\"proxy-\"]}],"
                            "\"rules\":[{\"type\":\"field\",\"port\":\"443\","
                            "\"balancerTag\":\"lb\"}]}");
    size_t count[4] = {0};
    for (int i = 0; i < 400; i++)
        count[pick(c, "example.org")]++;
    ck_assert_uint_eq(count[0] + count[1], 0);
    ck_assert_uint_gt(count[2], 100);
    ck_assert_uint_gt(count[3], 100);
    evp_config_free(c);
}
END_TEST

START_TEST(source_and_user_conditions)
{
    evp_config *c = load_ok(
        "{\"rules\":[{\"type\":\"field\",\"source\":[\"192.0.2.0/24\"],\"sourcePort\":\"1000-2000\","
        "\"outboundTag\":\"block\"},"
        "{\"type\":\"field\",\"user\":[\"vip@example.com\"],\"outboundTag\":\"proxy-1\"}]}");
    evp_addr t = addr("example.org"), src = addr("192.0.2.5");
    src.port = 1500;
    evp_route_query q = {.inbound_tag = "a", .target = &t, .network = EVP_NET_TCP,
                         .source = &src};
    ck_assert_int_eq(evp_router_route(c->router, &q), 1);
    src.port = 3000;
    ck_assert_int_eq(evp_router_route(c->router, &q), 0);
    q.user = "vip@example.com";
    ck_assert_int_eq(evp_router_route(c->router, &q), 2);
    q.user = "VIP@example.com"; /* emails compare exactly, as in V2Ray */
    ck_assert_int_eq(evp_router_route(c->router, &q), 0);
    q.source = NULL;
    ck_assert_int_eq(evp_router_route(c->router, &q), 0);
    evp_config_free(c);
}
END_TEST

/* The protocol condition as V2Ray 4.34's ProtocolMatcher: the sniffed protocol starts with
 * one of the names ("http" takes "http1"); nothing sniffed matches no protocol rule. */
START_TEST(protocol_condition_takes_prefixes)
{
    evp_config *c = load_ok(
        "{\"rules\":[{\"type\":\"field\",\"protocol\":[\"http\"],\"outboundTag\":\"block\"},"
        "{\"type\":\"field\",\"protocol\":[\"bittorrent\", \"\"],\"outboundTag\":\"proxy-1\"}]}");
    evp_addr t = addr("example.org");
    evp_route_query q = {.inbound_tag = "a", .target = &t, .network = EVP_NET_TCP};
    ck_assert_int_eq(evp_router_route(c->router, &q), 0); /* nothing sniffed */
    q.protocol = "http1";
    ck_assert_int_eq(evp_router_route(c->router, &q), 1);
    q.protocol = "tls";
    ck_assert_int_eq(evp_router_route(c->router, &q), 0);
    q.protocol = "bittorrent";
    ck_assert_int_eq(evp_router_route(c->router, &q), 2);
    evp_config_free(c);
}
END_TEST

/* IPIfNonMatch asks for the address only when no rule took the name; IPOnDemand as soon as
 * an ip rule is reached; AsIs never. */
START_TEST(domain_strategy_asks_for_address)
{
    static const char *const rules =
        "\"rules\":[{\"type\":\"field\",\"domain\":[\"full:named.test\"],\"outboundTag\":\"proxy-1\"},"
        "{\"type\":\"field\",\"ip\":[\"198.51.100.0/24\"],\"outboundTag\":\"block\"}]}";
    char routing[512];
    evp_addr named = addr("named.test"), other = addr("other.test"), ip = addr("198.51.100.7");
    evp_route_query q = {.inbound_tag = "a", .network = EVP_NET_TCP};

    snprintf(routing, sizeof routing, "{\"domainStrategy\":\"IPIfNonMatch\",%s", rules);
    evp_config *c = load_ok(routing);
    q.target = &named;
    ck_assert_int_eq(evp_router_route(c->router, &q), 2);
    q.target = &other;
    ck_assert_int_eq(evp_router_route(c->router, &q), EVP_ROUTE_NEEDS_IP);
    q.resolved = 1;
    q.target_ip = &ip;
    ck_assert_int_eq(evp_router_route(c->router, &q), 1);
    q.target_ip = NULL; /* did not resolve: no ip rule can match */
    ck_assert_int_eq(evp_router_route(c->router, &q), 0);
    evp_config_free(c);

    snprintf(routing, sizeof routing, "{\"domainStrategy\":\"IPOnDemand\",%s", rules);
    c = load_ok(routing);
    q = (evp_route_query){.inbound_tag = "a", .network = EVP_NET_TCP, .target = &named};
    ck_assert_int_eq(evp_router_route(c->router, &q), 2); /* the domain rule comes first */
    q.target = &other;
    ck_assert_int_eq(evp_router_route(c->router, &q), EVP_ROUTE_NEEDS_IP);
    q.resolved = 1;
    q.target_ip = &ip;
    ck_assert_int_eq(evp_router_route(c->router, &q), 1);
    evp_config_free(c);

    snprintf(routing, sizeof routing, "{%s", rules);
    c = load_ok(routing);
    q = (evp_route_query){.inbound_tag = "a", .network = EVP_NET_TCP, .target = &other};
    ck_assert_int_eq(evp_router_route(c->router, &q), 0); /* AsIs */
    evp_config_free(c);
}
END_TEST

Suite *geo_routing_suite(void)
{
    Suite *s = suite_create("geo_routing");
    TCase *tc = tcase_create("geo");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, geoip_and_geosite_from_files);
    tcase_add_loop_test(tc, bad_data_refused_naming_it, 0, sizeof refused / sizeof refused[0]);
    tcase_add_test(tc, missing_geoip_file);
    tcase_add_test(tc, balancer_spreads);
    tcase_add_test(tc, source_and_user_conditions);
    tcase_add_test(tc, protocol_condition_takes_prefixes);
    tcase_add_test(tc, domain_strategy_asks_for_address);
    suite_add_tcase(s, tc);
    return s;
}
