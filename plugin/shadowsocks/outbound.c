/* The shadowsocks outbound (see outbound.h). */
#include "outbound.h"

#include "addr.h"
#include "mem.h"
#include "packet.h"
#include "settings.h"
#include "stream.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct ss_server {
    evp_addr addr;
    uint8_t method;
    uint8_t key[SS_KEY_MAX];
} ss_server;

typedef struct ss_outbound {
    const evp_host *host;
    atomic_uint next; /* the server the next session dials */
    size_t n;
    ss_server servers[];
} ss_outbound;

typedef struct ss_out_session {
    const evp_host *host;
    ss_server server; /* a copy: the instance may go first */
    evp_addr target;
    uint8_t udp;
    uint8_t tx_started;
    uint8_t rx_started;
    ss_aead tx;
    ss_reader rx;
} ss_out_session;

void *ss_outbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                      size_t errlen)
{
    if (!ss_host_ok(host)) {
        snprintf(err, errlen, "shadowsocks needs a host with plugin ABI >= 1.3");
        return NULL;
    }
    ss_mem_adopt(host);
    ss_cfg cfg;
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if (ss_outbound_cfg_parse(json, &cfg, err, errlen) != 0)
        return NULL;
    ss_outbound *out = ss_calloc(1, sizeof *out + cfg.n * sizeof(ss_server));
    if (out == NULL) {
        ss_cfg_free(&cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    out->host = host;
    out->n = cfg.n;
    for (size_t i = 0; i < cfg.n; i++) {
        const ss_user_cfg *c = &cfg.users[i];
        out->servers[i].addr = c->server;
        out->servers[i].method = c->method;
        ss_password_key(c->method, c->password, strlen(c->password), out->servers[i].key);
    }
    ss_cfg_free(&cfg);
    return out;
}

void ss_outbound_free(void *inst)
{
    ss_outbound *out = inst;
    if (out != NULL)
        ss_free_wiped(out, sizeof *out + out->n * sizeof(ss_server));
}

void *ss_outbound_session_new(void *inst, const evp_addr *target, uint8_t network,
                              evp_addr *dial, char *err, size_t errlen)
{
    ss_outbound *out = inst;
    uint8_t probe[SS_ADDR_MAX];
    if (ss_addr_encode(target, probe) < 0) {
        snprintf(err, errlen, "shadowsocks: no target address to send");
        return NULL;
    }
    ss_out_session *s = ss_calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = out->host;
    s->server = out->servers[atomic_fetch_add(&out->next, 1) % out->n];
    s->target = *target;
    s->udp = network == EVP_NET_UDP;
    *dial = s->server.addr;
    return s;
}

void ss_outbound_session_free(void *sess)
{
    ss_out_session *s = sess;
    if (s == NULL)
        return;
    ss_aead_wipe(&s->tx);
    ss_aead_wipe(&s->rx.aead);
    ss_free_wiped(s, sizeof *s);
}

void ss_outbound_session_idle(void *sess)
{
    ss_out_session *s = sess;
    ss_aead_idle(&s->tx);
    ss_aead_idle(&s->rx.aead);
}

static int failed(evp_io *io, const char *why)
{
    snprintf(io->reason, sizeof io->reason, "shadowsocks: %s", why);
    return EVP_ERR;
}

/* The salt, then the first chunk: the target's address and as much payload as fits. */
static int start_stream(ss_out_session *s, evp_io *io)
{
    const evp_host *h = s->host;
    size_t salt = ss_key_size(s->server.method);
    uint8_t first[SS_PAYLOAD_MAX];
    int alen = ss_addr_encode(&s->target, first);
    size_t take = io->in_len < SS_PAYLOAD_MAX - (size_t)alen ? io->in_len
                                                             : SS_PAYLOAD_MAX - (size_t)alen;
    if (take) /* the first encode may come with no bytes (the host's 100 ms wait ran out) */
        memcpy(first + alen, io->in, take);
    uint8_t *dst = h->buf_reserve(io->out, salt);
    int rc = -1;
    if (dst != NULL) {
        h->random_bytes(dst, salt);
        ss_aead_init(&s->tx, s->server.method, s->server.key, dst);
        io->out->len += salt;
        rc = ss_seal_chunks(&s->tx, h, first, (size_t)alen + take, io->out);
    }
    sodium_memzero(first, (size_t)alen + take);
    io->consumed = take;
    s->tx_started = 1;
    return rc;
}

static int udp_encode(ss_out_session *s, evp_io *io)
{
    size_t off = 0, n;
    const uint8_t *d;
    while (ss_record_next(io->in, io->in_len, &off, &d, &n)) {
        if (ss_packet_seal(s->host, s->server.method, s->server.key, &s->target, d, n,
                           io->out) < 0)
            return failed(io, "out of memory");
        io->consumed = off;
    }
    return EVP_OK;
}

int ss_outbound_encode(void *sess, evp_io *io)
{
    ss_out_session *s = sess;
    io->consumed = 0;
    if (s->udp)
        return udp_encode(s, io);
    if (!s->tx_started && start_stream(s, io) != 0)
        return failed(io, "cannot seal the request");
    size_t rest = io->in_len - io->consumed;
    if (ss_seal_chunks(&s->tx, s->host, io->in + io->consumed, rest, io->out) != 0)
        return failed(io, "cannot seal the request");
    io->consumed = io->in_len;
    return EVP_OK;
}

static int udp_decode(ss_out_session *s, evp_io *io)
{
    size_t off = 0, n;
    const uint8_t *d;
    while (ss_record_next(io->in, io->in_len, &off, &d, &n)) {
        uint8_t *plain = ss_alloc(n ? n : 1);
        if (plain == NULL)
            return failed(io, "out of memory");
        long len = ss_packet_open(s->server.method, s->server.key, d, n, plain);
        evp_addr from;
        int alen = len >= 0 ? ss_addr_decode(&from, plain, (size_t)len) : -1;
        int rc = 0;
        if (alen >= 0) /* else a forged or damaged datagram: dropped */
            rc = ss_record_put(s->host, io->out, plain + alen, (size_t)len - (size_t)alen);
        ss_free_wiped(plain, n ? n : 1);
        if (rc != 0)
            return failed(io, "out of memory");
        io->consumed = off;
    }
    return EVP_OK;
}

int ss_outbound_decode(void *sess, evp_io *io)
{
    ss_out_session *s = sess;
    io->consumed = 0;
    if (s->udp)
        return udp_decode(s, io);
    size_t off = 0;
    if (!s->rx_started) {
        size_t salt = ss_key_size(s->server.method);
        if (io->in_len < salt)
            return io->in_eof ? failed(io, "server closed before its salt") : EVP_OK;
        ss_aead_init(&s->rx.aead, s->server.method, s->server.key, io->in);
        s->rx_started = 1;
        off = salt;
    }
    const char *why = "bad chunk";
    size_t used = 0;
    int rc = ss_reader_open(&s->rx, s->host, io->in + off, io->in_len - off, &used, io->out,
                            &why);
    io->consumed = off + used;
    if (rc == EVP_ERR)
        return failed(io, why);
    if (io->in_eof) {
        if (io->consumed == io->in_len && ss_reader_at_boundary(&s->rx))
            return EVP_EOF;
        return failed(io, "stream truncated mid-chunk");
    }
    return EVP_OK;
}
