/* Domain matchers: two open-addressing string hashes (Full, Domain) and two lists. */
#include "domain_set.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

typedef struct str_hash {
    char **slots; /* NULL: empty; power-of-two size */
    size_t size, used;
} str_hash;

struct evp_domain_set {
    str_hash full, suffix;
    char **plain;
    size_t n_plain;
    pcre2_code **regex;
    size_t n_regex;
    size_t count;
};

static uint64_t hash_of(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static int hash_has(const str_hash *h, const char *s, size_t len)
{
    if (h->size == 0)
        return 0;
    for (size_t i = hash_of(s, len) & (h->size - 1);; i = (i + 1) & (h->size - 1)) {
        const char *k = h->slots[i];
        if (k == NULL)
            return 0;
        if (strncmp(k, s, len) == 0 && k[len] == '\0')
            return 1;
    }
}

/* Places key (owned) in slots of size n, unless an equal key is there (then frees it). */
static void place(char **slots, size_t n, char *key, size_t *used)
{
    size_t i = hash_of(key, strlen(key)) & (n - 1);
    for (; slots[i]; i = (i + 1) & (n - 1))
        if (strcmp(slots[i], key) == 0) {
            free(key);
            return;
        }
    slots[i] = key;
    ++*used;
}

/* Takes key (owned): kept at most half full so probes stay short. */
static int hash_add(str_hash *h, char *key)
{
    if ((h->used + 1) * 2 > h->size) {
        size_t n = h->size ? h->size * 2 : 16, used = 0;
        char **slots = calloc(n, sizeof *slots);
        if (slots == NULL) {
            free(key);
            return -1;
        }
        for (size_t i = 0; i < h->size; i++)
            if (h->slots[i])
                place(slots, n, h->slots[i], &used);
        free(h->slots);
        h->slots = slots;
        h->size = n;
        h->used = used;
    }
    place(h->slots, h->size, key, &h->used);
    return 0;
}

static void hash_free(str_hash *h)
{
    for (size_t i = 0; i < h->size; i++)
        free(h->slots[i]);
    free(h->slots);
}

evp_domain_set *evp_domain_set_new(void)
{
    return calloc(1, sizeof(evp_domain_set));
}

void evp_domain_set_free(evp_domain_set *s)
{
    if (s == NULL)
        return;
    hash_free(&s->full);
    hash_free(&s->suffix);
    for (size_t i = 0; i < s->n_plain; i++)
        free(s->plain[i]);
    free(s->plain);
    for (size_t i = 0; i < s->n_regex; i++)
        pcre2_code_free(s->regex[i]);
    free(s->regex);
    free(s);
}

static char *lower_dup(const char *v)
{
    char *d = strdup(v);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static int add_regex(evp_domain_set *s, const char *value)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED,
                                   PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
    if (re == NULL)
        return -1;
    pcre2_code **p = realloc(s->regex, (s->n_regex + 1) * sizeof *p);
    if (p == NULL) {
        pcre2_code_free(re);
        return -1;
    }
    s->regex = p;
    s->regex[s->n_regex++] = re;
    return 0;
}

int evp_domain_set_add(evp_domain_set *s, int kind, const char *value)
{
    int rc = -1;
    if (kind == EVP_DOM_REGEX) {
        rc = add_regex(s, value);
    } else if (kind == EVP_DOM_FULL || kind == EVP_DOM_SUFFIX) {
        char *key = lower_dup(value);
        rc = key ? hash_add(kind == EVP_DOM_FULL ? &s->full : &s->suffix, key) : -1;
    } else if (kind == EVP_DOM_PLAIN) {
        char **p = realloc(s->plain, (s->n_plain + 1) * sizeof *p);
        if (p) {
            s->plain = p;
            s->plain[s->n_plain] = lower_dup(value);
            rc = s->plain[s->n_plain] ? 0 : -1;
            s->n_plain += rc == 0;
        }
    }
    s->count += rc == 0;
    return rc;
}

static int regex_has(const evp_domain_set *s, const char *name, size_t len)
{
    if (s->n_regex == 0)
        return 0;
    /* One pair is all a yes/no needs, whatever the pattern; made per call so the set stays
     * shareable between worker threads. */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int found = 0;
    for (size_t i = 0; md && !found && i < s->n_regex; i++)
        found = pcre2_match(s->regex[i], (PCRE2_SPTR)name, len, 0, 0, md, NULL) >= 0;
    pcre2_match_data_free(md);
    return found;
}

int evp_domain_set_rank(const evp_domain_set *s, const char *name, size_t len)
{
    char low[256];
    if (len >= sizeof low)
        return 0;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    if (hash_has(&s->full, low, len))
        return EVP_DOM_RANK_FULL;
    /* The name itself, then what follows each dot: "a.b.c", "b.c", "c" (longest first). */
    if (s->suffix.used) {
        for (size_t at = 0; at < len; at++) {
            if ((at == 0 || low[at - 1] == '.') && hash_has(&s->suffix, low + at, len - at))
                return EVP_DOM_RANK_SUFFIX + (int)(len - at);
        }
    }
    for (size_t i = 0; i < s->n_plain; i++)
        if (strstr(low, s->plain[i]))
            return EVP_DOM_RANK_OTHER;
    return regex_has(s, low, len) ? EVP_DOM_RANK_OTHER : 0;
}

int evp_domain_set_has(const evp_domain_set *s, const char *name, size_t len)
{
    return evp_domain_set_rank(s, name, len) != 0;
}

size_t evp_domain_set_size(const evp_domain_set *s)
{
    return s->count;
}
