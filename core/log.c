/* Levelled logging to stderr. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/* Workers write lines while the main thread reopens the file on reload. */
static pthread_mutex_t access_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *access_file;
static atomic_int access_on; /* access_file is set: a cheap test before the work */

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

void evp_access_log(const char *from, const char *target, const char *in, const char *out,
                    const char *user)
{
    if (!atomic_load_explicit(&access_on, memory_order_relaxed))
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    char email[1024] = "";
    if (user)
        evp_log_escape(user, strlen(user), email, sizeof email);
    pthread_mutex_lock(&access_lock);
    if (access_file)
        fprintf(access_file, "%s %s accepted %s [%s -> %s]%s%s\n", stamp, from, target, in,
                out, user ? " email: " : "", email);
    pthread_mutex_unlock(&access_lock);
}
