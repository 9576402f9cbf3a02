/* Runs SIP003 mode's config builder (core/sip003/sip003.c) as vmess-plugin would be run:
 * fixed SS_* variables, the build's plugins. Shared by the check_sip003_*.c suites. */
#ifndef SIP003_FIXTURE_H
#define SIP003_FIXTURE_H

#include "sip003.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole SIP003 config for the option string opts (NULL when refused). Remote
 * 127.0.0.1:8388, local 127.0.0.1:1080. */
static inline json_t *sip003_config(const char *opts)
{
    char dir[512], *text = NULL;
    const char *build_dir = getenv("EVP_BUILD");
    snprintf(dir, sizeof dir, "%s/plugins", build_dir ? build_dir : "build");
    setenv("SS_REMOTE_HOST", "127.0.0.1", 1);
    setenv("SS_REMOTE_PORT", "8388", 1);
    setenv("SS_LOCAL_HOST", "127.0.0.1", 1);
    setenv("SS_LOCAL_PORT", "1080", 1);
    setenv("SS_PLUGIN_OPTIONS", opts, 1);
    if (evp_sip003_config(dir, &text) != 0)
        return NULL;
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(root);
    return root;
}

/* The config's first inbound or outbound (list: "inbounds" or "outbounds"); borrowed. */
static inline json_t *sip003_first(json_t *root, const char *list)
{
    return json_array_get(json_object_get(root, list), 0);
}

#endif
