/* HTTP/1.1 heads for the upgrade (see http.h). */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

size_t ws_http_head_end(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The line at text[*pos..] without its line end: its length, *pos moved past it. */
static size_t next_line(const char *text, size_t len, size_t *pos, const char **line)
{
    size_t start = *pos, i = start;
    while (i < len && text[i] != '\n')
        i++;
    *pos = i < len ? i + 1 : len;
    size_t n = i - start;
    if (n > 0 && text[start + n - 1] == '\r')
        n--;
    *line = text + start;
    return n;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int ws_http_parse(const uint8_t *p, size_t len, ws_head *h)
{
    const char *text = (const char *)p;
    if (memchr(p, '\0', len) != NULL)
        return -1;
    size_t pos = 0;
    const char *line;
    h->text = text;
    h->len = len;
    h->first_len = next_line(text, len, &pos, &line);
    if (h->first_len == 0)
        return -1;
    for (;;) {
        size_t n = next_line(text, len, &pos, &line);
        if (n == 0)
            return 0; /* the blank line */
        size_t i = 0;
        while (i < n && is_tchar((unsigned char)line[i]))
            i++;
        if (i == 0 || i == n || line[i] != ':')
            return -1; /* a folded line, a space before ':', no name */
        for (size_t j = i + 1; j < n; j++)
            if ((unsigned char)line[j] < 0x20 && line[j] != '\t')
                return -1;
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int ws_http_next(const ws_head *h, const char *name, size_t *pos, const char **val, size_t *val_len)
{
    size_t name_len = strlen(name);
    size_t at = *pos;
    const char *line;
    if (at == 0)
        next_line(h->text, h->len, &at, &line); /* skip the first line */
    for (;;) {
        size_t n = next_line(h->text, h->len, &at, &line);
        if (n == 0) {
            *pos = at;
            return 0;
        }
        if (n > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            size_t b = name_len + 1, e = n;
            while (b < e && is_space(line[b]))
                b++;
            while (e > b && is_space(line[e - 1]))
                e--;
            *val = line + b;
            *val_len = e - b;
            *pos = at;
            return 1;
        }
    }
}

int ws_http_has_token(const ws_head *h, const char *name, const char *token)
{
    size_t pos = 0, token_len = strlen(token), n;
    const char *v;
    while (ws_http_next(h, name, &pos, &v, &n)) {
        size_t i = 0;
        while (i < n) {
            while (i < n && (is_space(v[i]) || v[i] == ','))
                i++;
            size_t b = i;
            while (i < n && v[i] != ',')
                i++;
            size_t e = i;
            while (e > b && is_space(v[e - 1]))
                e--;
            if (e - b == token_len && strncasecmp(v + b, token, token_len) == 0)
                return 1;
        }
    }
    return 0;
}

int ws_put(const evp_host *host, evp_buf *b, const void *p, size_t n)
{
    uint8_t *dst = host->buf_reserve(b, n);
    if (dst == NULL)
        return -1;
    if (n > 0)
        memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int ws_puts(const evp_host *host, evp_buf *b, const char *s)
{
    return ws_put(host, b, s, strlen(s));
}

int ws_put_header(const evp_host *host, evp_buf *b, const char *name, const char *value,
                  size_t value_len)
{
    if (ws_puts(host, b, name) != 0 || ws_put(host, b, ": ", 2) != 0 ||
        ws_put(host, b, value, value_len) != 0 || ws_put(host, b, "\r\n", 2) != 0)
        return -1;
    return 0;
}

void ws_http_date(int64_t t, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(out, 32, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT", days[(unsigned)tm.tm_wday % 7],
             (unsigned)tm.tm_mday % 100, months[(unsigned)tm.tm_mon % 12],
             (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)tm.tm_hour % 100,
             (unsigned)tm.tm_min % 100, (unsigned)tm.tm_sec % 100);
}
