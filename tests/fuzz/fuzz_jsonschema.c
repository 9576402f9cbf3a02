/* Fuzz target: the JSON Schema draft-07 validator (core/jsonschema/). Input: byte 0
 * chooses the mode (bit 0) and, for instances, the schema (bits 1-3); the rest is JSON.
 *   instance mode: the JSON is validated against one of the schema/ files;
 *   schema mode:   the JSON is a schema, validating a fixed instance (bits 1-2) and itself.
 * Checks: the result count and the error text agree, and a quiet yes/no run (max_errors 0)
 * gives the same verdict as a full one. Schemas are found in $FUZZ_SCHEMA_DIR, else in
 * ../schema next to the binary's folder (build-fuzz/../schema). */
#include "jsonschema.h"

#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
    "config",
    "vmess-inbound",
    "vmess-outbound",
    "socks-inbound",
    "dokodemo-door-inbound",
    "freedom-outbound",
    "blackhole-outbound",
    "config",
};
static evp_schema *schemas[8];
static json_t *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[PATH_MAX];
    const char *env = getenv("FUZZ_SCHEMA_DIR");
    if (env != NULL) {
        snprintf(dir, sizeof(dir), "%s", env);
    } else {
        char self[PATH_MAX];
        snprintf(self, sizeof(self), "%s", (*argv)[0]);
        snprintf(dir, sizeof(dir), "%s/../schema", dirname(self));
    }
    (void)argc;
    for (size_t i = 0; i < 8; i++) {
        char path[PATH_MAX + 64], err[512];
        snprintf(path, sizeof(path), "%s/%s.schema.json", dir, names[i]);
        schemas[i] = evp_schema_load(path, err, sizeof(err));
        if (schemas[i] == NULL) {
            fprintf(stderr, "fuzz_jsonschema: %s (set FUZZ_SCHEMA_DIR)\n", err);
            abort();
        }
    }
    char ex[PATH_MAX + 64];
    snprintf(ex, sizeof(ex), "%s/../contrib/examples/vmess-server.json", dir);
    instances[0] = json_load_file(ex, 0, NULL);
    if (instances[0] == NULL)
        instances[0] = json_object();
    instances[1] = json_loads("[1, \"a\", null, {\"k\": [true, 2.5]}, -3]", 0, NULL);
    instances[2] = json_loads("\"27848739-7e62-4138-9fd3-098a63964b6b\"", JSON_DECODE_ANY, NULL);
    instances[3] = json_loads("{\"port\": 10086, \"protocol\": \"vmess\", \"tag\": \"\"}", 0, NULL);
    return 0;
}

/* Validates and checks the two ways of asking agree. */
static void check(const evp_schema *s, json_t *inst)
{
    char *errors = NULL;
    int n = evp_schema_validate(s, inst, "fuzz", 8, &errors);
    if (n < 0 || (n == 0) != (errors == NULL))
        abort();
    if (errors != NULL) {
        size_t lines = 0;
        for (const char *p = errors; *p; p++)
            lines += *p == '\n';
        if (lines == 0 || lines > 8 || strncmp(errors, "fuzz", 4) != 0)
            abort();
    }
    /* A validation cut short by its step budget may disagree with a cheaper quiet one. */
    int cut = errors != NULL && strstr(errors, "takes too long") != NULL;
    free(errors);
    char *none = NULL;
    int quiet = evp_schema_validate(s, inst, "", 0, &none);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "[fuzz] full %d quiet %d cut %d\n", n, quiet, cut);
    if (!cut && (quiet == 0) != (n == 0))
        abort();
    free(none);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (j == NULL)
        return 0;
    if ((data[0] & 1) == 0) {
        check(schemas[(data[0] >> 1) & 7], j);
    } else if (json_is_object(j) || json_is_boolean(j)) {
        evp_schema *s = evp_schema_from_json(j);
        if (s != NULL) {
            /* One fixed instance per input keeps a slow schema within the time limit. */
            if (instances[(data[0] >> 1) & 3] != NULL)
                check(s, instances[(data[0] >> 1) & 3]);
            check(s, j);
            evp_schema_free(s);
        }
    }
    json_decref(j);
    return 0;
}
