/* Error line lists. */
#include "errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append(evp_errlist *e, const char *s, size_t n)
{
    char *t = realloc(e->text, e->len + n + 1);
    if (t == NULL)
        return;
    memcpy(t + e->len, s, n);
    e->len += n;
    t[e->len] = '\0';
    e->text = t;
}

void evp_errlist_add(evp_errlist *e, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = strlen(line);
    line[len++] = '\n';
    append(e, line, len);
    e->count++;
}

void evp_errlist_add_lines(evp_errlist *e, const char *lines, int count)
{
    if (lines == NULL)
        return;
    size_t n = strlen(lines);
    append(e, lines, n);
    if (n && lines[n - 1] != '\n')
        append(e, "\n", 1);
    e->count += count;
}

char *evp_errlist_take(evp_errlist *e)
{
    char *t = e->text;
    memset(e, 0, sizeof *e);
    return t;
}
