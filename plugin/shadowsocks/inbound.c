/* The shadowsocks inbound instance: its settings and user table (swapped in place by
 * updates) and the drain range of failed handshakes; the session entry points hand a
 * connection to its stream or datagram path, as the host says which it is (session_open). */
#include "inbound.h"

#include "inbound_int.h"
#include "mem.h"
#include "settings.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* The longest first chunk's end: a 32-byte salt, a sealed length, the largest payload. A
 * drain past it closes a failed handshake at the same byte count wherever it failed. */
#define FIRST_CHUNK_END (SS_KEY_MAX + SS_LEN_CHUNK + SS_PAYLOAD_MAX + SS_TAG_SIZE)

static void fail_msg(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

void ss_in_instance_unref(ss_inbound *in)
{
    if (atomic_fetch_sub(&in->refs, 1) != 1)
        return;
    ss_users_unref(in->users);
    if (in->settings != NULL)
        ss_free_wiped(in->settings, strlen(in->settings));
    pthread_mutex_destroy(&in->lock);
    ss_free_wiped(in, sizeof *in);
}

/* The table of settings json; NULL and err when they are wrong or memory is out. */
static ss_users *table_of(const char *json, char *err, size_t errlen)
{
    ss_cfg cfg;
    if (ss_inbound_cfg_parse(json, &cfg, err, errlen) != 0)
        return NULL;
    ss_users *t = ss_users_new(&cfg);
    ss_cfg_free(&cfg);
    if (t == NULL)
        fail_msg(err, errlen, "out of memory");
    return t;
}

void *ss_inbound_new(const evp_host *host, const evp_instance_args *args, char *err,
                     size_t errlen)
{
    if (!ss_host_ok(host)) {
        fail_msg(err, errlen, "shadowsocks needs a host with plugin ABI >= 1.3");
        return NULL;
    }
    ss_mem_adopt(host);
    ss_inbound *in = ss_calloc(1, sizeof *in);
    if (in == NULL || pthread_mutex_init(&in->lock, NULL) != 0) {
        ss_free(in);
        fail_msg(err, errlen, "out of memory");
        return NULL;
    }
    in->host = host;
    atomic_init(&in->refs, 1);
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    if ((in->users = table_of(json, err, errlen)) == NULL)
        goto fail;
    if ((in->settings = ss_strdup(json)) == NULL) {
        fail_msg(err, errlen, "out of memory");
        goto fail;
    }
    uint32_t r[2];
    host->random_bytes(r, sizeof r);
    in->drain_base = FIRST_CHUNK_END + r[0] % 4096; /* stable per instance */
    in->drain_span = 1 + r[1] % 64;
    return in;
fail:
    ss_in_instance_unref(in);
    return NULL;
}

void ss_inbound_free(void *inst)
{
    if (inst != NULL)
        ss_in_instance_unref(inst);
}

int ss_inbound_update(void *inst, const evp_instance_args *args, char *err, size_t errlen)
{
    ss_inbound *in = inst;
    const char *json = args->settings_json != NULL ? args->settings_json : "{}";
    ss_users *t = table_of(json, err, errlen);
    if (t == NULL)
        return -1;
    char *settings = ss_strdup(json);
    if (settings == NULL) {
        ss_users_unref(t);
        fail_msg(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&in->lock);
    ss_users *old = in->users;
    char *old_settings = in->settings;
    in->users = t;
    in->settings = settings;
    pthread_mutex_unlock(&in->lock);
    ss_users_unref(old);
    ss_free_wiped(old_settings, strlen(old_settings));
    return 0;
}

const evp_host *ss_inbound_host(void *inst)
{
    return ((ss_inbound *)inst)->host;
}

char *ss_inbound_settings(void *inst)
{
    ss_inbound *in = inst;
    pthread_mutex_lock(&in->lock);
    char *copy = ss_strdup(in->settings);
    pthread_mutex_unlock(&in->lock);
    return copy;
}

void ss_inbound_drain_range(void *inst, uint32_t *min, uint32_t *max)
{
    ss_inbound *in = inst;
    *min = in->drain_base;
    *max = in->drain_base + in->drain_span - 1;
}

/* ---- sessions ------------------------------------------------------------------------- */

void *ss_inbound_session_new(void *inst)
{
    evp_session_info info = {.size = sizeof info, .network = EVP_NET_TCP};
    return ss_inbound_session_open(inst, &info);
}

void *ss_inbound_session_open(void *inst, const evp_session_info *info)
{
    ss_inbound *in = inst;
    ss_in_session *s = ss_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->phase = info->network == EVP_NET_UDP ? P_UDP_FIRST : P_SALT;
    atomic_fetch_add(&in->refs, 1);
    s->inst = in;
    uint32_t r;
    in->host->random_bytes(&r, sizeof r);
    s->drain = in->drain_base + r % in->drain_span;
    return s;
}

void ss_inbound_session_free(void *sess)
{
    ss_in_session *s = sess;
    if (s == NULL)
        return;
    ss_inbound *in = s->inst;
    ss_aead_wipe(&s->rx.aead);
    ss_aead_wipe(&s->tx);
    ss_users_unref(s->users);
    ss_free_wiped(s, sizeof *s);
    ss_in_instance_unref(in);
}

void ss_inbound_session_idle(void *sess)
{
    ss_in_session *s = sess;
    ss_aead_idle(&s->rx.aead);
    ss_aead_idle(&s->tx);
}

uint32_t ss_inbound_session_level(void *sess)
{
    ss_in_session *s = sess;
    return s->user ? s->user->level : 0;
}

const char *ss_inbound_session_user(void *sess)
{
    ss_in_session *s = sess;
    if (s->user == NULL || s->user->email[0] == '\0')
        return NULL;
    return s->user->email;
}

void ss_in_take_users(ss_in_session *s)
{
    if (s->users != NULL)
        return;
    pthread_mutex_lock(&s->inst->lock);
    s->users = ss_users_ref(s->inst->users);
    pthread_mutex_unlock(&s->inst->lock);
}

int ss_in_broken(ss_in_session *s, evp_io *io, const char *why)
{
    s->phase = P_FAILED;
    snprintf(io->reason, sizeof io->reason, "shadowsocks: %s", why);
    return EVP_ERR;
}

int ss_inbound_decode(void *sess, evp_io *io)
{
    ss_in_session *s = sess;
    io->consumed = 0;
    switch (s->phase) {
    case P_UDP_FIRST: {
        if (io->in_len == 0)
            return EVP_OK;
        int rc;
        if (ss_in_udp_first(s, io, &rc))
            return rc;
        return ss_in_broken(s, io, "a datagram that opens with no user's key");
    }
    case P_UDP:
        return ss_in_udp_decode(s, io);
    case P_FAILED:
        return ss_in_broken(s, io, "session already failed");
    default:
        return ss_in_stream_decode(s, io);
    }
}

int ss_inbound_encode(void *sess, evp_io *io)
{
    ss_in_session *s = sess;
    io->consumed = 0;
    if (s->phase == P_UDP)
        return ss_in_udp_encode(s, io);
    if (s->phase == P_RELAY)
        return ss_in_stream_encode(s, io);
    return ss_in_broken(s, io, "no response before the request");
}
