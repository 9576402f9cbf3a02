/* HTTP/1.x proxy request heads: the grammar pieces a forward proxy needs (RFC 9112), no more. */
#include "http_request.h"
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

long evp_http_head_end(const uint8_t *p, size_t n, size_t max)
{
    size_t limit = n < max ? n : max;
    for (size_t i = 0; i < limit; i++) {
        if (p[i] != '\n')
            continue;
        /* a line end followed by an empty line (LF or CRLF) */
        if (i + 1 < n && p[i + 1] == '\n')
            return (long)(i + 2);
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return (long)(i + 3);
    }
    return n >= max ? -1 : 0;
}

/* The line starting at *pos in p[0..len), its end (LF, and a CR before it) excluded;
 * *pos moves past the LF. 0 when no line is left. */
static int next_line(const char *p, size_t len, size_t *pos, evp_http_span *line)
{
    if (*pos >= len)
        return 0;
    const char *start = p + *pos, *lf = memchr(start, '\n', len - *pos);
    size_t n = lf ? (size_t)(lf - start) : len - *pos;
    *pos += n + (lf != NULL);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    line->p = start;
    line->len = n;
    return 1;
}

/* Splits off the word before the first space of *rest; -1 when there is none or it is empty. */
static int word(evp_http_span *rest, evp_http_span *w)
{
    const char *sp = memchr(rest->p, ' ', rest->len);
    if (sp == NULL || sp == rest->p)
        return -1;
    w->p = rest->p;
    w->len = (size_t)(sp - rest->p);
    rest->p = sp + 1;
    rest->len -= w->len + 1;
    return 0;
}

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int evp_http_head_parse(const char *p, size_t len, evp_http_head *h)
{
    size_t pos = 0;
    evp_http_span line, rest;
    if (!next_line(p, len, &pos, &line))
        return -1;
    rest = line;
    if (word(&rest, &h->method) != 0 || word(&rest, &h->target) != 0)
        return -1;
    h->version = rest;
    if (h->version.len != 8 || memcmp(h->version.p, "HTTP/1.", 7) != 0 ||
        (h->version.p[7] != '0' && h->version.p[7] != '1'))
        return -1;
    for (size_t i = 0; i < h->method.len; i++)
        if (!is_token_char(h->method.p[i]))
            return -1;
    for (size_t i = 0; i < h->target.len; i++)
        if ((unsigned char)h->target.p[i] <= ' ' || h->target.p[i] == 0x7f)
            return -1;
    h->fields.p = p + pos;
    h->fields.len = 0;
    size_t start = pos;
    while (next_line(p, len, &pos, &line) && line.len > 0) {
        const char *colon = memchr(line.p, ':', line.len);
        if (colon == NULL || colon == line.p)
            return -1;
        for (const char *c = line.p; c < colon; c++)
            if (!is_token_char(*c))
                return -1;
        h->fields.len = pos - start;
    }
    return 0;
}

/* Header lines of h one by one: name and value (blanks trimmed). */
static int next_field(const evp_http_head *h, size_t *pos, evp_http_span *name,
                      evp_http_span *value)
{
    evp_http_span line;
    if (!next_line(h->fields.p, h->fields.len, pos, &line) || line.len == 0)
        return 0;
    const char *colon = memchr(line.p, ':', line.len);
    name->p = line.p;
    name->len = (size_t)(colon - line.p);
    value->p = colon + 1;
    value->len = line.len - name->len - 1;
    while (value->len > 0 && (value->p[0] == ' ' || value->p[0] == '\t')) {
        value->p++;
        value->len--;
    }
    while (value->len > 0 && (value->p[value->len - 1] == ' ' || value->p[value->len - 1] == '\t'))
        value->len--;
    return 1;
}

static int span_is(evp_http_span s, const char *name)
{
    return s.len == strlen(name) && strncasecmp(s.p, name, s.len) == 0;
}

int evp_http_head_get(const evp_http_head *h, const char *name, evp_http_span *value)
{
    size_t pos = 0;
    evp_http_span n;
    while (next_field(h, &pos, &n, value))
        if (span_is(n, name))
            return 1;
    return 0;
}

int evp_http_authority(evp_http_span authority, uint16_t default_port, evp_addr *a)
{
    char host[262];
    const char *end = authority.p + authority.len, *colon = NULL;
    if (authority.len == 0 || authority.len >= sizeof host)
        return -1;
    if (authority.p[0] == '[') {
        const char *close = memchr(authority.p, ']', authority.len);
        if (close == NULL)
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else {
        colon = memchr(authority.p, ':', authority.len);
    }
    size_t hlen = colon ? (size_t)(colon - authority.p) : authority.len;
    memcpy(host, authority.p, hlen);
    host[hlen] = '\0';
    unsigned long port = default_port;
    if (colon && colon + 1 < end) { /* "host:" keeps the default, as Go's SplitHostPort */
        port = 0;
        for (const char *c = colon + 1; c < end; c++) {
            if (*c < '0' || *c > '9' || port > 65535)
                return -1;
            port = port * 10 + (unsigned long)(*c - '0');
        }
    }
    if (port < 1 || port > 65535 || evp_builtin_host_addr(a, host) != 0)
        return -1;
    a->port = (uint16_t)port;
    return 0;
}

int evp_http_absolute(evp_http_span target, evp_http_span *authority, evp_http_span *origin,
                      uint16_t *default_port)
{
    size_t skip;
    if (target.len >= 7 && strncasecmp(target.p, "http://", 7) == 0) {
        skip = 7;
        *default_port = 80;
    } else if (target.len >= 8 && strncasecmp(target.p, "https://", 8) == 0) {
        skip = 8;
        *default_port = 443;
    } else {
        return -1;
    }
    authority->p = target.p + skip;
    authority->len = target.len - skip;
    const char *slash = memchr(authority->p, '/', authority->len);
    const char *query = memchr(authority->p, '?', authority->len);
    if (query && (slash == NULL || query < slash))
        slash = query;
    if (slash) {
        authority->len = (size_t)(slash - authority->p);
        origin->p = slash;
        origin->len = target.len - skip - authority->len;
    } else {
        origin->p = "/";
        origin->len = 1;
    }
    /* userinfo ("user:pass@host") is not sent on: the authority starts after it */
    const char *at = memchr(authority->p, '@', authority->len);
    if (at) {
        authority->len -= (size_t)(at + 1 - authority->p);
        authority->p = at + 1;
    }
    return authority->len > 0 ? 0 : -1;
}

/* True when name is listed in the Connection header value list. */
static int named_by_connection(const evp_http_head *h, evp_http_span name)
{
    size_t pos = 0;
    evp_http_span n, v;
    while (next_field(h, &pos, &n, &v)) {
        if (!span_is(n, "Connection"))
            continue;
        while (v.len > 0) {
            const char *comma = memchr(v.p, ',', v.len);
            evp_http_span item = {v.p, comma ? (size_t)(comma - v.p) : v.len};
            v.len -= item.len + (comma != NULL);
            v.p += item.len + (comma != NULL);
            while (item.len > 0 && item.p[0] == ' ') {
                item.p++;
                item.len--;
            }
            while (item.len > 0 && item.p[item.len - 1] == ' ')
                item.len--;
            if (item.len == name.len && strncasecmp(item.p, name.p, name.len) == 0)
                return 1;
        }
    }
    return 0;
}

static int hop_by_hop(const evp_http_head *h, evp_http_span name)
{
    static const char *const names[] = {"Host", "Connection", "Keep-Alive", "TE", "Trailer",
                                        "Trailers", "Transfer-Encoding", "Upgrade"};
    if (name.len >= 6 && strncasecmp(name.p, "Proxy-", 6) == 0)
        return 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (span_is(name, names[i]))
            return 1;
    return named_by_connection(h, name);
}

/* Appends len bytes at p to out[*at..cap); -1 when they do not fit. */
static int emit(char *out, size_t cap, size_t *at, const char *p, size_t len)
{
    if (len > cap - *at)
        return -1;
    memcpy(out + *at, p, len);
    *at += len;
    return 0;
}

size_t evp_http_origin_head(const evp_http_head *h, evp_http_span origin, evp_http_span host,
                            char *out, size_t cap)
{
    size_t at = 0, pos = 0;
    evp_http_span n, v;
    int bad = emit(out, cap, &at, h->method.p, h->method.len) | emit(out, cap, &at, " ", 1) |
              emit(out, cap, &at, origin.p, origin.len) | emit(out, cap, &at, " ", 1) |
              emit(out, cap, &at, h->version.p, h->version.len) |
              emit(out, cap, &at, "\r\nHost: ", 8) | emit(out, cap, &at, host.p, host.len) |
              emit(out, cap, &at, "\r\n", 2);
    while (!bad && next_field(h, &pos, &n, &v)) {
        if (hop_by_hop(h, n))
            continue;
        bad = emit(out, cap, &at, n.p, n.len) | emit(out, cap, &at, ": ", 2) |
              emit(out, cap, &at, v.p, v.len) | emit(out, cap, &at, "\r\n", 2);
    }
    bad |= emit(out, cap, &at, "Connection: close\r\n\r\n", 21);
    return bad ? 0 : at;
}
