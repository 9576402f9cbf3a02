/* VMess detour, outbound side: the account a server switched us to lives in the host's
 * state store under the outbound's tag and a digest of its settings (a reload that keeps
 * them keeps the account; new settings start afresh), for as long as the server said. The
 * slot only caches the account's alternative ids, which take up to 65535 MD5 chains. */
#include "detour.h"

#include "mem.h"
#include "user_id.h"

#include <sodium.h>
#include <string.h>

#define NS_OUT "vmess.detour.out"
#define FORMAT 1
/* FORMAT, uuid, alterId (BE16), level, port (BE16), address type, length, address bytes. */
enum { OUT_HEAD = 1 + 16 + 2 + 1 + 2 + 1 + 1, OUT_MAX = OUT_HEAD + 256 };

int vmess_detour_slot_init(vmess_detour_slot *s, const evp_host *h, const char *tag,
                           const char *settings_json)
{
    memset(s, 0, sizeof(*s));
    s->host = h;
    const char *t = tag != NULL ? tag : "";
    size_t n = strnlen(t, 128);
    if (n == 128)
        n = 127;
    memcpy(s->key, t, n);
    s->key[n] = '\0';
    const char *json = settings_json != NULL ? settings_json : "";
    crypto_generichash(s->key + n + 1, 16, (const uint8_t *)json, strlen(json), NULL, 0);
    s->key_len = n + 1 + 16;
    return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : -1;
}

static void cache_clear(vmess_detour_slot *s)
{
    if (s->alter_ids != NULL) {
        sodium_memzero(s->alter_ids, (size_t)s->alter_id * 16);
        vmess_free(s->alter_ids);
    }
    s->alter_ids = NULL;
    s->alter_id = 0;
    sodium_memzero(s->uuid, sizeof(s->uuid));
}

void vmess_detour_slot_destroy(vmess_detour_slot *s)
{
    cache_clear(s);
    pthread_mutex_destroy(&s->lock);
}

int vmess_detour_slot_accept(vmess_detour_slot *s, const vmess_switch_account *sa,
                             const evp_addr *from)
{
    const evp_host *h = s->host;
    if (!vmess_detour_available(h))
        return -1;
    if (sa->valid_min == 0) { /* already over */
        h->state_del(NS_OUT, s->key, s->key_len);
        return -1;
    }
    uint8_t v[OUT_MAX];
    v[0] = FORMAT;
    memcpy(v + 1, sa->uuid, 16);
    v[17] = (uint8_t)(sa->alter_id >> 8);
    v[18] = (uint8_t)sa->alter_id;
    v[19] = sa->level;
    v[20] = (uint8_t)(sa->port >> 8);
    v[21] = (uint8_t)sa->port;
    size_t n = OUT_HEAD;
    if (sa->host_len > 0) { /* a named host: dialled as a domain (IP literals resolve too) */
        v[22] = EVP_ADDR_DOMAIN;
        v[23] = sa->host_len;
        memcpy(v + OUT_HEAD, sa->host, sa->host_len);
        n += sa->host_len;
    } else { /* the server we dialled */
        v[22] = from->type;
        v[23] = from->type == EVP_ADDR_IPV4 ? 4 : from->type == EVP_ADDR_IPV6 ? 16 : from->len;
        memcpy(v + OUT_HEAD, from->bytes, v[23]);
        n += v[23];
    }
    int rc = h->state_put(NS_OUT, s->key, s->key_len, v, n, 60u * sa->valid_min, 0);
    sodium_memzero(v, sizeof(v));
    return rc == 0 ? 0 : -1;
}

/* Makes the cache hold uuid's alter_id alternative ids; 0, or -1 when out of memory. */
static int cache_fill(vmess_detour_slot *s, const uint8_t uuid[16], uint16_t alter_id)
{
    if (alter_id == s->alter_id && sodium_memcmp(uuid, s->uuid, 16) == 0 &&
        (alter_id == 0 || s->alter_ids != NULL))
        return 0;
    uint8_t(*alt)[16] = NULL;
    if (alter_id > 0) {
        alt = vmess_alloc((size_t)alter_id * 16);
        if (alt == NULL)
            return -1;
        vmess_alter_ids(alt, uuid, alter_id);
    }
    cache_clear(s);
    memcpy(s->uuid, uuid, 16);
    s->alter_id = alter_id;
    s->alter_ids = alt;
    return 0;
}

int vmess_detour_slot_pick(vmess_detour_slot *s, uint32_t r, vmess_detour_pick *pick)
{
    const evp_host *h = s->host;
    if (!vmess_detour_available(h))
        return 0;
    uint8_t v[OUT_MAX];
    long n = h->state_get(NS_OUT, s->key, s->key_len, v, sizeof(v));
    int found = n >= OUT_HEAD && n <= OUT_MAX && v[0] == FORMAT && n == OUT_HEAD + v[23];
    if (found) {
        memset(pick, 0, sizeof(*pick));
        memcpy(pick->uuid, v + 1, 16);
        pick->alter_id = (uint16_t)(v[17] << 8 | v[18]);
        pick->server.port = (uint16_t)(v[20] << 8 | v[21]);
        pick->server.type = v[22];
        pick->server.len = v[23];
        memcpy(pick->server.bytes, v + OUT_HEAD, v[23]);
        pthread_mutex_lock(&s->lock);
        found = cache_fill(s, pick->uuid, pick->alter_id) == 0;
        if (found && pick->alter_id > 0)
            memcpy(pick->id, s->alter_ids[r % pick->alter_id], 16);
        else
            memcpy(pick->id, pick->uuid, 16);
        pthread_mutex_unlock(&s->lock);
    }
    sodium_memzero(v, sizeof(v));
    return found;
}
