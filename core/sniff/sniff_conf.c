/* An inbound's sniffing settings as V2Ray 4.34 reads them (infra/conf/v2ray.go
 * SniffingConfig): "sniffing": {"enabled", "destOverride"} with destOverride a list or a
 * comma-separated string of "http", "tls" (or "https", "ssl"), any case; without "sniffing",
 * the older "domainOverride" list turns sniffing on for its protocols. */
#include "sniff_conf.h"

#include "sniff.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One destOverride name: its bit, 0 for one read and ignored, -1 for one V2Ray refuses. */
static int protocol_bit(const char *name, size_t len, const char *where, const char *key)
{
    static const struct {
        const char *name;
        int bit;
    } known[] = {{"http", EVP_SNIFF_HTTP}, {"tls", EVP_SNIFF_TLS}, {"https", EVP_SNIFF_TLS},
                 {"ssl", EVP_SNIFF_TLS},  {"fakedns", 0},          {"quic", 0}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strlen(known[i].name) != len || strncasecmp(name, known[i].name, len) != 0)
            continue;
        /* Newer V2Ray and Xray names: a config written for them still runs. */
        if (known[i].bit == 0)
            evp_warn("%s.%s: \"%.*s\" is not sniffed by evproxy (nor by V2Ray 4.34); ignored",
                     where, key, (int)len, name);
        return known[i].bit;
    }
    return -1;
}

/* Adds the bits of one name; -1 with err for an unknown one. */
static int add_name(const char *name, size_t len, const char *where, const char *key,
                    uint8_t *bits, char *err, size_t errlen)
{
    int bit = protocol_bit(name, len, where, key);
    if (bit < 0) {
        snprintf(err, errlen, "%s.%s: unknown protocol \"%.*s\" (http, tls, https, ssl)", where,
                 key, (int)(len > 64 ? 64 : len), name);
        return -1;
    }
    *bits |= (uint8_t)bit;
    return 0;
}

static int read_list(const json_t *list, const char *where, const char *key, uint8_t *bits,
                     char *err, size_t errlen)
{
    const char *s = json_string_value(list);
    if (s != NULL) { /* V2Ray's StringList: "http,tls" */
        for (const char *p = s;; p++) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (add_name(p, len, where, key, bits, err, errlen) != 0)
                return -1;
            if (comma == NULL)
                return 0;
            p = comma;
        }
    }
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        s = json_string_value(v);
        if (s == NULL || add_name(s, strlen(s), where, key, bits, err, errlen) != 0) {
            if (s == NULL)
                snprintf(err, errlen, "%s.%s[%zu]: not a string", where, key, i);
            return -1;
        }
    }
    return 0;
}

int evp_sniff_conf(const json_t *inbound, const char *where, uint8_t *bits, char *err,
                   size_t errlen)
{
    const json_t *sniffing = json_object_get(inbound, "sniffing");
    const json_t *legacy = json_object_get(inbound, "domainOverride");
    *bits = 0;
    if (json_is_object(sniffing)) {
        char at[96];
        snprintf(at, sizeof at, "%s.sniffing", where);
        if (read_list(json_object_get(sniffing, "destOverride"), at, "destOverride", bits, err,
                      errlen) != 0)
            return -1;
        if (json_is_true(json_object_get(sniffing, "enabled")))
            *bits |= EVP_SNIFF_ON;
        else
            *bits = 0;
        return 0;
    }
    if (legacy == NULL || json_is_null(legacy))
        return 0;
    if (read_list(legacy, where, "domainOverride", bits, err, errlen) != 0)
        return -1;
    if (*bits)
        *bits |= EVP_SNIFF_ON; /* GetEffectiveSniffingSettings: on for a non-empty list */
    return 0;
}
