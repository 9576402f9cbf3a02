/* A stand-in "ws" layer for the session tests: tests/test_layers.h's frame layer (a length
 * per write, a HELLO/OK handshake, its own end marker), nothing like WebSocket. */
#include "../test_layers.h"

TL_OPS(frame_ops, tl_frame_decode, tl_frame_encode);
TL_PLUGIN(desc, "ws", frame_ops);

EVP_EXPORT const evp_plugin *evp_plugin_entry(void)
{
    return &desc;
}
