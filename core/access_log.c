/* The access log's line formats and its file. V2Ray 4.34 (common/log/access.go) writes
 * "FROM STATUS TO[ [DETOUR]][ REASON][ email: EMAIL]" after Go's log stamp; Xray writes
 * "from " first, names the detour "IN >> OUT" and stamps microseconds. A rejection has an
 * empty TO, hence the two spaces before its reason in both. */
#include "access_log.h"

#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define ESCAPED_MAX 1024 /* an escaped email or reason; longer ones are cut */

int evp_access_format_parse(const char *name)
{
    if (strcmp(name, "v2ray") == 0)
        return EVP_ACCESS_V2RAY;
    if (strcmp(name, "xray") == 0)
        return EVP_ACCESS_XRAY;
    return -1;
}

/* Appends to out (n bytes) at *at; stops quietly at the end of the room. */
static void put(char *out, size_t n, size_t *at, const char *fmt, ...) EVP_PRINTF(4, 5);
static void put(char *out, size_t n, size_t *at, const char *fmt, ...)
{
    if (*at >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *at, n - *at, fmt, ap);
    va_end(ap);
    if (w > 0)
        *at += (size_t)w < n - *at ? (size_t)w : n - *at - 1;
}

static int named(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void put_detour(const evp_access_entry *e, evp_access_format f, char *out, size_t n,
                       size_t *at)
{
    if (!named(e->out_tag))
        return; /* both name the detour only for a tagged outbound */
    if (f == EVP_ACCESS_XRAY && named(e->in_tag))
        put(out, n, at, " [%s >> %s]", e->in_tag, e->out_tag);
    else
        put(out, n, at, " [%s]", e->out_tag);
}

char *evp_access_format_line(const evp_access_entry *e, evp_access_format f,
                             const struct timespec *when, char *out, size_t n)
{
    size_t at = 0;
    if (n == 0)
        return out;
    out[0] = '\0';
    struct tm tm;
    char stamp[32], text[ESCAPED_MAX];
    localtime_r(&when->tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    put(out, n, &at, "%s", stamp);
    if (f == EVP_ACCESS_XRAY)
        put(out, n, &at, ".%06ld from", when->tv_nsec / 1000);
    if (e->target) {
        put(out, n, &at, " %s accepted %s", e->from, e->target);
        put_detour(e, f, out, n, &at);
    } else {
        const char *why = e->reason ? e->reason : "";
        put(out, n, &at, " %s rejected  %s", e->from,
            evp_log_escape(why, strlen(why), text, sizeof text));
    }
    if (named(e->user))
        put(out, n, &at, " email: %s", evp_log_escape(e->user, strlen(e->user), text,
                                                      sizeof text));
    return out;
}

/* Workers write lines while the main thread reopens the file on reload. */
static pthread_mutex_t access_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *access_file;
static atomic_int access_on; /* access_file is set: a cheap test before the work */
static atomic_int access_format = EVP_ACCESS_V2RAY;

int evp_access_log_open(const char *path)
{
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&access_lock);
    FILE *old = access_file;
    access_file = f;
    atomic_store(&access_on, f != NULL);
    pthread_mutex_unlock(&access_lock);
    if (old)
        fclose(old);
    return path == NULL || f ? 0 : -1;
}

void evp_access_log_set_format(evp_access_format f)
{
    atomic_store(&access_format, (int)f);
}

void evp_access_log_write(const evp_access_entry *e)
{
    if (!atomic_load_explicit(&access_on, memory_order_relaxed))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char line[3 * ESCAPED_MAX];
    evp_access_format_line(e, (evp_access_format)atomic_load(&access_format), &now, line,
                           sizeof line);
    pthread_mutex_lock(&access_lock);
    if (access_file)
        fprintf(access_file, "%s\n", line);
    pthread_mutex_unlock(&access_lock);
}
