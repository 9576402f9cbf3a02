/* Fuzz target: the config loader (core/config/config.c evp_config_load: JSON, schema validation of
 * the config and of each protocol's settings, ports, clientsFile, routing). The input is the
 * config text. Schemas come from ../schema and plugins (vmess.so, built by run.sh with the
 * sanitizers) from ./plugins, both next to the binary's folder.
 * Checks: a config comes back exactly when no error text does, and what it holds is sane
 * (every inbound's traffic routes to an existing outbound, port ranges ascend, settings
 * are JSON objects). */
#include "config.h"
#include "log.h"
#include "registry.h"
#include "router.h"

#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static evp_registry reg;
static char schema_dir[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char self[PATH_MAX], plugins[PATH_MAX + 16];
    (void)argc;
    snprintf(self, sizeof(self), "%s", (*argv)[0]);
    const char *dir = dirname(self);
    snprintf(schema_dir, sizeof(schema_dir), "%s/../schema", dir);
    snprintf(plugins, sizeof(plugins), "%s/plugins", dir);
    evp_log_level = EVP_LOG_NONE; /* warnings about unsupported keys would flood the output */
    if (evp_registry_init(&reg, plugins) != 0)
        abort();
    return 0;
}

/* Whether any "clientsFile" string in j names something that is not a regular file. */
static int names_special_file(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_array(j)) {
        json_array_foreach (j, i, v)
            if (names_special_file(v))
                return 1;
        return 0;
    }
    if (!json_is_object(j))
        return 0;
    json_object_foreach (j, key, v) {
        struct stat st;
        if (strcmp(key, "clientsFile") == 0 && json_is_string(v) &&
            stat(json_string_value(v), &st) == 0 && !S_ISREG(st.st_mode))
            return 1;
        if (names_special_file(v))
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* clientsFile names a file to read: keep the fuzzer away from devices that block. */
    json_t *pre = json_loads(text, 0, NULL);
    int risky = pre != NULL && names_special_file(pre);
    json_decref(pre);
    if (risky) {
        free(text);
        return 0;
    }
    char *errors = NULL;
    evp_config *c = evp_config_load(NULL, text, schema_dir, &reg, &errors);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "[fuzz] config %s:\n%s", c ? "loaded" : "refused", errors ? errors : "");
    if ((c == NULL) != (errors != NULL && errors[0] != '\0'))
        abort(); /* a failure always says why, and a success says nothing */
    if (c != NULL) {
        static const evp_addr probe[2] = {
            {.type = EVP_ADDR_IPV4, .len = 4, .port = 443, .bytes = {192, 168, 1, 2}},
            {.type = EVP_ADDR_DOMAIN, .len = 11, .port = 80, .bytes = "example.org"},
        };
        if (c->n_inbounds == 0 || c->n_outbounds == 0)
            abort();
        for (size_t i = 0; i < c->n_inbounds; i++) {
            const evp_inbound_conf *ic = &c->inbounds[i];
            if (c->router == NULL)
                abort();
            /* Whatever the rules say, a session from this inbound lands on an outbound. */
            for (int t = 0; t < 2; t++)
                if (evp_router_pick(c->router, ic->tag, &probe[t], EVP_NET_TCP) >=
                    c->n_outbounds)
                    abort();
            if (ic->port == 0 || ic->port_last < ic->port || ic->mod == NULL)
                abort();
            json_t *s = json_loads(ic->settings_json ? ic->settings_json : "{}", 0, NULL);
            if (!json_is_object(s))
                abort();
            json_decref(s);
        }
        for (size_t i = 0; i < c->n_outbounds; i++)
            if (c->outbounds[i].mod == NULL)
                abort();
        evp_config_free(c);
    }
    free(errors);
    free(text);
    return 0;
}
