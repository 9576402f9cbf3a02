/* Writes the seed corpora: `seeds DIR` fills DIR/<target>/ with small inputs in each
 * target's format. VMess seeds are real traffic made by the plugin's own codecs with the
 * fuzz host (fixed clock, rewound randomness), so they authenticate inside the targets;
 * configs, settings and schemas come from contrib/examples/, schema/ and the
 * JSON-Schema-Test-Suite (when installed). Run from the repository root. */
#include "../../plugin/vmess/command.h"
#include "../../plugin/vmess/mux_frame.h"
#include "../../plugin/vmess/request.h"
#include "../../plugin/vmess/user_id.h"
#include "fuzz_vmess_common.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

static const char *root_dir;
static unsigned counter;

/* Writes prefix[0..plen) then p[0..n) to DIR/target/NAME-<counter>. */
static void put2(const char *target, const char *name, const uint8_t *prefix, size_t plen,
                 const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s-%03u", root_dir, target, name, counter++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(prefix, 1, plen, f) != plen || (n && fwrite(p, 1, n, f) != n) ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
    put2(target, name, NULL, 0, p, n);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (b == NULL)
                break;
            buf = b;
            cap += 65536;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void socks_seeds(void)
{
    static const uint8_t connect_domain[] = {0,   0x80, 5,   1,   0,   5,   1,   0,   3,
                                             11,  'e',  'x', 'a', 'm', 'p', 'l', 'e', '.',
                                             'c', 'o',  'm', 0,   80,  'G', 'E', 'T'};
    static const uint8_t connect_v4[] = {0, 0x40, 5, 2, 0, 2, 5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90};
    static const uint8_t connect_v6[] = {0, 0x20, 5, 1, 0, 5, 1, 0, 4, 0, 0, 0, 0,  0,
                                         0, 0,    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187};
    static const uint8_t password[] = {1, 0x60, 5, 1, 2,  1, 1, 'u', 1, 'p',
                                       5, 1,    0, 1, 10, 0, 0, 1,   0, 22};
    static const uint8_t bad_pass[] = {1, 0x60, 5, 1, 2, 1, 5, 'a', 'd', 'm', 'i', 'n', 1, 'x'};
    static const uint8_t udp_assoc[] = {2, 0x10, 5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
    static const uint8_t udp_fail[] = {6, 0x10, 5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
    static const uint8_t bind_cmd[] = {0, 0x10, 5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80};
    static const uint8_t datagram[] = {0,   0,   0,   0, 0,  3,   7,   'a', '.', 'b',
                                       '.', 'c', 'd', 0, 53, 'q', 'u', 'e', 'r', 'y'};
    put("fuzz_socks", "connect-domain", connect_domain, sizeof(connect_domain));
    put("fuzz_socks", "connect-v4", connect_v4, sizeof(connect_v4));
    put("fuzz_socks", "connect-v6", connect_v6, sizeof(connect_v6));
    put("fuzz_socks", "password", password, sizeof(password));
    put("fuzz_socks", "bad-password", bad_pass, sizeof(bad_pass));
    put("fuzz_socks", "udp-associate", udp_assoc, sizeof(udp_assoc));
    put("fuzz_socks", "udp-no-relay", udp_fail, sizeof(udp_fail));
    put("fuzz_socks", "bind", bind_cmd, sizeof(bind_cmd));
    put("fuzz_socks", "datagram", datagram, sizeof(datagram));
}

static void http_inbound_seeds(void)
{
    static const char get[] = "\x00\x10GET http://example.com:8080/a?b HTTP/1.1\r\n"
                              "Host: example.com\r\nProxy-Connection: keep-alive\r\n\r\n";
    static const char post[] = "\x00\x30POST http://127.0.0.1/f HTTP/1.1\r\n"
                               "Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
    static const char conn[] = "\x01\x20" "CONNECT [::1]:443 HTTP/1.1\r\n"
                               "Proxy-Authorization: Basic dTpw\r\n\r\n\x16\x03\x01";
    static const char transparent[] = "\x02\x08GET /x HTTP/1.0\nHost: h:81\n\n";
    put("fuzz_http_inbound", "get", get, sizeof get - 1);
    put("fuzz_http_inbound", "post", post, sizeof post - 1);
    put("fuzz_http_inbound", "connect-auth", conn, sizeof conn - 1);
    put("fuzz_http_inbound", "transparent", transparent, sizeof transparent - 1);
}

/* One whole client stream (header, a request, end) for the inbound's raw mode. */
static void inbound_stream_seed(int legacy, unsigned sec, int udp)
{
    static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    static const uint8_t dns[] = {0, 12, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    fuzz_host_reset();
    fuzz_client c;
    if (fuzz_client_open(&c, legacy, sec, udp) != 0)
        return;
    evp_buf wire = {0};
    fuzz_client_send(&c, NULL, 0, 0, &wire);
    if (udp)
        fuzz_client_send(&c, dns, sizeof(dns), 1, &wire);
    else
        fuzz_client_send(&c, http, sizeof(http) - 1, 1, &wire);
    fuzz_client_close(&c);
    uint8_t prefix[2] = {(uint8_t)(0 | (legacy << 2) | (udp << 3) | (sec << 4)), 0x80};
    put2("fuzz_vmess_inbound", legacy ? "legacy-stream" : "aead-stream", prefix, 2, wire.data,
         wire.len);
    fuzz_buf_free(&wire);
}

/* The server's real response to our client, for the outbound's raw mode. */
static void outbound_reply_seed(int legacy, unsigned sec, int udp)
{
    static const uint8_t pong[] = "HTTP/1.1 200 OK\r\n\r\nhello";
    static const uint8_t rec[] = {0, 5, 'h', 'e', 'l', 'l', 'o'};
    fuzz_host_reset();
    fuzz_client c;
    if (fuzz_client_open(&c, legacy, sec, udp) != 0)
        return;
    evp_buf wire = {0}, plain = {0}, reply = {0}, scratch = {0};
    fuzz_client_send(&c, NULL, 0, 0, &wire);
    fuzz_client_close(&c);
    const evp_inbound_ops *ops = fuzz_vmess_plugin()->inbound;
    void *inst = fuzz_server_new(FUZZ_VMESS_INBOUND);
    void *s = ops->session_new(inst);
    evp_io io;
    int rc = fuzz_call(ops->decode, s, wire.data, wire.len, 0, &plain, &scratch, &io);
    if (rc == EVP_TARGET) {
        fuzz_call(ops->encode, s, udp ? rec : pong, udp ? sizeof(rec) : sizeof(pong) - 1, 1, &reply,
                  &scratch, &io);
        uint8_t prefix[3] = {(uint8_t)(legacy | (udp << 1) | (sec << 2)), 0, 0x80};
        put2("fuzz_vmess_outbound", "server-reply", prefix, 3, reply.data, reply.len);
    } else {
        fprintf(stderr, "seeds: the inbound refused our header (%s)\n", io.reason);
        exit(1);
    }
    ops->session_free(s);
    ops->instance_free(inst);
    fuzz_buf_free(&wire);
    fuzz_buf_free(&plain);
    fuzz_buf_free(&reply);
    fuzz_buf_free(&scratch);
}

/* Wrapped replies: a plain header, one with SwitchAccount, then a body. */
static void outbound_wrap_seeds(int legacy, unsigned sec, int udp)
{
    uint8_t in[512];
    size_t n = 0;
    uint8_t flags = (uint8_t)(legacy | (udp << 1) | (sec << 2) | 0x20);
    in[n++] = flags;
    in[n++] = 7; /* fix V, CmdLen and FNV */
    in[n++] = 0x80;
    in[n++] = 4;
    in[n++] = 0; /* V: fixed up */
    in[n++] = 0;
    in[n++] = 0;
    in[n++] = 0;
    memcpy(in + n, udp ? "\0\5hello" : "hello", udp ? 7 : 5);
    n += udp ? 7 : 5;
    put("fuzz_vmess_outbound", "wrap-plain", in, n);

    vmess_switch_account sa;
    memset(&sa, 0, sizeof(sa));
    sa.port = 10087;
    vmess_uuid_parse(sa.uuid, FUZZ_UUID_LEGACY);
    sa.alter_id = 3;
    sa.level = 1;
    sa.valid_min = 5;
    if (legacy) {
        sa.host_len = 9;
        memcpy(sa.host, "localhost", 10);
    }
    uint8_t payload[300];
    int plen = vmess_switch_account_encode(&sa, payload, sizeof(payload));
    uint8_t hdr[300];
    int hl = vmess_resp_header_encode(hdr, sizeof(hdr), 0, 0, VMESS_RESP_CMD_SWITCH_ACCOUNT,
                                      payload, (size_t)plen);
    n = 0;
    in[n++] = flags;
    in[n++] = 7;
    in[n++] = 0x80;
    in[n++] = (uint8_t)hl;
    memcpy(in + n, hdr, (size_t)hl);
    n += (size_t)hl;
    memcpy(in + n, "data", 4);
    n += 4;
    put("fuzz_vmess_outbound", "wrap-switch-account", in, n);
}

/* Header plaintexts for the header target: each address kind, and a response. */
static void header_seeds(void)
{
    static const char *const names[] = {"example.com", "1.2.3.4", "[::1]"};
    for (unsigned k = 0; k < 5; k++) {
        vmess_request r;
        memset(&r, 0, sizeof(r));
        r.version = 1;
        for (int i = 0; i < 16; i++) {
            r.iv[i] = (uint8_t)i;
            r.key[i] = (uint8_t)(0xa0 + i);
        }
        r.v = 0x42;
        r.option = 0x05;
        r.padding_len = (uint8_t)(k * 3);
        r.security = k == 4 ? VMESS_SEC_NONE : VMESS_SEC_GCM;
        r.command = k == 3 ? VMESS_CMD_MUX : k == 4 ? VMESS_CMD_UDP : VMESS_CMD_TCP;
        r.target.type = EVP_ADDR_DOMAIN;
        r.target.len = (uint8_t)strlen(names[k % 3]);
        memcpy(r.target.bytes, names[k % 3], r.target.len);
        r.target.port = 443;
        static const uint8_t pad[16] = "padpadpadpadpadp";
        uint8_t in[2 + VMESS_REQUEST_MAX + 8];
        int n = vmess_request_encode(&r, pad, in + 2, VMESS_REQUEST_MAX);
        if (n < 0)
            continue;
        memcpy(in + 2 + n, "body", 4);
        for (uint8_t mode = 0; mode < 3; mode++) {
            in[0] = (uint8_t)(mode | 4);
            in[1] = (uint8_t)n;
            put("fuzz_vmess_header", "request", in, 2 + (size_t)n + 4);
        }
    }
    vmess_switch_account sa;
    memset(&sa, 0, sizeof(sa));
    sa.host_len = 9;
    memcpy(sa.host, "localhost", 10);
    sa.port = 10087;
    sa.alter_id = 2;
    sa.valid_min = 3;
    uint8_t payload[300], in[2 + 300];
    int plen = vmess_switch_account_encode(&sa, payload, sizeof(payload));
    int hl = vmess_resp_header_encode(in + 2, 300, 0x42, 0, VMESS_RESP_CMD_SWITCH_ACCOUNT, payload,
                                      (size_t)plen);
    in[0] = 3 | 4;
    in[1] = (uint8_t)hl;
    put("fuzz_vmess_header", "response", in, 2 + (size_t)hl);
}

static void vmess_seeds(void)
{
    header_seeds();
    for (int legacy = 0; legacy < 2; legacy++)
        for (unsigned sec = 0; sec < FUZZ_VMESS_NSEC; sec++)
            for (int udp = 0; udp < 2; udp++) {
                inbound_stream_seed(legacy, sec, udp);
                outbound_reply_seed(legacy, sec, udp);
                outbound_wrap_seeds(legacy, sec, udp);
                for (unsigned mode = 1; mode < 4; mode++) {
                    uint8_t in[2 + 14] = {(uint8_t)(mode | (legacy << 2) | (udp << 3) | (sec << 4)),
                                          0x80};
                    memcpy(in + 2, udp ? "\0\14dns query 1" : "GET / HTTP/1.0", 14);
                    put("fuzz_vmess_inbound", "header-then", in, sizeof(in));
                }
            }
    /* The body reader: each valid security x a few option bytes, sealed and raw. */
    static const uint8_t secs[] = {0, 1, 3, 4, 5};
    static const uint8_t opts[] = {0x00, 0x01, 0x05, 0x0d, 0x11, 0x15, 0x1d};
    for (size_t i = 0; i < sizeof(secs); i++)
        for (size_t j = 0; j < sizeof(opts); j++)
            for (int udp = 0; udp < 2; udp++) {
                static const uint8_t text[] = "\0\13hello world";
                uint8_t in[3 + 13] = {(uint8_t)(secs[i] | (udp << 3) | 0x10), opts[j], 0x80};
                memcpy(in + 3, text, 13);
                put("fuzz_vmess_body", "sealed", in, sizeof(in));
                /* The same, sealed here, as a raw chunk stream. */
                vmess_body_params bp;
                fuzz_body_params(&bp, secs[i], opts[j], udp);
                vmess_body w;
                if (vmess_body_init(&w, &bp) != 0)
                    continue;
                evp_buf out = {0};
                size_t used;
                fuzz_host_reset();
                uint8_t pre[3] = {(uint8_t)(secs[i] | (udp << 3)), opts[j], 0x80};
                fuzz_buf_put(&out, pre, 3);
                vmess_body_seal(&w, fuzz_host_get(), text, 13, &used, &out);
                vmess_body_seal_eof(&w, fuzz_host_get(), &out);
                vmess_body_wipe(&w);
                put("fuzz_vmess_body", "chunks", out.data, out.len);
                fuzz_buf_free(&out);
            }
}

/* Appends one Mux.Cool frame to out (fuzz_mux_frame's format after its 2-byte split). */
static void mux_put(evp_buf *out, uint16_t id, uint8_t status, uint8_t option, uint8_t network,
                    const char *target, const void *data, size_t len)
{
    vmess_mux_frame f;
    memset(&f, 0, sizeof(f));
    f.id = id;
    f.status = status;
    f.option = option;
    f.network = network;
    if (target != NULL) {
        f.addr.type = EVP_ADDR_DOMAIN;
        f.addr.len = (uint8_t)strlen(target);
        memcpy(f.addr.bytes, target, f.addr.len);
        f.addr.port = 443;
    }
    /* An XUDP New frame carries its Global ID. */
    f.has_global_id = status == VMESS_MUX_NEW && network == VMESS_MUX_NET_UDP;
    memset(f.global_id, 0x5a, sizeof(f.global_id));
    if (vmess_mux_write(fuzz_host_get(), out, &f, data, len) != EVP_OK)
        abort();
}

/* Mux.Cool streams as V2Ray sends them (TCP sub-streams) and as Xray sends XUDP. */
static void mux_seeds(void)
{
    static uint8_t big[3000];
    memset(big, 'x', sizeof(big));
    evp_buf tcp = {0}, udp = {0};
    fuzz_buf_put(&tcp, "\0\x20", 2);
    mux_put(&tcp, 1, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_TCP, "example.com", "GET", 3);
    mux_put(&tcp, 2, VMESS_MUX_NEW, 0, VMESS_MUX_NET_TCP, "v2ray.com", NULL, 0);
    mux_put(&tcp, 1, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0, NULL, big, sizeof(big));
    mux_put(&tcp, 0, VMESS_MUX_KEEPALIVE, 0, 0, NULL, NULL, 0);
    mux_put(&tcp, 1, VMESS_MUX_END, 0, 0, NULL, NULL, 0);
    mux_put(&tcp, 2, VMESS_MUX_END, VMESS_MUX_OPT_ERROR, 0, NULL, NULL, 0);
    put("fuzz_mux_frame", "tcp", tcp.data, tcp.len);
    fuzz_buf_put(&udp, "\0\x11", 2);
    mux_put(&udp, 0, VMESS_MUX_NEW, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP, "dns.example", "q1", 2);
    mux_put(&udp, 0, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, VMESS_MUX_NET_UDP, "b.example", "q2", 2);
    mux_put(&udp, 0, VMESS_MUX_KEEP, VMESS_MUX_OPT_DATA, 0, NULL, "", 0);
    put("fuzz_mux_frame", "xudp", udp.data, udp.len);
    fuzz_buf_free(&tcp);
    fuzz_buf_free(&udp);
}

static void file_seeds(void)
{
    static const char *const examples[] = {
        "contrib/examples/dokodemo-vmess.json", "contrib/examples/socks-freedom.json",
        "contrib/examples/vmess-client.json", "contrib/examples/vmess-server.json"};
    /* The settings target's protocol numbers (fuzz_settings.c protos[]). */
    static const char *const protos[][2] = {{"vmess", "in"},    {"vmess", "out"},
                                            {"socks", "in"},    {"dokodemo-door", "in"},
                                            {"freedom", "out"}, {"blackhole", "out"}};
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        size_t len;
        char *text = slurp(examples[i], &len);
        if (text == NULL)
            continue;
        uint8_t zero = 0;
        put("fuzz_config", "example", text, len);
        put2("fuzz_jsonschema", "example", &zero, 1, text, len);
        json_t *j = json_loadb(text, len, 0, NULL);
        free(text);
        const char *sides[2] = {"inbounds", "outbounds"};
        for (int sd = 0; sd < 2; sd++) {
            size_t k;
            json_t *b;
            json_array_foreach (json_object_get(j, sides[sd]), k, b) {
                const char *proto = json_string_value(json_object_get(b, "protocol"));
                json_t *settings = json_object_get(b, "settings");
                for (size_t p = 0; proto && settings && p < 6; p++) {
                    if (strcmp(protos[p][0], proto) != 0 || (protos[p][1][0] == 'i') != !sd)
                        continue;
                    char *st = json_dumps(settings, JSON_COMPACT);
                    uint8_t pb = (uint8_t)p;
                    put2("fuzz_settings", proto, &pb, 1, st, strlen(st));
                    free(st);
                }
            }
        }
        json_decref(j);
    }
    DIR *d = opendir("schema");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".json") == NULL)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "schema/%s", e->d_name);
        size_t len;
        char *text = slurp(path, &len);
        if (text == NULL)
            continue;
        uint8_t one = 1;
        put2("fuzz_jsonschema", "schema", &one, 1, text, len);
        free(text);
    }
    if (d != NULL)
        closedir(d);
    /* A few suite schemas, one keyword each. */
    static const char *const suite[] = {
        "ref",          "anyOf",    "oneOf",         "if-then-else", "pattern", "patternProperties",
        "dependencies", "contains", "propertyNames", "uniqueItems",  "format",  "const"};
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "/usr/share/json-schema-test-suite/tests/draft7/%s.json",
                 suite[i]);
        json_t *cases = json_load_file(path, 0, NULL);
        size_t k;
        json_t *c;
        json_array_foreach (cases, k, c) {
            if (k >= 3)
                break;
            char *st = json_dumps(json_object_get(c, "schema"), JSON_COMPACT | JSON_ENCODE_ANY);
            uint8_t one = 1;
            if (st != NULL)
                put2("fuzz_jsonschema", suite[i], &one, 1, st, strlen(st));
            free(st);
        }
        json_decref(cases);
    }
    static const char *const sip[] = {
        "\001id=27848739-7e62-4138-9fd3-098a63964b6b;security=aes-128-gcm;loglevel=debug",
        "\003id=27848739-7e62-4138-9fd3-098a63964b6b;alterId=4;email=a\\;b@c",
        "\001id=27848739-7e62-4138-9fd3-098a63964b6b;target=[::1]:443",
        "\000server;clients=/nonexistent/clients.json",
        "\000a\\=b=c\\\\d;;flag;k=",
        "\001id=27848739-7e62-4138-9fd3-098a63964b6b;mode=websocket;tls;host=a.test;path=/x",
        "\000id=27848739-7e62-4138-9fd3-098a63964b6b;tls;cert=/c.pem;key=/k.pem;mux=0",
    };
    for (size_t i = 0; i < sizeof(sip) / sizeof(sip[0]); i++)
        put("fuzz_sip003", "options", sip[i], 1 + strlen(sip[i] + 1));
}

/* Transport layers: PROXY headers (byte 0: the piece size) and HTTP headers (byte 0: the
 * mode, tests/fuzz/fuzz_http_header.c). */
static void transport_seeds(void)
{
    static const char v1[] = "\x07PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nhello";
    static const uint8_t v2[] = {3,    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55,
                                 0x49, 0x54, 0x0A, 0x21, 0x11, 0,    15,   10,   0,    0,
                                 1,    10,   0,    0,    2,    4,    210,  1,    187,  4,
                                 0,    0,    'h',  'i'};
    put("fuzz_proxy_protocol", "v1", v1, sizeof(v1) - 1);
    put("fuzz_proxy_protocol", "v2-tlv", v2, sizeof(v2));
    static const char *const http[] = {
        "\x04GET / HTTP/1.1\r\nHost: www.baidu.com\r\nConnection: keep-alive\r\n\r\nvmess",
        "\x05POST /b/?q HTTP/1.0\nHost: x\n\n\r\n\r\nvmess",
        "\x06HTTP/1.1 200 OK\r\nContent-Type: video/mpeg\r\nDate: x\r\n\r\nvmess",
        ("\x03{\"header\":{\"type\":\"http\",\"request\":{\"version\":\"1.0\",\"path\":\"/a,/b\","
         "\"headers\":{\"A\":[\"1\",\"2\"]}},\"response\":{\"reason\":\"Fine\"}}}"),
    };
    for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
        put("fuzz_http_header", "header", http[i], strlen(http[i]));
    /* fuzz_h2_server: after our client's start (bit 7), DATA "abc" with END_STREAM; a
     * preface alone; garbage where the preface belongs. */
    static const uint8_t h2_end[] = {0x80, 0, 0, 3, 0, 1, 0, 0, 0, 1, 'a', 'b', 'c'};
    put("fuzz_h2_server", "data-end", h2_end, sizeof(h2_end));
    put("fuzz_h2_server", "preface", "\x05PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 25);
    put("fuzz_h2_server", "http1", "\x41GET / HTTP/1.1\r\n\r\n", 19);
}

/* fuzz_sniff (byte 0: where the first read ends): HTTP requests, a ClientHello naming
 * a.test after a supported_versions extension, a BitTorrent handshake. */
static void sniff_seeds(void)
{
    static const char *const http[] = {
        "\x40GET / HTTP/1.1\r\nHost: Example.TEST:8080\r\nAccept: */*\r\n\r\n",
        "\xffOPTIONS * HTTP/1.1\nhost: [::1]:0x50\n\n",
        "\x10post / HTTP/1.0\r\n\r\nHost: body.test\r\n",
    };
    for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
        put("fuzz_sniff", "http", http[i], strlen(http[i]));
    static const uint8_t hello[] = {
        128, 22, 3, 1, 0, 69, 1, 0, 0, 65, 3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 0, 0, 2, 19, 1,
        1, 0, 0, 22, 0, 43, 0, 3, 2, 3, 4, 0, 0, 0, 11, 0, 9, 0, 0, 6, 'a', '.', 't', 'e', 's',
        't'};
    put("fuzz_sniff", "tls", hello, sizeof(hello));
    static const char bt[] = "\x01\x13" "BitTorrent protocol" "\0\0\0\0\0\x10\0\x05";
    put("fuzz_sniff", "bittorrent", bt, sizeof(bt) - 1);
}

/* fuzz_ws_server: upgrade requests (byte 0 the settings and peer, byte 1 the split), then
 * masked frames: data, a ping, fragments, a Close. */
static void ws_seeds(void)
{
    static const char *const heads[] = {
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /ws?ed=2048 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: SGVsbG8\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n",
        "GET /wsSGVsbG8 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\nX-Ed: SGVsbG8\r\n"
        "X-Forwarded-For: unknown, 2001:db8::1\r\n\r\n",
        "GET /other HTTP/1.1\r\n\r\n",
    };
    static const uint8_t frames[] = {
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, /* "Hello" */
        0x89, 0x81, 1, 2, 3, 4, 'p' ^ 1,                                   /* ping */
        0x02, 0x81, 1, 2, 3, 4, 'a' ^ 1, 0x80, 0x81, 1, 2, 3, 4, 'b' ^ 1,  /* fragments */
        0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2,                        /* Close 1000 */
    };
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t n = strlen(heads[i]);
        uint8_t *seed = malloc(2 + n + sizeof(frames));
        if (seed == NULL)
            exit(1);
        seed[0] = (uint8_t)i;
        seed[1] = (uint8_t)(n / 2);
        memcpy(seed + 2, heads[i], n);
        memcpy(seed + 2 + n, frames, sizeof(frames));
        put("fuzz_ws_server", "upgrade", seed, 2 + n + sizeof(frames));
        free(seed);
    }
    /* fuzz_ws_client: a server's frames behind the harness's 101 (bit 2), unmasked; and
     * refusals in the clear. */
    static const uint8_t server_frames[] = {
        0x81, 0x05, 'H',  'e',  'l',  'l', 'o', 0x89, 0x01, 'p', 0x02, 0x01,
        'a',  0x80, 0x01, 'b',  0x88, 0x02, 0x03, 0xe8,
    };
    for (uint8_t settings = 0; settings < 4; settings++) {
        uint8_t seed[2 + sizeof(server_frames)] = {(uint8_t)(settings | 4), 9};
        memcpy(seed + 2, server_frames, sizeof(server_frames));
        put("fuzz_ws_client", "frames", seed, sizeof(seed));
    }
    static const char refusal[] = "\0\x05HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    put("fuzz_ws_client", "refused", refusal, sizeof(refusal) - 1);
}

/* fuzz_dns_msg: an A and an AAAA query, one with a pointer back into the header, a TXT
 * query (forwarded, not parsed further). */
static void dns_msg_seeds(void)
{
    static const uint8_t a[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w',
                                4,    't',  'e', 's', 't', 0, 0, 1, 0, 1};
    static const uint8_t aaaa_ptr[] = {0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'v',
                                       0xC0, 11, 0, 28, 0, 1};
    static const uint8_t txt[] = {0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 't', 0, 0, 16, 0, 1};
    put("fuzz_dns_msg", "a", a, sizeof a);
    put("fuzz_dns_msg", "aaaa-pointer", aaaa_ptr, sizeof aaaa_ptr);
    put("fuzz_dns_msg", "txt", txt, sizeof txt);
}

/* fuzz_geodata: a GeoIPList (CN: 1.0.1.0/24, ::1/128) and a GeoSiteList (a Domain entry
 * with an attribute, a Regex entry), protobuf bytes as geoip.dat / geosite.dat hold them. */
static void geodata_seeds(void)
{
    static const uint8_t geoip[] = {
        0x0a, 0x25, 0x0a, 0x02, 'C',  'N',  0x12, 0x08, 0x0a, 0x04, 1, 0, 1, 0, 0x10, 24,
        0x12, 0x15, 0x0a, 0x10, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0,    0,
        0,    0,    0,    1,    0x10, 0x80, 0x01};
    static const uint8_t geosite[] = {
        0x0a, 0x1f, 0x0a, 0x01, 'G', 0x12, 0x10, 0x08, 0x02, 0x12, 0x05, 'g', '.', 'c', 'o',
        'm',  0x1a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01, 0x12, 0x08, 0x08, 0x01, 0x12, 0x04,
        '^',  'a',  '+',  '$'};
    put("fuzz_geodata", "geoip", geoip, sizeof geoip);
    put("fuzz_geodata", "geosite", geosite, sizeof geosite);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR (run from the repository root)\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    root_dir = argv[1];
    if (mkdir(root_dir, 0755) != 0 && errno != EEXIST) {
        perror(root_dir);
        return 1;
    }
    socks_seeds();
    http_inbound_seeds();
    ws_seeds();
    vmess_seeds();
    mux_seeds();
    file_seeds();
    transport_seeds();
    geodata_seeds();
    sniff_seeds();
    dns_msg_seeds();
    printf("seeds: %u files under %s\n", counter, root_dir);
    return 0;
}
