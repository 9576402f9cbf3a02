/* Levelled logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

_Atomic int evp_log_level = EVP_LOG_WARNING;

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

char *evp_log_escape(const void *text, size_t len, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = text;
    size_t o = 0;
    if (n == 0)
        return out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            if (o + 1 >= n)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 4 >= n)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

int evp_log_parse_level(const char *name)
{
    for (int i = 0; i <= EVP_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int evp_log_to_file(const char *path)
{
    /* Open first, then take fd 2 over: a file that cannot be opened leaves stderr as it was. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1)
        return -1;
    fflush(stderr);
    int rc = dup2(fd, STDERR_FILENO) == -1 ? -1 : 0;
    close(fd);
    return rc;
}
