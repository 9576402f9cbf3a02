/* The server's check of a request line and header lines, after Go's net/http readRequest
 * (request line, HTTP version, request URI, MIME header syntax), which V2Ray calls. */
#include "reader.h"

#include <stdio.h>
#include <string.h>

static int bad(char *why, size_t n, const char *what)
{
    snprintf(why, n, "%s", what);
    return HH_BAD;
}

/* Finds the blank line ending the header within HH_HEADER_MAX bytes. */
static int find_end(hh_reader *r, const uint8_t *in, size_t len, size_t *header_len)
{
    size_t limit = len < HH_HEADER_MAX ? len : HH_HEADER_MAX;
    for (size_t i = r->end_scan; i + 4 <= limit; i++) {
        if (memcmp(in + i, "\r\n\r\n", 4) == 0) {
            *header_len = i + 4;
            return HH_OK;
        }
    }
    r->end_scan = limit > 3 ? limit - 3 : 0;
    return len >= HH_HEADER_MAX ? HH_TOO_LONG : HH_MORE;
}

int hh_read_response(hh_reader *r, const uint8_t *in, size_t len, size_t *header_len)
{
    return find_end(r, in, len, header_len);
}

/* RFC 7230 tchar, as Go's validMethod wants every byte of a method. */
static int is_tchar(uint8_t c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static int hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Go's url.ParseRequestURI then URL.Path: the decoded path of a request target, into out
 * (room for n bytes). Its length, or -1 when Go refuses the target. */
static long target_path(const uint8_t *t, size_t len, uint8_t *out, size_t n)
{
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (t[i] < 0x20 || t[i] == 0x7f)
            return -1; /* "invalid control character in URL" */
    if (len == 1 && t[0] == '*') {
        out[0] = '*';
        return 1;
    }
    const uint8_t *q = memchr(t, '?', len);
    size_t end = q ? (size_t)(q - t) : len, start = 0;
    if (t[0] != '/') {
        /* An absolute URL: a scheme (a letter, then letters, digits, + - .) and ':'. */
        size_t i = 0;
        while (i < end && (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') ||
                           (i > 0 && ((t[i] >= '0' && t[i] <= '9') || strchr("+-.", t[i])))))
            i++;
        if (i == 0 || i >= end || t[i] != ':')
            return -1; /* "invalid URI for request" */
        start = i + 1;
        if (end - start < 1 || t[start] != '/')
            return 0; /* opaque ("http:x"): no path */
        if (end - start >= 2 && t[start + 1] == '/') {
            const uint8_t *slash = memchr(t + start + 2, '/', end - start - 2);
            start = slash ? (size_t)(slash - t) : end; /* past the authority */
        }
    }
    size_t o = 0;
    for (size_t i = start; i < end && o < n; i++, o++) {
        if (t[i] != '%') {
            out[o] = t[i];
            continue;
        }
        if (i + 2 >= end || hex(t[i + 1]) < 0 || hex(t[i + 2]) < 0)
            return -1; /* "invalid URL escape" */
        out[o] = (uint8_t)(hex(t[i + 1]) << 4 | hex(t[i + 2]));
        i += 2;
    }
    return (long)o;
}

static int check_request_line(hh_reader *r, const uint8_t *line, size_t len, const hh_strs *paths,
                              char *why, size_t n)
{
    const uint8_t *s1 = memchr(line, ' ', len);
    const uint8_t *s2 = s1 ? memchr(s1 + 1, ' ', len - (size_t)(s1 + 1 - line)) : NULL;
    if (s2 == NULL)
        return bad(why, n, "malformed HTTP request line");
    for (const uint8_t *p = line; p < s1; p++)
        if (!is_tchar(*p))
            return bad(why, n, "invalid method");
    const uint8_t *proto = s2 + 1;
    size_t proto_len = len - (size_t)(proto - line);
    if (s1 == line || proto_len != 8 || memcmp(proto, "HTTP/", 5) != 0 || proto[6] != '.' ||
        proto[5] < '0' || proto[5] > '9' || proto[7] < '0' || proto[7] > '9')
        return bad(why, n, s1 == line ? "invalid method" : "malformed HTTP version");
    uint8_t path[HH_HEADER_MAX];
    long plen = target_path(s1 + 1, (size_t)(s2 - s1 - 1), path, sizeof path);
    if (plen < 0)
        return bad(why, n, "invalid request URI");
    for (size_t i = 0; i < paths->n; i++)
        if (strlen(paths->v[i]) == (size_t)plen && memcmp(paths->v[i], path, (size_t)plen) == 0)
            r->path_ok = 1;
    return HH_MORE;
}

/* One line (without its line end): the request line, a header, or the blank line. */
static int check_line(hh_reader *r, const uint8_t *line, size_t len, const hh_strs *paths,
                      char *why, size_t n)
{
    if (r->lines++ == 0)
        return check_request_line(r, line, len, paths, why, n);
    if (len == 0) {
        r->body = 1;
        return HH_MORE;
    }
    if (line[0] == ' ' || line[0] == '\t')
        return r->lines == 2 ? bad(why, n, "malformed MIME header initial line") : HH_MORE;
    if (memchr(line, ':', len) == NULL)
        return bad(why, n, "malformed MIME header line");
    return HH_MORE;
}

int hh_read_request(hh_reader *r, const uint8_t *in, size_t len, const hh_strs *paths,
                    size_t *header_len, char *why, size_t n)
{
    int end = find_end(r, in, len, header_len);
    size_t limit = end == HH_OK ? *header_len : len < HH_HEADER_MAX ? len : HH_HEADER_MAX;
    /* Lines are checked as they come, so a stream that is no request is refused early, as
     * V2Ray does by parsing what it has read so far. */
    while (!r->body && r->line_start < limit) {
        const uint8_t *lf = memchr(in + r->line_start, '\n', limit - r->line_start);
        if (lf == NULL)
            break;
        size_t line_len = (size_t)(lf - in) - r->line_start;
        if (line_len > 0 && lf[-1] == '\r')
            line_len--;
        int v = check_line(r, in + r->line_start, line_len, paths, why, n);
        r->line_start = (size_t)(lf - in) + 1;
        if (v != HH_MORE)
            return v;
    }
    if (end != HH_OK)
        return end;
    return r->path_ok ? HH_OK : HH_NOT_FOUND;
}
