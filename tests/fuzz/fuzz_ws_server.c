/* Fuzz target: the ws layer's server side (plugin/ws: the upgrade request, early data,
 * X-Forwarded-For, then frames). Input: byte 0 bits 0-1 pick the settings, bit 2 the peer
 * (loopback, a trusted front by default, or not), bit 3 whether the stream ends (in_eof)
 * after the input; byte 1 picks a split point; the rest is the client's stream. It is
 * decoded whole, split in two and (when short) a byte at a time, and the runs must agree on
 * every status, the bytes sent up and the bytes sent back (fuzz_ws_drive.h). */
#include "fuzz_ws_drive.h"

static const char *const settings[] = {
    "{\"path\":\"/ws\"}",
    "{\"path\":\"/ws\",\"maxEarlyData\":2048,\"earlyDataHeaderName\":\"Sec-WebSocket-Protocol\"}",
    "{\"path\":\"/ws\",\"maxEarlyData\":2048,\"trustedProxies\":[]}",
    "{\"path\":\"/\",\"earlyDataHeaderName\":\"X-Ed\",\"trustedProxies\":[\"0.0.0.0/0\"]}",
};

static void *instances[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const streams[] = {"{}", "{}", "{}", "{}"};
    (void)argc;
    (void)argv;
    ws_instances(instances, 4, 1, settings, streams);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    evp_addr peer = {.type = EVP_ADDR_IPV4, .len = 4, .port = 40000};
    if (data[0] & 4)
        memcpy(peer.bytes, "\xc6\x33\x64\x09", 4); /* 198.51.100.9 */
    else
        memcpy(peer.bytes, "\x7f\x00\x00\x01", 4);
    ws_fuzz_one(instances[data[0] & 3], &peer, 0, 0, data + 2, size - 2, (data[0] & 8) != 0,
                data[1]);
    return 0;
}
