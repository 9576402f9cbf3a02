/* The HTTP sniffer, reading a request as V2Ray 4.34 does (common/protocol/http/sniff.go):
 * the stream must start with a method V2Ray knows (get post head put delete options connect,
 * any case); then every line after the first, up to the first empty one, is a header, and the
 * last "host:" one names the domain (lower-cased, its port checked and dropped). The lines are
 * V2Ray's: split at '\n' only, so a CRLF's blank line is "\r", not empty, and a last line with
 * no '\n' yet counts too. The same bytes give V2Ray's answer, so the same routing. */
#include "sniff.h"

#include <string.h>
#include <strings.h>

static const char *const methods[] = {"get", "post", "head", "put", "delete", "options",
                                      "connect"};

/* V2Ray tries the methods in this order and has no clue at the first one longer than n. */
static int begins_with_method(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        size_t m = strlen(methods[i]);
        if (n < m)
            return EVP_SNIFF_NO_CLUE;
        if (strncasecmp((const char *)p, methods[i], m) == 0)
            return EVP_SNIFF_FOUND;
    }
    return EVP_SNIFF_NOT;
}

static int is_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Go's strconv underscoreOK: '_' only between digits (a base prefix counts as one). */
static int underscores_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    int hex = 0;
    if (n >= 2 && s[0] == '0' && strchr("box", lower(s[1])) != NULL) {
        i = 2;
        saw = '0';
        hex = lower(s[1]) == 'x';
    }
    for (; i < n; i++) {
        int c = lower(s[i]);
        if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
            saw = '0';
        } else if (c == '_') {
            if (saw != '0')
                return 0;
            saw = '_';
        } else {
            if (saw == '_')
                return 0;
            saw = '!';
        }
    }
    return saw != '_';
}

/* Go's strconv.ParseUint(s, 0, 16) succeeds: "80", "0x50", "0o120", "0120", "8_0". */
static int port_parses(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    unsigned base = 10, v = 0;
    int underscores = 0;
    if (n == 0)
        return 0;
    if (p[0] == '0') {
        int c = n >= 3 ? lower(p[1]) : 0;
        base = c == 'b' ? 2 : c == 'x' ? 16 : 8;
        p += c == 'b' || c == 'o' || c == 'x' ? 2 : 1;
    }
    for (; p < end; p++) {
        int c = lower(*p);
        unsigned d;
        if (c == '_') {
            underscores = 1;
            continue;
        }
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'z')
            d = (unsigned)(c - 'a' + 10);
        else
            return 0;
        if (d >= base || (v = v * base + d) > 65535)
            return 0;
    }
    return !underscores || underscores_ok(s, n);
}

/* Go's net.SplitHostPort as V2Ray's ParseHost takes it: sets the host part; -1 for an
 * error other than "missing port" (then the sniff fails), else 0. */
static int host_of(const char *s, size_t n, const char **host, size_t *hlen)
{
    const char *colon = memrchr(s, ':', n);
    size_t k = 0; /* where ']' may no longer appear */
    *host = s;
    *hlen = n;
    if (colon == NULL)
        return 0; /* missing port: the whole is the host */
    size_t i = (size_t)(colon - s);
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return -1;
        size_t end = (size_t)(close - s);
        if (end + 1 == n)
            return 0; /* "[::1]": missing port */
        if (end + 1 != i)
            return s[end + 1] == ':' ? -1 : 0; /* too many colons / missing port */
        *host = s + 1;
        *hlen = end - 1;
        k = end + 1;
        if (memchr(s + 1, '[', n - 1) != NULL)
            return -1;
    } else {
        *hlen = i;
        if (memchr(s, ':', i) != NULL || memchr(s, '[', n) != NULL)
            return -1; /* too many colons, or a stray '[' */
    }
    if (memchr(s + k, ']', n - k) != NULL)
        return -1;
    return port_parses(s + i + 1, n - i - 1) || i + 1 == n ? 0 : -1;
}

/* One "host:" value: trimmed and lower-cased as V2Ray does, its port checked. */
static int take_host(const uint8_t *v, size_t n, evp_sniffed *out)
{
    char raw[sizeof out->domain];
    while (n > 0 && is_space(v[0]))
        v++, n--;
    while (n > 0 && is_space(v[n - 1]))
        n--;
    /* No name is that long; a NUL inside would cut it short for the resolver, so that it
     * were routed as one name and dialled as another (found by fuzz_sniff). */
    if (n >= sizeof raw || memchr(v, '\0', n) != NULL)
        return EVP_SNIFF_NOT;
    out->len = 0;
    out->domain[0] = '\0'; /* an empty one clears an earlier one, as in V2Ray */
    if (n == 0)
        return EVP_SNIFF_FOUND;
    for (size_t i = 0; i < n; i++)
        raw[i] = (char)lower(v[i]);
    const char *host;
    size_t hlen;
    if (host_of(raw, n, &host, &hlen) != 0)
        return EVP_SNIFF_NOT;
    /* net.ParseAddress trims spaces left inside ("a :80"); it strips "[...]" around a host
     * with no port, but V2Ray's String() writes an IPv6 address in brackets again: the domain
     * keeps what came, which reads as the same address (ip_literal.h). */
    while (hlen > 0 && is_space((uint8_t)host[0]))
        host++, hlen--;
    while (hlen > 0 && is_space((uint8_t)host[hlen - 1]))
        hlen--;
    memmove(out->domain, host, hlen);
    out->domain[hlen] = '\0';
    out->len = hlen;
    return EVP_SNIFF_FOUND;
}

int evp_sniff_http(const uint8_t *p, size_t n, evp_sniffed *out)
{
    int r = begins_with_method(p, n);
    if (r != EVP_SNIFF_FOUND)
        return r;
    memset(out, 0, sizeof *out);
    out->protocol = "http1";
    out->override_bit = EVP_SNIFF_HTTP;
    const uint8_t *line = memchr(p, '\n', n), *end = p + n;
    while (line != NULL) {
        line++; /* the first line (the request line) is not a header */
        const uint8_t *next = memchr(line, '\n', (size_t)(end - line));
        size_t len = (size_t)((next ? next : end) - line);
        if (len == 0)
            break;
        const uint8_t *colon = memchr(line, ':', len);
        if (colon && colon - line == 4 && strncasecmp((const char *)line, "host", 4) == 0 &&
            take_host(colon + 1, len - 5, out) != EVP_SNIFF_FOUND)
            return EVP_SNIFF_NOT;
        line = next;
    }
    return out->len > 0 ? EVP_SNIFF_FOUND : EVP_SNIFF_NO_CLUE;
}
