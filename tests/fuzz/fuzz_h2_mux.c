/* Fuzz target: the "h2" layer's server side as a multiplexer (plugin/h2/server_mux.c, ABI 1.7
 * evp_mux_ops, nghttp2 underneath): each request a sub-stream. Input: byte 0 chooses
 *   bits 0-5  the piece size (1..64) of a second run, which must agree with the first;
 *   bit 6     a server with host ["a.example"] and path "/p" instead of V2Ray's defaults;
 *   bit 7     two requests of our own client's go in front (preface, SETTINGS, PUTs), so the
 *             fuzzer starts with streams open.
 * The rest is what a client sent. Each NEW is answered at once with "pong" and an End, as a
 * host whose sessions reply would; the requests opened and the bytes they carried are the same
 * however the input is split, no event names an id that was not opened, and none carries a
 * target. */
#include "fuzz_h2.h"

typedef struct mux_run {
    int status;
    size_t news, datas, ends;
    evp_buf data; /* every DATA's bytes, in order */
    uint32_t opened[256];
    size_t n_opened;
    evp_buf back; /* what went to the client */
} mux_run;

static const evp_mux_ops *mux(void)
{
    return evp_plugin_entry()->mux;
}

static int opened(const mux_run *r, uint32_t id)
{
    for (size_t i = 0; i < r->n_opened; i++)
        if (r->opened[i] == id)
            return 1;
    return 0;
}

/* One event as a host takes it; answers a NEW with "pong" and End. */
static void take(void *conn, const evp_mux_event *ev, mux_run *r)
{
    evp_mux_event reply;
    if (ev->kind == EVP_MUX_NONE)
        return;
    if (ev->target.type != EVP_ADDR_NONE || ev->len > mux()->max_data * 16)
        abort();
    if (ev->kind == EVP_MUX_NEW) {
        if (opened(r, ev->id) || r->n_opened == sizeof r->opened / sizeof r->opened[0])
            abort();
        r->opened[r->n_opened++] = ev->id;
        r->news++;
        memset(&reply, 0, sizeof reply);
        reply.kind = EVP_MUX_DATA;
        reply.id = ev->id;
        reply.data = (const uint8_t *)"pong";
        reply.len = 4;
        if (mux()->encode(conn, &reply, &r->back) != EVP_OK)
            return;
        reply.kind = EVP_MUX_END;
        reply.len = 0;
        mux()->encode(conn, &reply, &r->back);
        return;
    }
    if (!opened(r, ev->id))
        abort();
    if (ev->kind == EVP_MUX_DATA) {
        r->datas++;
        if (ev->len && fuzz_buf_put(&r->data, ev->data, ev->len) != 0)
            abort();
    } else {
        r->ends++;
    }
}

static void run(void *inst, const uint8_t *in, size_t len, size_t piece, mux_run *r)
{
    memset(r, 0, sizeof *r);
    void *conn = mux()->conn_new(inst, 1);
    if (conn == NULL)
        abort();
    evp_buf held = {0};
    size_t at = 0;
    r->status = EVP_OK;
    while (r->status == EVP_OK && (at < len || held.len)) {
        size_t n = piece == 0 || len - at < piece ? len - at : piece;
        if (n && fuzz_buf_put(&held, in + at, n) != 0)
            abort();
        at += n;
        for (;;) {
            evp_io io;
            evp_mux_event ev;
            memset(&io, 0, sizeof io);
            io.in = held.data;
            io.in_len = held.len;
            io.in_eof = at == len;
            io.back = &r->back;
            r->status = mux()->decode(conn, &io, &ev);
            if (r->status != EVP_OK)
                break;
            if (io.consumed > held.len)
                abort();
            take(conn, &ev, r);
            fuzz_buf_consume(&held, io.consumed);
            if (io.consumed == 0 && ev.kind == EVP_MUX_NONE)
                break;
        }
        if (at == len)
            break;
    }
    fuzz_buf_free(&held);
    mux()->conn_free(conn);
}

static void run_free(mux_run *r)
{
    fuzz_buf_free(&r->data);
    fuzz_buf_free(&r->back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_host_reset();
    size_t piece = (size_t)(data[0] & 63) + 1;
    void *inst = servers[(data[0] >> 6) & 1];
    evp_buf input = {0};
    if (data[0] & 128)
        client_start(&input);
    if (fuzz_buf_put(&input, data + 1, size - 1) != 0)
        abort();
    mux_run whole, split;
    run(inst, input.data, input.len, 0, &whole);
    run(inst, input.data, input.len, piece, &split);
    /* nghttp2 reads a whole input at once: a run that failed stops where its piece did, so
     * only runs that both went through are compared event for event. */
    if (whole.status == EVP_OK && split.status == EVP_OK &&
        (whole.news != split.news || whole.data.len != split.data.len ||
         (whole.data.len && memcmp(whole.data.data, split.data.data, whole.data.len) != 0)))
        abort();
    run_free(&whole);
    run_free(&split);
    fuzz_buf_free(&input);
    return 0;
}
