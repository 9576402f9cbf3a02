/* One VMess request in memory through any copy of the plugin's ops: a client's first wire
 * bytes, then a fresh server session's verdict on them. For tests that need only the
 * handshake (check_vmess_session.c drives whole connections). Header-only, static inline. */
#ifndef VMESS_WIRE_H
#define VMESS_WIRE_H

#include "evproxy/plugin.h"
#include "module.h"
#include "test_host.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh copy of the built vmess.so (EVP_BUILD, default build/) through the loader. */
static inline evp_module *wire_load_vmess(void)
{
    const char *build = getenv("EVP_BUILD");
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/plugins/vmess.so", build ? build : "build");
    evp_module *m = evp_module_open(path, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

/* Inbound or outbound instance of p on host h from settings JSON; fails the test with the
 * error. */
static inline void *wire_instance(const evp_plugin *p, const evp_host *h, int inbound,
                                  const char *json)
{
    char err[256] = "";
    evp_instance_args a = {sizeof(a), inbound ? "in" : "out", json, 0};
    void *inst = inbound ? p->inbound->instance_new(h, &a, err, sizeof(err))
                         : p->outbound->instance_new(h, &a, err, sizeof(err));
    ck_assert_msg(inst != NULL, "%s: %s", inbound ? "inbound" : "outbound", err);
    return inst;
}

/* An outbound instance on the test host for one user of the server 127.0.0.1:10086. */
static inline void *wire_client(const evp_plugin *p, const char *uuid, int alter_id)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"vnext\":[{\"address\":\"127.0.0.1\",\"port\":10086,\"users\":"
             "[{\"id\":\"%s\",\"alterId\":%d,\"security\":\"aes-128-gcm\"}]}]}",
             uuid, alter_id);
    return wire_instance(p, test_host_get(), 0, json);
}

/* Appends to wire what a new client session sends first: its header and "hi". */
static inline void wire_request(const evp_plugin *p, void *out_inst, evp_buf *wire)
{
    evp_addr target, dial;
    memset(&target, 0, sizeof(target));
    target.type = EVP_ADDR_DOMAIN;
    target.len = 11;
    memcpy(target.bytes, "example.com", 11);
    target.port = 443;
    char err[128] = "";
    void *cli = p->outbound->session_new(out_inst, &target, EVP_NET_TCP, &dial, err, sizeof(err));
    ck_assert_msg(cli != NULL, "session_new: %s", err);
    evp_buf back = {0};
    evp_io io = {0};
    io.in = (const uint8_t *)"hi";
    io.in_len = 2;
    io.out = wire;
    io.back = &back;
    ck_assert_int_eq(p->outbound->encode(cli, &io), EVP_OK);
    ck_assert_uint_eq(io.consumed, 2);
    p->outbound->session_free(cli);
    test_buf_free(&back);
}

/* A new server session reads wire at once: EVP_TARGET (accepted) or EVP_ERR, with the
 * reason (128 bytes) and the drain it asked for. */
static inline int wire_serve(const evp_plugin *p, void *in_inst, const evp_buf *wire,
                             char *reason, uint32_t *drain)
{
    void *srv = p->inbound->session_new(in_inst);
    ck_assert_ptr_nonnull(srv);
    evp_buf out = {0}, back = {0};
    evp_io io = {0};
    io.in = wire->data;
    io.in_len = wire->len;
    io.out = &out;
    io.back = &back;
    int rc = p->inbound->decode(srv, &io);
    ck_assert_msg(rc == EVP_TARGET || rc == EVP_ERR, "decode said %d", rc);
    ck_assert_uint_eq(back.len, 0); /* VMess never answers before the target is open */
    snprintf(reason, 128, "%s", rc == EVP_ERR ? io.reason : "");
    *drain = io.drain;
    p->inbound->session_free(srv);
    test_buf_free(&out);
    test_buf_free(&back);
    return rc;
}

#endif
