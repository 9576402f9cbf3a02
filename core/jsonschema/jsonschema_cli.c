/* `evproxy validate SCHEMA.json DATA.json`: checks any JSON document against a schema. */
#include "jsonschema.h"

#include <stdio.h>
#include <stdlib.h>

#define CLI_MAX_ERRORS 100

int evp_validate_main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: evproxy validate SCHEMA.json DATA.json\n");
        return 2;
    }
    char err[512];
    evp_schema *s = evp_schema_load(argv[1], err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    json_error_t je;
    json_t *data = json_load_file(argv[2], JSON_DECODE_ANY, &je);
    if (data == NULL) {
        if (je.line > 0)
            fprintf(stderr, "%s:%d:%d: %s\n", argv[2], je.line, je.column, je.text);
        else
            fprintf(stderr, "%s: %s\n", argv[2], je.text);
        evp_schema_free(s);
        return 2;
    }
    char *errors = NULL;
    int n = evp_schema_validate(s, data, "", CLI_MAX_ERRORS, &errors);
    if (n > 0)
        fputs(errors ? errors : "(root): invalid\n", stdout);
    free(errors);
    json_decref(data);
    evp_schema_free(s);
    return n > 0 ? 1 : 0;
}
