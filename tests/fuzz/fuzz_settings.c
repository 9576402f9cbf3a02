/* Fuzz target: every protocol's settings parser (instance_new of vmess in/out, socks,
 * dokodemo-door, freedom, blackhole, socks and http out; vmess instance_update), fed only settings that pass
 * the protocol's schema, as the ABI promises (settings_json is "already schema-checked").
 * Input: byte 0 picks the protocol and side; the rest is the settings JSON. Schemas come
 * from $FUZZ_SCHEMA_DIR, else ../schema next to the binary's folder. */
#include "builtin/builtin.h"
#include "fuzz_host.h"
#include "jsonschema.h"

#include <libgen.h>
#include <limits.h>

typedef struct proto {
    const evp_plugin *(*plugin)(void);
    int inbound;
    const char *schema;
} proto;

static const proto protos[] = {
    {evp_plugin_entry, 1, "vmess-inbound"},
    {evp_plugin_entry, 0, "vmess-outbound"},
    {evp_builtin_socks, 1, "socks-inbound"},
    {evp_builtin_dokodemo, 1, "dokodemo-door-inbound"},
    {evp_builtin_freedom, 0, "freedom-outbound"},
    {evp_builtin_blackhole, 0, "blackhole-outbound"},
    {evp_builtin_socks, 0, "socks-outbound"},
    {evp_builtin_http, 0, "http-outbound"},
};
#define NPROTOS (sizeof(protos) / sizeof(protos[0]))
static evp_schema *schemas[NPROTOS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[PATH_MAX];
    const char *env = getenv("FUZZ_SCHEMA_DIR");
    (void)argc;
    if (sodium_init() < 0)
        abort();
    if (env != NULL) {
        snprintf(dir, sizeof(dir), "%s", env);
    } else {
        char self[PATH_MAX];
        snprintf(self, sizeof(self), "%s", (*argv)[0]);
        snprintf(dir, sizeof(dir), "%s/../schema", dirname(self));
    }
    for (size_t i = 0; i < NPROTOS; i++) {
        char path[PATH_MAX + 64], err[512];
        snprintf(path, sizeof(path), "%s/%s.schema.json", dir, protos[i].schema);
        schemas[i] = evp_schema_load(path, err, sizeof(err));
        if (schemas[i] == NULL) {
            fprintf(stderr, "fuzz_settings: %s (set FUZZ_SCHEMA_DIR)\n", err);
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    const proto *p = &protos[data[0] % NPROTOS];
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    json_t *j = json_loads(text, 0, NULL);
    int valid = j != NULL && evp_schema_validate(schemas[data[0] % NPROTOS], j, "", 0, NULL) == 0;
    json_decref(j);
    if (!valid) {
        free(text);
        return 0;
    }
    fuzz_host_reset();
    char err[256] = "";
    evp_instance_args a = {sizeof(a), "fuzz", text, 10086};
    const evp_plugin *pl = p->plugin();
    if (p->inbound) {
        void *inst = pl->inbound->instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (inst == NULL && err[0] == '\0')
            abort(); /* a refusal says why */
        if (inst != NULL && pl->inbound->instance_update != NULL) {
            if (pl->inbound->instance_update(inst, &a, err, sizeof(err)) != 0)
                abort(); /* what made an instance must also update it */
        }
        if (inst != NULL) {
            void *s = pl->inbound->session_new(inst);
            pl->inbound->session_free(s);
            pl->inbound->instance_free(inst);
        }
    } else {
        void *inst = pl->outbound->instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (inst == NULL && err[0] == '\0')
            abort();
        if (inst != NULL) {
            evp_addr target, dial;
            memset(&target, 0, sizeof(target));
            target.type = EVP_ADDR_DOMAIN;
            target.len = 11;
            memcpy(target.bytes, "example.com", 11);
            target.port = 443;
            void *s =
                pl->outbound->session_new(inst, &target, EVP_NET_TCP, &dial, err, sizeof(err));
            if (s != NULL) {
                if (dial.type != EVP_ADDR_NONE && dial.type != EVP_ADDR_IPV4 &&
                    dial.type != EVP_ADDR_IPV6 && dial.type != EVP_ADDR_DOMAIN)
                    abort();
                pl->outbound->session_free(s);
            }
            pl->outbound->instance_free(inst);
        }
    }
    free(text);
    return 0;
}
