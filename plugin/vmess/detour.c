/* VMess detour: the inbound registry by tag and the outbound's switched account. */
#include "detour.h"

#include "mem.h"
#include "user_id.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Instances come and go on reload while sessions of other instances look them up. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static vmess_detour_node *registry;

void vmess_detour_register(vmess_detour_node *node, const char *tag, void *owner,
                           vmess_detour_account_fn account)
{
    size_t n = strlen(tag);
    if (n >= sizeof(node->tag))
        n = sizeof(node->tag) - 1;
    memcpy(node->tag, tag, n);
    node->tag[n] = '\0';
    node->owner = owner;
    node->account = account;
    pthread_mutex_lock(&registry_lock);
    node->next = registry;
    registry = node;
    pthread_mutex_unlock(&registry_lock);
}

void vmess_detour_unregister(vmess_detour_node *node)
{
    pthread_mutex_lock(&registry_lock);
    for (vmess_detour_node **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == node) {
            *p = node->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    node->next = NULL;
}

int vmess_detour_switch(const char *to, const char *email, vmess_switch_account *sa)
{
    int rc = -1;
    memset(sa, 0, sizeof(*sa));
    pthread_mutex_lock(&registry_lock);
    /* The newest instance with the tag wins: after a reload it is the live one. */
    for (vmess_detour_node *n = registry; n != NULL; n = n->next) {
        if (strcmp(n->tag, to) == 0) {
            rc = n->account(n->owner, email, sa);
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

int vmess_detour_slot_init(vmess_detour_slot *s)
{
    memset(s, 0, sizeof(*s));
    return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : -1;
}

static void slot_clear(vmess_detour_slot *s)
{
    if (s->alter_ids != NULL) {
        sodium_memzero(s->alter_ids, (size_t)s->alter_id * 16);
        vmess_free(s->alter_ids);
    }
    s->alter_ids = NULL;
    sodium_memzero(s->uuid, sizeof(s->uuid));
    s->valid = 0;
}

void vmess_detour_slot_destroy(vmess_detour_slot *s)
{
    slot_clear(s);
    pthread_mutex_destroy(&s->lock);
}

int vmess_detour_slot_accept(vmess_detour_slot *s, const vmess_switch_account *sa,
                             const evp_addr *from, double now)
{
    /* The alternative ids are derived outside the lock: up to 65535 MD5 chains. */
    uint8_t(*alt)[16] = NULL;
    if (sa->alter_id > 0) {
        alt = vmess_alloc((size_t)sa->alter_id * 16);
        if (alt == NULL)
            return -1;
        vmess_alter_ids(alt, sa->uuid, sa->alter_id);
    }
    evp_addr server = *from;
    if (sa->host_len > 0) {
        /* A named host: dial it as a domain (the host resolves IP literals too). */
        memset(&server, 0, sizeof(server));
        server.type = EVP_ADDR_DOMAIN;
        server.len = sa->host_len;
        memcpy(server.bytes, sa->host, sa->host_len);
    }
    server.port = sa->port;
    pthread_mutex_lock(&s->lock);
    slot_clear(s);
    s->server = server;
    memcpy(s->uuid, sa->uuid, 16);
    s->alter_id = sa->alter_id;
    s->level = sa->level;
    s->alter_ids = alt;
    s->until = now + 60.0 * sa->valid_min;
    s->valid = 1;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int vmess_detour_slot_pick(vmess_detour_slot *s, double now, uint32_t r, vmess_detour_pick *pick)
{
    int found = 0;
    pthread_mutex_lock(&s->lock);
    if (s->valid && now >= s->until)
        slot_clear(s);
    if (s->valid) {
        pick->server = s->server;
        memcpy(pick->uuid, s->uuid, 16);
        pick->alter_id = s->alter_id;
        if (s->alter_id > 0)
            memcpy(pick->id, s->alter_ids[r % s->alter_id], 16);
        else
            memcpy(pick->id, s->uuid, 16);
        found = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}
