/* What the VMess fuzz targets share: the fixed users, settings JSON for the plugin's
 * inbound and outbound, and a helper that makes a real request header (and sealed body)
 * with the plugin's own outbound, for a chosen security, header mode and network. */
#ifndef FUZZ_VMESS_COMMON_H
#define FUZZ_VMESS_COMMON_H

#include "../../plugin/vmess/body.h"
#include "../../plugin/vmess/inbound.h"
#include "../../plugin/vmess/outbound.h"
#include "fuzz_drive.h"

#define FUZZ_UUID_AEAD "27848739-7e62-4138-9fd3-098a63964b6b"
#define FUZZ_UUID_LEGACY "b831381d-6324-4d53-ad4f-8cda48b30811"

/* The inbound's user table: one AEAD user, one legacy (alterId 2) user. */
#define FUZZ_VMESS_INBOUND                                                                         \
    "{\"clients\":[{\"id\":\"" FUZZ_UUID_AEAD "\",\"alterId\":0,\"email\":\"a@fuzz\"},"            \
    "{\"id\":\"" FUZZ_UUID_LEGACY "\",\"alterId\":2,\"email\":\"b@fuzz\"}]}"

/* The securities an outbound user may name, as configs spell them. */
static const char *const fuzz_vmess_securities[] = {
    "aes-128-gcm", "chacha20-poly1305", "none", "zero", "aes-128-cfb", "auto",
};
#define FUZZ_VMESS_NSEC (sizeof(fuzz_vmess_securities) / sizeof(fuzz_vmess_securities[0]))

/* A client: an outbound instance and one session, for header mode legacy (alterId 2) or
 * AEAD, security index sec, TCP or UDP, toward example.com:443 (or 10.1.2.3:53 for UDP). */
typedef struct fuzz_client {
    void *inst;
    void *sess;
} fuzz_client;

static inline const evp_plugin *fuzz_vmess_plugin(void)
{
    return evp_plugin_entry();
}

static inline int fuzz_client_open(fuzz_client *c, int legacy, unsigned sec, int udp)
{
    char json[512], err[256];
    snprintf(json, sizeof(json),
             "{\"vnext\":[{\"address\":\"127.0.0.1\",\"port\":10086,\"users\":[{\"id\":\"%s\","
             "\"alterId\":%d,\"security\":\"%s\"}]}]}",
             legacy ? FUZZ_UUID_LEGACY : FUZZ_UUID_AEAD, legacy ? 2 : 0,
             fuzz_vmess_securities[sec % FUZZ_VMESS_NSEC]);
    evp_instance_args a = {sizeof(a), "fuzz-out", json, 0};
    const evp_outbound_ops *ops = fuzz_vmess_plugin()->outbound;
    memset(c, 0, sizeof(*c));
    c->inst = ops->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (c->inst == NULL) {
        fprintf(stderr, "vmess outbound: %s\n", err);
        abort();
    }
    evp_addr target, dial;
    memset(&target, 0, sizeof(target));
    if (udp) {
        static const uint8_t ip[4] = {10, 1, 2, 3};
        target.type = EVP_ADDR_IPV4;
        target.len = 4;
        memcpy(target.bytes, ip, 4);
        target.port = 53;
    } else {
        target.type = EVP_ADDR_DOMAIN;
        target.len = (uint8_t)strlen("example.com");
        memcpy(target.bytes, "example.com", target.len);
        target.port = 443;
    }
    c->sess = ops->session_new(c->inst, &target, udp ? EVP_NET_UDP : EVP_NET_TCP, &dial, err,
                               sizeof(err));
    if (c->sess == NULL) {
        ops->instance_free(c->inst);
        return -1; /* e.g. a combination the outbound refuses */
    }
    return 0;
}

/* Encodes plain[0..len) (the header first), with end of stream when eof, appending to wire.
 * Returns the plaintext bytes consumed (UDP: whole records only). */
static inline size_t fuzz_client_send(fuzz_client *c, const uint8_t *plain, size_t len, int eof,
                                      evp_buf *wire)
{
    evp_buf back = {0};
    evp_io io;
    int rc = fuzz_call(fuzz_vmess_plugin()->outbound->encode, c->sess, plain, len, eof, wire, &back,
                       &io);
    fuzz_buf_free(&back);
    if (rc == EVP_ERR)
        abort(); /* encoding our own plaintext must not fail */
    return io.consumed;
}

static inline void fuzz_client_close(fuzz_client *c)
{
    const evp_outbound_ops *ops = fuzz_vmess_plugin()->outbound;
    ops->session_free(c->sess);
    ops->instance_free(c->inst);
}

/* A fresh inbound instance with the fixed users (fresh, so that the replay filters and the
 * legacy taint table start empty and one input always takes the same path). */
static inline void *fuzz_server_new(const char *settings)
{
    char err[256];
    evp_instance_args a = {sizeof(a), "fuzz-in", settings, 10086};
    void *inst = fuzz_vmess_plugin()->inbound->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (inst == NULL) {
        fprintf(stderr, "vmess inbound: %s\n", err);
        abort();
    }
    return inst;
}

/* The body target's fixed keys, for one security nibble, option byte and network. */
static inline void fuzz_body_params(vmess_body_params *p, uint8_t sec, uint8_t opt, int udp)
{
    memset(p, 0, sizeof(*p));
    p->security = sec;
    p->option = opt;
    p->udp = (uint8_t)udp;
    for (int i = 0; i < 16; i++) {
        p->key[i] = (uint8_t)(0x10 + i);
        p->iv[i] = (uint8_t)(0x20 + i);
        p->len_key[i] = (uint8_t)(0x30 + i);
        p->len_iv[i] = (uint8_t)(0x40 + i);
    }
}

#endif
