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

void evp_plugin_dir(const char *override, char *out, size_t n)
{
    if (pick(override, "EVPROXY_PLUGIN_DIR", out, n))
        return;
    char dir[PATH_MAX], probe[PATH_MAX + 32];
    exe_dir(dir, sizeof dir);
    snprintf(probe, sizeof probe, "%s/plugins", dir); /* the build tree */
    if (exists(probe)) {
        snprintf(out, n, "%s", probe);
        return;
    }
    snprintf(probe, sizeof probe, "%s/../lib/evproxy/plugins", dir); /* installed anywhere */
    if (exists(probe))
        snprintf(out, n, "%s", probe);
    else
        snprintf(out, n, "%s/lib/evproxy/plugins", EVP_PREFIX);
}

void evp_schema_dir(const char *override, char *out, size_t n)
{
    if (pick(override, "EVPROXY_SCHEMA_DIR", out, n))
        return;
    char dir[PATH_MAX], probe[PATH_MAX + 48];
    exe_dir(dir, sizeof dir);
    snprintf(probe, sizeof probe, "%s/../schema/config.schema.json", dir); /* the build tree */
    if (exists(probe)) {
        snprintf(out, n, "%s/../schema", dir);
        return;
    }
    snprintf(probe, sizeof probe, "%s/../share/evproxy/schema/config.schema.json", dir);
    if (exists(probe))
        snprintf(out, n, "%s/../share/evproxy/schema", dir);
    else
        snprintf(out, n, "%s/share/evproxy/schema", EVP_PREFIX);
}
