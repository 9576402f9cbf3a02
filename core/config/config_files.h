/* The config as V2Ray 4.34's command line names it: -config files (repeatable) and a -confdir
 * whose *.json follow them in name order, merged as V2Ray's conf.Config.Override merges. */
#ifndef EVP_CONFIG_FILES_H
#define EVP_CONFIG_FILES_H

#include "config.h"

#include <jansson.h>
#include <stddef.h>

typedef struct evp_config_files {
    char **paths;  /* -c / -config files in command-line order, owned */
    size_t n;
    char *confdir; /* -confdir, owned; NULL when not given */
} evp_config_files;

/* Appends a copy of path: 0, or -1 when out of memory. */
int evp_config_files_add(evp_config_files *f, const char *path);
void evp_config_files_free(evp_config_files *f);
/* True when nothing at all is named. */
int evp_config_files_empty(const evp_config_files *f);

/* Merges next (read from the file named name) into base as V2Ray 4.34 does: a top-level key
 * next holds replaces base's; a lone inbound/outbound replaces the one with its tag, else a
 * lone inbound is appended and a lone outbound prepended (appended when name holds "tail");
 * several replace the whole list. next is only read. */
void evp_config_override(json_t *base, const json_t *next, const char *name);

/* Loads the config: one file as always, several (or a confdir) read and merged, or the
 * embedded text when f is NULL. NULL on any error, with the lines in *errors (malloc'd). */
evp_config *evp_config_load_files(const evp_config_files *f, const char *text,
                                  const char *schema_dir, evp_registry *reg, char **errors);

#endif
