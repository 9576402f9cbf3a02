/* Levelled logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int evp_log_level = EVP_LOG_WARNING;

static const char *const level_names[] = {"none", "error", "warning", "info", "debug"};

int evp_log_enabled(int level)
{
    return level > EVP_LOG_NONE && level <= evp_log_level;
}

void evp_log(int level, const char *fmt, ...)
{
    if (!evp_log_enabled(level))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    /* One fprintf per line so concurrent writers (workers) do not interleave mid-line. */
    fprintf(stderr, "%s [%s] %s\n", stamp, level_names[level], line);
}

int evp_log_parse_level(const char *name)
{
    for (int i = 0; i <= EVP_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}
