/* The exposition writer: nothing here knows what the numbers mean. */
#include "prom_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for need more bytes and the NUL; 0, or -1 with t failed. */
static int reserve(evp_text *t, size_t need)
{
    if (t->failed)
        return -1;
    if (t->len + need + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + need + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (p == NULL) {
        t->failed = 1;
        return -1;
    }
    t->p = p;
    t->cap = cap;
    return 0;
}

void evp_text_add(evp_text *t, const char *s, size_t len)
{
    if (reserve(t, len) != 0)
        return;
    memcpy(t->p + t->len, s, len);
    t->len += len;
    t->p[t->len] = '\0';
}

void evp_text_printf(evp_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(t, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *evp_text_take(evp_text *t)
{
    char *p = t->failed ? NULL : t->p;
    if (t->failed)
        free(t->p);
    else if (p == NULL)
        p = calloc(1, 1); /* nothing written: an empty text */
    memset(t, 0, sizeof *t);
    return p;
}

/* Appends v, each byte found in special replaced by its entry in the parallel table. */
static void add_escaped(evp_text *t, const char *v, const char *special,
                        const char *const *replacement)
{
    while (*v) {
        size_t plain = strcspn(v, special);
        evp_text_add(t, v, plain);
        v += plain;
        if (*v == '\0')
            break;
        const char *r = replacement[strchr(special, *v) - special];
        evp_text_add(t, r, strlen(r));
        v++;
    }
}

void evp_prom_label_value(evp_text *t, const char *v)
{
    static const char *const as[] = {"\\\\", "\\\"", "\\n"};
    add_escaped(t, v, "\\\"\n", as);
}

void evp_prom_family(evp_text *t, const char *name, const char *type, const char *help)
{
    evp_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void evp_prom_sample(evp_text *t, const char *name, const char *const *labels, uint64_t value)
{
    evp_text_printf(t, "%s", name);
    for (size_t i = 0; labels && labels[i]; i += 2) {
        evp_text_printf(t, "%s%s=\"", i ? "," : "{", labels[i]);
        evp_prom_label_value(t, labels[i + 1] ? labels[i + 1] : "");
        evp_text_add(t, "\"", 1);
    }
    evp_text_printf(t, "%s %llu\n", labels && labels[0] ? "}" : "", (unsigned long long)value);
}

void evp_html_text(evp_text *t, const char *v)
{
    static const char *const as[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    add_escaped(t, v, "&<>\"'", as);
}

void evp_text_bytes(evp_text *t, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        evp_text_printf(t, "%llu B", (unsigned long long)n);
    else
        evp_text_printf(t, "%.1f %s", v, units[u]);
}
