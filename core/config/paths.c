/* Plugin and schema directory lookup, relative to the executable first so that an install
 * under any PREFIX or DESTDIR finds its own files. */
#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef EVP_PREFIX
#define EVP_PREFIX "/usr/local"
#endif

static void exe_dir(char *out, size_t n)
{
    char path[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
    if (len <= 0) {
        snprintf(out, n, ".");
        return;
    }
    path[len] = '\0';
    char *slash = strrchr(path, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, n, "%s", path);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int pick(const char *override, const char *env, char *out, size_t n)
{
    const char *e = getenv(env);
    if (override && *override)
        snprintf(out, n, "%s", override);
    else if (e && *e)
        snprintf(out, n, "%s", e);
    else
        return 0;
    return 1;
}

/* The first of the executable-relative dirs in rel (NULL-ended) that holds marker, else
 * the one under EVP_PREFIX. */
static void first_dir(const char *const *rel, const char *marker, const char *under_prefix,
                      char *out, size_t n)
{
    char dir[PATH_MAX], probe[PATH_MAX + 96];
    exe_dir(dir, sizeof dir);
    for (; *rel != NULL; rel++) {
        int len = snprintf(probe, sizeof probe, "%s/%s%s", dir, *rel, marker);
        if (len > 0 && (size_t)len < sizeof probe && exists(probe)) {
            probe[len - (int)strlen(marker)] = '\0'; /* the dir itself */
            snprintf(out, n, "%s", probe);
            return;
        }
    }
    snprintf(out, n, "%s/%s", EVP_PREFIX, under_prefix);
}

void evp_plugin_dir(const char *override, char *out, size_t n)
{
    /* the build tree, then an install anywhere */
    static const char *const rel[] = {"plugins", "../lib/evproxy/plugins", NULL};
    if (!pick(override, "EVPROXY_PLUGIN_DIR", out, n))
        first_dir(rel, "", "lib/evproxy/plugins", out, n);
}

void evp_schema_dir(const char *override, char *out, size_t n)
{
    static const char *const rel[] = {"../schema", "../share/evproxy/schema", NULL};
    if (!pick(override, "EVPROXY_SCHEMA_DIR", out, n))
        first_dir(rel, "/config.schema.json", "share/evproxy/schema", out, n);
}
