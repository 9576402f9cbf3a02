/* JSON Schema draft-07 validation on top of jansson (see jsonschema.c for what is claimed). */
#ifndef EVP_JSONSCHEMA_H
#define EVP_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

typedef struct evp_schema evp_schema;

/* Loads a draft-07 schema file; NULL and a one-line err on failure (bad JSON names line:col). */
evp_schema *evp_schema_load(const char *path, char *err, size_t errlen);
/* Wraps an already parsed schema (takes a reference). */
evp_schema *evp_schema_from_json(json_t *schema);
/* Frees s and drops its reference to the schema document; NULL is a no-op. */
void evp_schema_free(evp_schema *s);
/* Validates instance; appends at most max_errors lines "PATH: MESSAGE\n" to *errors (malloc'd,
 * caller frees, NULL when valid) where PATH is path_prefix followed by .key / [i] steps.
 * Returns the number of errors (0 when valid). */
int evp_schema_validate(const evp_schema *s, json_t *instance, const char *path_prefix,
                        int max_errors, char **errors);
/* `evproxy validate SCHEMA.json DATA.json`: 0 valid, 1 invalid (errors printed to stdout),
 * 2 when either file is not readable JSON (message names file, line and column). */
int evp_validate_main(int argc, char **argv);

#endif
