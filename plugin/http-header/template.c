/* Writing a header from its template: random picks, the Date line, CRLFs. */
#include "template.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DATE_LINE_MAX 128 /* "Date: Tue, 01 Dec 2026 19:56:49 GMT" is 35 */

char *hh_concat(const evp_host *h, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = h->mem_alloc(h, la + lb + lc + 1);
    if (s != NULL) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

int hh_template_add(const evp_host *h, hh_template *t, const char *prefix, const char *const *alt,
                    size_t n, const char *suffix)
{
    size_t count = alt == NULL || n == 0 ? 1 : n;
    hh_slot *slots = h->mem_realloc(h, t->slots, (t->n + 1) * sizeof *slots);
    if (slots == NULL)
        return -1;
    t->slots = slots;
    hh_slot *s = &slots[t->n];
    s->alts = h->mem_calloc(h, count, sizeof *s->alts);
    if (s->alts == NULL)
        return -1;
    s->n = count;
    t->n++; /* from here on hh_template_free can undo it */
    size_t longest = 0;
    for (size_t i = 0; i < count; i++) {
        s->alts[i] = hh_concat(h, prefix, count == n && alt != NULL ? alt[i] : "", suffix);
        if (s->alts[i] == NULL)
            return -1;
        if (strlen(s->alts[i]) > longest)
            longest = strlen(s->alts[i]);
    }
    t->max_len += longest + 2;
    return 0;
}

static size_t pick(const evp_host *h, size_t n)
{
    if (n < 2)
        return 0;
    uint32_t r;
    h->random_bytes(&r, sizeof r);
    return r % n; /* a bias of n / 2^32: a disguise, not a secret */
}

/* "Date: Mon, 02 Jan 2006 15:04:05 GMT" (Go's http.TimeFormat) in UTC, without CRLF. Day
 * and month names spelled here: strftime's follow the locale. */
static void date_line(const evp_host *h, char out[DATE_LINE_MAX])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = (time_t)h->unix_time();
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    snprintf(out, DATE_LINE_MAX, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT",
             days[(unsigned)tm.tm_wday % 7], tm.tm_mday, months[(unsigned)tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void put(evp_buf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

int hh_template_render(const evp_host *h, const hh_template *t, evp_buf *b)
{
    if (h->buf_reserve(b, t->max_len + DATE_LINE_MAX + 4) == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const char *line = t->slots[i].alts[pick(h, t->slots[i].n)];
        put(b, line, strlen(line));
        put(b, "\r\n", 2);
    }
    if (t->add_date) {
        char date[DATE_LINE_MAX];
        date_line(h, date);
        put(b, date, strlen(date));
        put(b, "\r\n", 2);
    }
    put(b, "\r\n", 2);
    return 0;
}

void hh_template_free(const evp_host *h, hh_template *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t k = 0; k < t->slots[i].n; k++)
            h->mem_free(h, t->slots[i].alts[k]);
        h->mem_free(h, t->slots[i].alts);
    }
    h->mem_free(h, t->slots);
    t->slots = NULL;
    t->n = 0;
    t->max_len = 0;
}
