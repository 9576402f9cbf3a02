/* A shadowsocks inbound stream: salt, then chunks. The first sealed length finds the user
 * (each key is tried, as Outline's server does); a salt seen recently is refused; the first
 * chunk names the target. Any failure before the target is named drains like random bytes:
 * the host reads and drops up to the session's drain count, counted from the first byte,
 * then closes, so a prober cannot tell where the bytes went wrong. */
#include "inbound_int.h"

#include "addr.h"
#include "mem.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int reject(ss_in_session *s, evp_io *io, const char *why)
{
    const evp_host *h = s->inst->host;
    size_t seen = s->taken + io->in_len;
    s->phase = P_FAILED;
    io->consumed = io->in_len;
    io->drain = seen < s->drain ? s->drain - (uint32_t)seen : 0;
    snprintf(io->reason, sizeof io->reason, "shadowsocks: %s", why);
    if (h->log_enabled(EVP_LOG_INFO))
        h->log(EVP_LOG_INFO, "shadowsocks: rejected a handshake: %s", why);
    return EVP_ERR;
}

/* P_SALT: the salt and the first sealed length are here: find the user, check the salt. */
static int find_user(ss_in_session *s, evp_io *io)
{
    ss_in_take_users(s);
    s->user = ss_users_find_stream(s->users, io->in, io->in_len, &s->rx);
    if (s->user == NULL)
        return reject(s, io, "no user's key opens the first chunk");
    size_t salt = ss_key_size(s->user->method);
    if (s->inst->host->replay_seen(SS_SALT_SET, io->in, salt, SS_SALT_WINDOW) != 0)
        return reject(s, io, "replayed salt");
    s->phase = P_FIRST;
    return EVP_OK;
}

/* P_FIRST: opens the first chunk on a copy of the reader, to read the address; the reader
 * opens it again in the relay, dropping the address (s->skip). Returns EVP_TARGET, EVP_OK
 * (more bytes needed) or a rejection. */
static int name_target(ss_in_session *s, evp_io *io)
{
    size_t head = ss_key_size(s->user->method) + SS_LEN_CHUNK;
    size_t n = s->rx.payload_len;
    if (io->in_len - head < n + SS_TAG_SIZE)
        return EVP_OK;
    uint8_t plain[SS_PAYLOAD_MAX];
    ss_aead peek = s->rx.aead;
    int rc = ss_aead_open(&peek, plain, io->in + head, n);
    if (peek.gcm != s->rx.aead.gcm) /* a handle of its own (the reader's was idled) */
        ss_aead_idle(&peek);
    sodium_memzero(&peek, sizeof peek);
    evp_addr target;
    int alen = rc == 0 ? ss_addr_decode(&target, plain, n) : 0;
    sodium_memzero(plain, n);
    if (rc != 0)
        return reject(s, io, "bad first chunk");
    if (alen < 0)
        return reject(s, io, ss_addr_strerror(alen));
    s->skip = (uint16_t)alen;
    s->phase = P_RELAY;
    io->target = target;
    io->network = EVP_NET_TCP;
    io->consumed = head; /* the first chunk is read again by the relay */
    return EVP_TARGET;
}

/* The relay: chunks -> plaintext, the address dropped from the first. */
static int relay_decode(ss_in_session *s, evp_io *io)
{
    const char *why = "bad chunk";
    size_t before = io->out->len, used = 0;
    int rc = ss_reader_open(&s->rx, s->inst->host, io->in, io->in_len, &used, io->out, &why);
    io->consumed = used;
    if (rc == EVP_ERR)
        return ss_in_broken(s, io, why);
    if (s->skip > 0 && io->out->len - before >= s->skip) {
        uint8_t *p = io->out->data + before;
        memmove(p, p + s->skip, io->out->len - before - s->skip);
        io->out->len -= s->skip;
        s->skip = 0;
    }
    if (io->in_eof) {
        /* Shadowsocks has no end marker: the end is clean only between chunks. */
        if (used == io->in_len && ss_reader_at_boundary(&s->rx))
            return EVP_EOF;
        return ss_in_broken(s, io, "stream truncated mid-chunk");
    }
    return EVP_OK;
}

int ss_in_stream_decode(ss_in_session *s, evp_io *io)
{
    if (s->phase == P_RELAY)
        return relay_decode(s, io);
    if (s->phase == P_SALT) {
        ss_in_take_users(s);
        if (ss_users_count(s->users) == 0)
            return reject(s, io, "the inbound has no users");
        if (io->in_len >= ss_users_stream_need(s->users)) {
            int rc = find_user(s, io);
            if (rc != EVP_OK)
                return rc;
        }
    }
    if (s->phase == P_FIRST) {
        int rc = name_target(s, io);
        if (rc != EVP_OK)
            return rc;
    }
    if (io->in_eof)
        return ss_in_broken(s, io, "client closed during the handshake");
    return EVP_OK;
}

int ss_in_stream_encode(ss_in_session *s, evp_io *io)
{
    const evp_host *h = s->inst->host;
    if (!s->tx_started) {
        size_t salt = ss_key_size(s->user->method);
        uint8_t *dst = h->buf_reserve(io->out, salt);
        if (dst == NULL)
            return ss_in_broken(s, io, "out of memory");
        h->random_bytes(dst, salt);
        ss_aead_init(&s->tx, s->user->method, s->user->key, dst);
        io->out->len += salt;
        s->tx_started = 1;
    }
    if (ss_seal_chunks(&s->tx, h, io->in, io->in_len, io->out) != 0)
        return ss_in_broken(s, io, "cannot seal the response");
    io->consumed = io->in_len;
    return EVP_OK;
}
