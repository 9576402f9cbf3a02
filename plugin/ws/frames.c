/* WebSocket frames through libwslay's event API (see frames.h): wslay parses, checks
 * (masking, reserved bits, opcodes, fragmentation, control frame sizes, UTF-8 in text and
 * Close), answers pings and Closes; these callbacks only move bytes. */
#include "frames.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    ws_frames *f = user;
    size_t left = f->in_len - f->in_off;
    if (left == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = left < len ? left : len;
    memcpy(buf, f->in + f->in_off, n);
    f->in_off += n;
    return (ssize_t)n;
}

/* Appends n bytes to b; -1 when out of memory (remembered in f->oom). */
static int append(ws_frames *f, evp_buf *b, const uint8_t *p, size_t n)
{
    uint8_t *dst = f->host->buf_reserve(b, n);
    if (dst == NULL) {
        f->oom = 1;
        return -1;
    }
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    ws_frames *f = user;
    if (f->down == NULL || append(f, f->down, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    ws_frames *f = user;
    f->host->random_bytes(buf, len);
    return 0;
}

static int is_data(uint8_t opcode)
{
    return opcode == WSLAY_CONTINUATION_FRAME || opcode == WSLAY_TEXT_FRAME ||
           opcode == WSLAY_BINARY_FRAME;
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    ws_frames *f = user;
    f->in_frame = arg->payload_length > 0;
    f->in_data = is_data(arg->opcode);
    if (f->in_data)
        f->in_msg = !arg->fin;
}

/* Payload of data frames goes up as it comes; wslay answers control frames itself. */
static void on_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    ws_frames *f = user;
    if (f->in_data && f->up != NULL && arg->data_length > 0)
        append(f, f->up, arg->data, arg->data_length);
}

static void on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    ws_frames *f = user;
    f->in_frame = 0;
}

int ws_frames_open(ws_frames *f, const evp_host *host, int server)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = on_recv,
        .send_callback = on_send,
        .genmask_callback = on_genmask,
        .on_frame_recv_start_callback = on_frame_start,
        .on_frame_recv_chunk_callback = on_frame_chunk,
        .on_frame_recv_end_callback = on_frame_end,
    };
    memset(f, 0, sizeof(*f));
    f->host = host;
    int r = server ? wslay_event_context_server_init(&f->ctx, &cbs, f)
                   : wslay_event_context_client_init(&f->ctx, &cbs, f);
    if (r != 0) {
        f->ctx = NULL;
        return -1;
    }
    /* A stream, not messages: payload goes up frame by frame, never held whole. */
    wslay_event_config_set_no_buffering(f->ctx, 1);
    return 0;
}

void ws_frames_close(ws_frames *f)
{
    if (f->ctx != NULL)
        wslay_event_context_free(f->ctx);
    f->ctx = NULL;
}

/* Sends what wslay queued (pongs, Closes, data) to out; 0 or -1. */
static int flush(ws_frames *f, evp_buf *out)
{
    f->down = out;
    int r = wslay_event_send(f->ctx);
    f->down = NULL;
    return r == 0 && !f->oom ? 0 : -1;
}

int ws_fail(evp_io *io, const char *fmt, ...)
{
    static const char prefix[] = "websocket: ";
    memcpy(io->reason, prefix, sizeof(prefix));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->reason + sizeof(prefix) - 1, sizeof(io->reason) - sizeof(prefix) + 1, fmt, ap);
    va_end(ap);
    return EVP_ERR;
}

/* Why wslay stopped reading without a Close from the peer: the Close it sent says. */
static const char *why_refused(ws_frames *f)
{
    switch (wslay_event_get_status_code_sent(f->ctx)) {
    case WSLAY_CODE_MESSAGE_TOO_BIG:
        return "frame too big";
    case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
        return "bad frame: invalid UTF-8 in a text or Close frame";
    default:
        /* wslay does not say which: its checks are the RFC's, all of them */
        return "bad frame: masking (unmasked from a client, masked from a server), reserved "
               "bits, opcode or fragmentation";
    }
}

int ws_frames_decode(ws_frames *f, evp_io *io)
{
    f->in = io->in;
    f->in_len = io->in_len;
    f->in_off = io->consumed;
    f->up = io->out;
    int r = wslay_event_recv(f->ctx);
    f->up = NULL;
    io->consumed = f->in_off;
    if (f->oom)
        return ws_fail(io, "out of memory");
    if (r != 0) {
        flush(f, io->back);
        return ws_fail(io, "%s", r == WSLAY_ERR_NOMEM ? "out of memory"
                                            : "bad frame: a control frame fragmented or over "
                                              "125 bytes, or a length not minimal");
    }
    int closed = wslay_event_get_close_received(f->ctx);
    int refused = !closed && !wslay_event_get_read_enabled(f->ctx);
    /* Pongs, the Close reply (once: wslay queues none after its own), a refusal's Close. */
    if (flush(f, io->back) != 0)
        return ws_fail(io, "out of memory");
    if (refused)
        return ws_fail(io, "%s", why_refused(f));
    if (closed) {
        io->consumed = io->in_len; /* nothing may follow a Close */
        return EVP_EOF;
    }
    if (io->in_eof && io->consumed == io->in_len) {
        if (f->in_frame || f->in_msg)
            return ws_fail(io, "the stream ended inside a frame");
        return EVP_EOF; /* ended without a Close, as many peers do */
    }
    return EVP_OK;
}

int ws_frames_send_close(ws_frames *f, evp_buf *out)
{
    int r = wslay_event_queue_close(f->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    if (r != 0 && r != WSLAY_ERR_NO_MORE_MSG)
        return -1;
    return flush(f, out);
}

int ws_frames_encode(ws_frames *f, evp_io *io)
{
    while (io->consumed < io->in_len) {
        size_t n = io->in_len - io->consumed;
        struct wslay_event_msg msg = {
            .opcode = WSLAY_BINARY_FRAME,
            .msg = io->in + io->consumed,
            .msg_length = n < WS_FRAME_MAX ? n : WS_FRAME_MAX,
        };
        int r = wslay_event_queue_msg(f->ctx, &msg);
        if (r == WSLAY_ERR_NO_MORE_MSG) {
            /* A Close went: nothing more may be sent, and the peer reads nothing more. */
            io->consumed = io->in_len;
            break;
        }
        if (r != 0 || flush(f, io->out) != 0)
            return ws_fail(io, "out of memory");
        io->consumed += msg.msg_length;
    }
    if (io->in_eof && ws_frames_send_close(f, io->out) != 0)
        return ws_fail(io, "out of memory");
    return EVP_OK;
}
