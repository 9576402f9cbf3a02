/* Fuzz target: the SIP003 option parser (core/sip003/sip003.c evp_sip003_parse_options) and the
 * config built from SS_* variables. Input: byte 0 bit 0 asks for the config too (bit 1:
 * server side); the rest is the SS_PLUGIN_OPTIONS string (cut at its first NUL).
 * Checks: every pair has a key; re-escaping the pairs and parsing again gives them back;
 * the config text, when built, is JSON whose "log.loglevel" is the option's. */
#include "sip003.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAIRS 32

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("SS_REMOTE_HOST", "127.0.0.1", 1);
    setenv("SS_REMOTE_PORT", "10086", 1);
    setenv("SS_LOCAL_HOST", "127.0.0.1", 1);
    setenv("SS_LOCAL_PORT", "1080", 1);
    return 0;
}

/* Appends s with '\', ';' and '=' escaped. */
static size_t escape(char *out, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\\' || *s == ';' || *s == '=')
            out[n++] = '\\';
        out[n++] = *s;
    }
    return n;
}

static void round_trip(char **keys, char **values, int n, size_t len)
{
    char *again = malloc(2 * len + 2 * (size_t)n + 1);
    if (again == NULL)
        return;
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (keys[i] == NULL || values[i] == NULL || keys[i][0] == '\0')
            abort(); /* every pair has a key */
        k += escape(again + k, keys[i]);
        if (values[i][0] != '\0' || strchr(keys[i], '=') != NULL) {
            again[k++] = '=';
            k += escape(again + k, values[i]);
        }
        again[k++] = ';';
    }
    again[k] = '\0';
    char *k2[MAX_PAIRS], *v2[MAX_PAIRS];
    int m = evp_sip003_parse_options(again, k2, v2, MAX_PAIRS);
    if (m != n)
        abort();
    for (int i = 0; i < m; i++)
        if (strcmp(k2[i], keys[i]) != 0 || strcmp(v2[i], values[i]) != 0)
            abort();
    evp_sip003_free_options(k2, v2, m);
    free(again);
}

static void build_config(const char *options, int server, char **keys, char **values, int n)
{
    const char *level = NULL;
    for (int i = 0; i < n; i++) {
        /* chain starts a child process at attach and binds a port now: not here. */
        if (strcmp(keys[i], "chain") == 0 || strcmp(keys[i], "chain_opts") == 0)
            return;
        if (strcmp(keys[i], "loglevel") == 0 && level == NULL)
            level = values[i]; /* the first one counts */
    }
    char full[64 + 4096];
    snprintf(full, sizeof(full), "%s%s", server ? "server;" : "", options);
    setenv("SS_PLUGIN_OPTIONS", full, 1);
    char *text = NULL;
    /* It complains on stderr about bad options: keep the fuzzer's output readable. */
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    /* The vmess plugin turns its options into settings (ABI 1.2 sip003_settings). */
    const char *dir = getenv("EVP_FUZZ_PLUGIN_DIR");
    int rc = evp_sip003_config(dir ? dir : "build/plugins", &text);
    fclose(stderr);
    stderr = saved;
    if (rc != 0) {
        if (text != NULL)
            abort(); /* no half-built text on failure */
        return;
    }
    json_t *j = json_loads(text, 0, NULL);
    if (j == NULL)
        abort(); /* the config we build must be JSON */
    const char *got = json_string_value(json_object_get(json_object_get(j, "log"), "loglevel"));
    if (got == NULL || (level != NULL && strcmp(got, level) != 0))
        abort();
    json_decref(j);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *s = malloc(size);
    if (s == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t len = strlen(s);
    char *keys[MAX_PAIRS], *values[MAX_PAIRS];
    int n = evp_sip003_parse_options(s, keys, values, MAX_PAIRS);
    if (n < -1 || n > MAX_PAIRS)
        abort();
    if (n >= 0) {
        round_trip(keys, values, n, len);
        if (data[0] & 1)
            build_config(s, (data[0] & 2) != 0, keys, values, n);
        evp_sip003_free_options(keys, values, n);
    }
    free(s);
    return 0;
}
