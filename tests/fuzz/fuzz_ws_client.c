/* Fuzz target: the ws layer's client side (plugin/ws: the 101 response, then a server's
 * frames). Input: byte 0 bits 0-1 pick the settings (plain, early data in a named header,
 * early data in Sec-WebSocket-Protocol, over "tls" with a Host), bit 2 puts a valid 101 in
 * front of the rest (so frames are reached), bit 3 ends the stream after the input; byte 1
 * picks a split point; the rest is the server's stream. Runs compared as in
 * fuzz_ws_drive.h. */
#include "fuzz_ws_drive.h"

static const char *const settings[] = {
    "{\"path\":\"/ws\"}",
    "{\"path\":\"/ws\",\"maxEarlyData\":8,\"earlyDataHeaderName\":\"X-Ed\"}",
    "{\"path\":\"/ws?ed=2048\",\"maxEarlyData\":2048}",
    "{\"path\":\"/\",\"headers\":{\"Host\":\"cdn.example.com\",\"X-A\":\"b\"}}",
};

static void *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const streams[] = {"{}", "{}", "{}", "{\"security\":\"tls\"}"};
    (void)argc;
    (void)argv;
    ws_instances(instances, 4, 0, settings, streams);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    evp_addr server = {.type = EVP_ADDR_DOMAIN, .len = 11, .port = 443};
    memcpy(server.bytes, "example.com", 12);
    ws_fuzz_one(instances[data[0] & 3], &server, 1, (data[0] & 4) != 0, data + 2, size - 2,
                (data[0] & 8) != 0, data[1]);
    return 0;
}
