/* Drives the shadowsocks plugin's inbound and outbound through their ABI hooks as the host
 * does (core/session/session.c): input that is not consumed is presented again with the
 * next bytes. Shared by the check_ss_*.c suites. */
#ifndef SS_FIXTURE_H
#define SS_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "../plugin/shadowsocks/inbound.h"
#include "../plugin/shadowsocks/outbound.h"
#include "evproxy/plugin.h"
#include "test_host.h"

/* One side of a connection as the host sees it. */
typedef struct ss_conn {
    void *sess;
    evp_buf pending; /* read, not consumed yet */
    evp_buf out, back;
    size_t seen;     /* bytes fed so far */
    int rc;          /* the last hook's result */
    uint32_t drain;  /* EVP_ERR: bytes the host reads before closing */
    char reason[128];
    evp_addr target; /* EVP_TARGET */
    uint8_t network;
} ss_conn;

typedef int (*ss_hook)(void *sess, evp_io *io);

/* Feeds n bytes (eof: the source ended) to hook; returns its result. */
static inline int ss_conn_run(ss_conn *c, ss_hook hook, const void *p, size_t n, int eof)
{
    uint8_t *d = test_host_buf_reserve(&c->pending, n + 1);
    ck_assert_ptr_nonnull(d);
    if (n)
        memcpy(d, p, n);
    c->pending.len += n;
    c->seen += n;
    evp_io io = {0};
    io.in = c->pending.data;
    io.in_len = c->pending.len;
    io.in_eof = eof;
    io.out = &c->out;
    io.back = &c->back;
    c->rc = hook(c->sess, &io);
    ck_assert_uint_le(io.consumed, c->pending.len);
    test_buf_consume(&c->pending, io.consumed);
    c->drain = c->rc == EVP_ERR ? io.drain : 0;
    memcpy(c->reason, io.reason, sizeof c->reason);
    if (c->rc == EVP_TARGET) {
        c->target = io.target;
        c->network = io.network;
    }
    return c->rc;
}

/* Frees c's buffers only (a second view of a session another ss_conn owns). */
static inline void ss_conn_bufs_free(ss_conn *c)
{
    test_buf_free(&c->pending);
    test_buf_free(&c->out);
    test_buf_free(&c->back);
}

static inline void ss_conn_free(ss_conn *c, void (*session_free)(void *))
{
    session_free(c->sess);
    ss_conn_bufs_free(c);
    memset(c, 0, sizeof *c);
}

/* An inbound instance on settings json (fails the test when refused). */
static inline void *ss_test_inbound(const char *json)
{
    char err[256] = "";
    evp_instance_args a = {sizeof a, "ss-in", json, 0};
    void *inst = ss_inbound_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst != NULL, "inbound: %s", err);
    return inst;
}

/* An outbound instance to 127.0.0.1:8388 with method and password. */
static inline void *ss_test_outbound(const char *method, const char *password)
{
    char json[256], err[256] = "";
    snprintf(json, sizeof json,
             "{\"servers\":[{\"address\":\"127.0.0.1\",\"port\":8388,\"method\":\"%s\","
             "\"password\":\"%s\"}]}",
             method, password);
    evp_instance_args a = {sizeof a, "ss-out", json, 0};
    void *inst = ss_outbound_new(test_host_get(), &a, err, sizeof err);
    ck_assert_msg(inst != NULL, "outbound: %s", err);
    return inst;
}

static inline evp_addr ss_test_domain(const char *name, uint16_t port)
{
    evp_addr a = {0};
    a.type = EVP_ADDR_DOMAIN;
    a.len = (uint8_t)strlen(name);
    a.port = port;
    memcpy(a.bytes, name, a.len);
    return a;
}

#endif
