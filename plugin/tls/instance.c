/* TLS instances: configuration swaps on reload, the ticket key, the client's resumption slot. */
#include "instance.h"

#include "mem.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TICKET_NS "tls.ticket-key"

/* True when host h offers the ABI 1.4 state store. */
static int has_state_store(const evp_host *h)
{
    return h->abi_major == 1 && h->abi_minor >= 4 &&
           h->size >= offsetof(evp_host, state_get) + sizeof(h->state_get) &&
           h->state_put != NULL && h->state_get != NULL;
}

/* The ticket key of the inbound tagged tag: kept in the host's state store so that a reload
 * (a new instance) and a plugin hot swap go on accepting the tickets already issued; made
 * afresh when the store does not have one (first start, or a host without the store). */
static void load_ticket_key(tls_instance *inst)
{
    const evp_host *h = inst->host;
    char key[EVP_STATE_KEY_MAX + 1];
    int klen = snprintf(key, sizeof key, "in:%s", inst->tag);
    size_t key_len = klen < (int)sizeof key ? (size_t)klen : sizeof key - 1;
    uint8_t fresh[TLS_TICKET_KEY_LEN];
    h->random_bytes(fresh, sizeof fresh);
    memcpy(inst->ticket_key, fresh, sizeof fresh);
    if (has_state_store(h)) {
        /* CREATE: when two instances race, both end up with the first one's key. */
        h->state_put(TICKET_NS, key, key_len, fresh, sizeof fresh, 0, EVP_STATE_CREATE);
        uint8_t kept[TLS_TICKET_KEY_LEN];
        if (h->state_get(TICKET_NS, key, key_len, kept, sizeof kept) == (long)sizeof kept)
            memcpy(inst->ticket_key, kept, sizeof kept);
        gnutls_memset(kept, 0, sizeof kept);
    }
    gnutls_memset(fresh, 0, sizeof fresh);
}

static void warn_insecure(const tls_instance *inst, const tls_conf *c)
{
    if (!c->server && c->allow_insecure)
        inst->host->log(EVP_LOG_WARNING,
                        "tls [%s]: allowInsecure: the server's certificate is not verified",
                        inst->tag);
}

void *tls_instance_new(const evp_host *host, const evp_transport_args *args, char *err,
                       size_t errlen)
{
    tls_conf *c = tls_conf_build(host, args, err, errlen);
    if (c == NULL)
        return NULL;
    tls_instance *inst = tls_calloc(host, 1, sizeof *inst);
    const char *tag = args->tag ? args->tag : "";
    char *tag_copy = tls_strndup(host, tag, strlen(tag));
    if (inst == NULL || tag_copy == NULL || pthread_mutex_init(&inst->lock, NULL) != 0) {
        snprintf(err, errlen, "tls: out of memory");
        if (tag_copy != NULL)
            tls_free(host, tag_copy);
        if (inst != NULL)
            tls_free(host, inst);
        tls_conf_unref(c);
        return NULL;
    }
    atomic_init(&inst->refs, 1);
    inst->host = host;
    inst->tag = tag_copy;
    inst->conf = c;
    if (c->server)
        load_ticket_key(inst);
    warn_insecure(inst, c);
    return inst;
}

/* Forgets the client's saved session; the lock is held. */
static void resume_clear(tls_instance *inst)
{
    if (inst->resume_name != NULL)
        tls_free(inst->host, inst->resume_name);
    inst->resume_name = NULL;
    gnutls_free(inst->resume_data.data);
    inst->resume_data.data = NULL;
    inst->resume_data.size = 0;
}

tls_instance *tls_instance_ref(tls_instance *inst)
{
    atomic_fetch_add_explicit(&inst->refs, 1, memory_order_relaxed);
    return inst;
}

void tls_instance_unref(tls_instance *inst)
{
    if (atomic_fetch_sub_explicit(&inst->refs, 1, memory_order_acq_rel) != 1)
        return;
    resume_clear(inst);
    tls_conf_unref(inst->conf);
    pthread_mutex_destroy(&inst->lock);
    gnutls_memset(inst->ticket_key, 0, sizeof inst->ticket_key);
    const evp_host *h = inst->host;
    tls_free(h, inst->tag);
    tls_free(h, inst);
}

void tls_instance_free(void *p)
{
    if (p != NULL)
        tls_instance_unref(p);
}

int tls_instance_update(void *p, const evp_transport_args *args, char *err, size_t errlen)
{
    tls_instance *inst = p;
    tls_conf *fresh = tls_conf_build(inst->host, args, err, errlen);
    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&inst->lock);
    tls_conf *old = inst->conf;
    inst->conf = fresh;
    resume_clear(inst); /* the trusted certificates may have changed */
    pthread_mutex_unlock(&inst->lock);
    if (!old->allow_insecure)
        warn_insecure(inst, fresh);
    tls_conf_unref(old); /* running sessions hold their own references */
    return 0;
}

tls_conf *tls_instance_conf(tls_instance *inst)
{
    pthread_mutex_lock(&inst->lock);
    tls_conf *c = tls_conf_ref(inst->conf);
    pthread_mutex_unlock(&inst->lock);
    return c;
}

int tls_instance_resume_load(tls_instance *inst, const char *name, gnutls_session_t gs)
{
    int used = 0;
    pthread_mutex_lock(&inst->lock);
    if (inst->resume_name != NULL && strcmp(inst->resume_name, name) == 0)
        used = gnutls_session_set_data(gs, inst->resume_data.data, inst->resume_data.size) == 0;
    pthread_mutex_unlock(&inst->lock);
    return used;
}

void tls_instance_resume_save(tls_instance *inst, const tls_conf *conf, const char *name,
                              gnutls_session_t gs)
{
    gnutls_datum_t data = {NULL, 0};
    if (gnutls_session_get_data2(gs, &data) < 0)
        return;
    char *name_copy = tls_strndup(inst->host, name, strlen(name));
    pthread_mutex_lock(&inst->lock);
    if (name_copy != NULL && inst->conf == conf) {
        resume_clear(inst);
        inst->resume_name = name_copy;
        inst->resume_data = data;
        name_copy = NULL;
        data.data = NULL;
    }
    pthread_mutex_unlock(&inst->lock);
    if (name_copy != NULL)
        tls_free(inst->host, name_copy);
    gnutls_free(data.data);
}
