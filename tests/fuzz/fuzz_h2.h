/* Shared by the h2 fuzz targets (fuzz_h2_server.c, fuzz_h2_mux.c): two server instances
 * (V2Ray's defaults; host ["a.example"] and path "/p"), a client instance, and the bytes our
 * client writes first. Header-only, static. */
#ifndef FUZZ_H2_H
#define FUZZ_H2_H

#include "fuzz_transport.h"

static void *servers[2], *client;

static const evp_transport_ops *ops(void)
{
    return evp_plugin_entry()->transport;
}

static void *instance(int server, const char *json)
{
    char err[256];
    evp_transport_args a = {.size = sizeof(a),
                            .server = server,
                            .tag = "fuzz",
                            .settings_json = json,
                            .stream_json = "{}"};
    void *inst = ops()->instance_new(fuzz_host_get(), &a, err, sizeof(err));
    if (inst == NULL)
        abort();
    return inst;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    servers[0] = instance(1, "{}");
    servers[1] = instance(1, "{\"host\":[\"a.example\"],\"path\":\"/p\"}");
    client = instance(0, "{}");
    return 0;
}

/* What our client writes at connect time, with "vmess" as its first bytes. */
static void client_start(evp_buf *wire)
{
    void *s = ops()->session_new(client, NULL);
    evp_buf back = {0};
    evp_io io;
    if (s == NULL ||
        fuzz_call(ops()->encode, s, (const uint8_t *)"vmess", 5, 0, wire, &back, &io) != EVP_OK)
        abort();
    fuzz_buf_free(&back);
    ops()->session_free(s);
}

#endif
