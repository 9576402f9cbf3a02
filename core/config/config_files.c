/* -config / -confdir: several V2Ray config files read and merged into one, as V2Ray 4.34's
 * main/json loader does (v2ray-core infra/conf/v2ray.go Config.Override). */
#include "config_files.h"
#include "errlist.h"
#include "json_comments.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int evp_config_files_add(evp_config_files *f, const char *path)
{
    char **grown = realloc(f->paths, (f->n + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    f->paths = grown;
    if ((f->paths[f->n] = strdup(path)) == NULL)
        return -1;
    f->n++;
    return 0;
}

void evp_config_files_free(evp_config_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->confdir);
    memset(f, 0, sizeof *f);
}

int evp_config_files_empty(const evp_config_files *f)
{
    return f->n == 0 && f->confdir == NULL;
}

/* The index of the entry of list whose "tag" equals tag's (an absent tag is ""), or -1. */
static long find_tag(const json_t *list, const json_t *entry)
{
    const char *want = json_string_value(json_object_get(entry, "tag"));
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *tag = json_string_value(json_object_get(json_array_get(list, i), "tag"));
        if (strcmp(tag ? tag : "", want ? want : "") == 0)
            return (long)i;
    }
    return -1;
}

/* V2Ray compares tags even when both are empty: an untagged lone entry replaces the first
 * untagged one, as there. */
static void override_list(json_t *base, const json_t *next, const char *key, int prepend)
{
    json_t *mine = json_object_get(base, key);
    const json_t *theirs = json_object_get(next, key);
    if (!json_is_array(theirs) || json_array_size(theirs) == 0)
        return;
    if (!json_is_array(mine) || json_array_size(mine) == 0 || json_array_size(theirs) != 1) {
        json_object_set_new(base, key, json_deep_copy(theirs));
        return;
    }
    json_t *entry = json_deep_copy(json_array_get(theirs, 0));
    long at = find_tag(mine, entry);
    if (at >= 0)
        json_array_set_new(mine, (size_t)at, entry);
    else if (prepend)
        json_array_insert_new(mine, 0, entry);
    else
        json_array_append_new(mine, entry);
}

void evp_config_override(json_t *base, const json_t *next, const char *name)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)next, key, value) {
        if (json_is_null(value) || strcmp(key, "inbounds") == 0 || strcmp(key, "outbounds") == 0)
            continue;
        json_object_set_new(base, key, json_deep_copy(value));
    }
    override_list(base, next, "inbounds", 0);
    /* V2Ray lowercases the whole name it was given, directories included. */
    override_list(base, next, "outbounds", strcasestr(name, "tail") == NULL);
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_json_name(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return len >= 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

/* Reads one file and merges it into *merged (the first file becomes it): 0, or -1. */
static int merge_file(json_t **merged, const char *path, evp_errlist *errs)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        evp_errlist_add(errs, "%s: not a regular file", path);
        return -1;
    }
    json_error_t je;
    json_t *root = evp_json_load_commented(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        evp_errlist_add(errs, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        evp_errlist_add(errs, "%s: the config must be a JSON object", path);
        json_decref(root);
        return -1;
    }
    if (*merged == NULL) {
        *merged = root;
        return 0;
    }
    evp_config_override(*merged, root, path);
    json_decref(root);
    return 0;
}

/* The confdir's *.json in name order, after the -config files, as V2Ray's readConfDir. A
 * missing confdir is skipped with a warning, as V2Ray skips it. */
static int merge_dir(json_t **merged, const char *dir, evp_errlist *errs)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_json_name, byte_order);
    if (n < 0) {
        fprintf(stderr, "evproxy: -confdir %s: not read, skipped: %m\n", dir);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (rc == 0 && merge_file(merged, path, errs) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

evp_config *evp_config_load_files(const evp_config_files *f, const char *text,
                                  const char *schema_dir, evp_registry *reg, char **errors)
{
    if (f == NULL || (f->n == 1 && f->confdir == NULL))
        return evp_config_load(f ? f->paths[0] : NULL, text, schema_dir, reg, errors);
    evp_errlist errs = {0};
    json_t *merged = NULL;
    for (size_t i = 0; i < f->n && errs.count == 0; i++)
        merge_file(&merged, f->paths[i], &errs);
    if (errs.count == 0 && f->confdir)
        merge_dir(&merged, f->confdir, &errs);
    if (errs.count == 0 && merged == NULL)
        evp_errlist_add(&errs, "%s: no *.json in the config dir and no -config", f->confdir);
    char *joined = errs.count ? NULL : json_dumps(merged, JSON_COMPACT);
    json_decref(merged);
    if (joined == NULL) {
        if (errs.count == 0)
            evp_errlist_add(&errs, "config: out of memory");
        *errors = evp_errlist_take(&errs);
        return NULL;
    }
    evp_config *c = evp_config_load(NULL, joined, schema_dir, reg, errors);
    free(joined);
    return c;
}
