/* Shared by the ws fuzz targets: one session of the ws layer fed a peer's stream whole, split
 * or a byte at a time, with what it sent up and back recorded so that runs can be compared.
 * A client session writes its request first; with `wrap` the harness puts a valid 101 (with
 * the right Sec-WebSocket-Accept) in front of the input, so that frames are reached. After
 * the input the layer above writes some bytes and ends, which must frame cleanly.
 * Header-only: each fuzz target is one translation unit. */
#ifndef FUZZ_WS_DRIVE_H
#define FUZZ_WS_DRIVE_H

#include "../../plugin/ws/b64.h"
#include "../../plugin/ws/ws_int.h"
#include "fuzz_host.h"

/* Builds n instances of the layer (server or client side) from settings and streamSettings
 * texts into inst; aborts on a refusal. */
static void ws_instances(void **inst, size_t n, int server, const char *const *settings,
                         const char *const *streams)
{
    for (size_t i = 0; i < n; i++) {
        char err[256];
        evp_transport_args a = {sizeof(a), server, "fuzz", settings[i], streams[i]};
        inst[i] = ws_transport_ops.instance_new(fuzz_host_get(), &a, err, sizeof(err));
        if (inst[i] == NULL) {
            fprintf(stderr, "ws settings %zu: %s\n", i, err);
            abort();
        }
    }
}

/* What one run saw: statuses in order, bytes up and back. */
typedef struct ws_run {
    evp_buf up, back, down;
    uint8_t status[64];
    size_t n_status;
    int last;
} ws_run;

static void ws_note(ws_run *r, int status)
{
    /* Repeated EVP_OKs depend on the split: only changes of status are compared. */
    if (status == EVP_OK || (r->n_status > 0 && r->status[r->n_status - 1] == status))
        return;
    if (r->n_status < sizeof(r->status))
        r->status[r->n_status++] = (uint8_t)(status + 1);
}

/* A client's first encode (with early bytes when its settings want them); with wrap, a 101
 * for the request it wrote goes to *prefix. */
static void ws_client_start(void *s, int wrap, evp_buf *prefix)
{
    static const uint8_t early[] = "first bytes from above";
    evp_buf req = {0}, back = {0};
    evp_io io = {.in = early, .in_len = sizeof(early) - 1, .out = &req, .back = &back};
    if (ws_transport_ops.encode(s, &io) != EVP_OK || back.len != 0)
        abort();
    const char *k = req.data ? memmem(req.data, req.len, "Sec-WebSocket-Key: ", 19) : NULL;
    if (wrap && k != NULL) {
        char accept[WS_ACCEPT_LEN + 1], head[160];
        ws_accept_for(k + 19, 24, accept);
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        uint8_t *dst = fuzz_host_buf_reserve(prefix, (size_t)n);
        memcpy(dst, head, (size_t)n);
        prefix->len += (size_t)n;
    }
    free(req.data);
    free(back.data);
}

/* Feeds prefix + data (cut at cuts, offsets into data) until the session ends or the input
 * is used up. */
static void ws_drive(void *inst, const evp_addr *peer, int client, int wrap, const uint8_t *data,
                     size_t len, int eof, const size_t *cuts, size_t ncuts, ws_run *r)
{
    memset(r, 0, sizeof(*r));
    fuzz_host_reset(); /* the same keys and masks in every run */
    void *s = ws_transport_ops.session_new(inst, peer);
    if (s == NULL)
        abort();
    evp_buf all = {0};
    if (client)
        ws_client_start(s, wrap, &all);
    size_t pre = all.len;
    uint8_t *dst = fuzz_host_buf_reserve(&all, len + 1);
    if (len)
        memcpy(dst, data, len);
    all.len += len;
    size_t total = all.len, fed = 0, held = 0, cut = 0; /* held: offered, not consumed */
    int status = EVP_OK;
    for (int rounds = 0; rounds < 100000; rounds++) {
        while (cut < ncuts && pre + cuts[cut] <= fed)
            cut++;
        size_t upto = cut < ncuts ? pre + cuts[cut] : total;
        size_t avail = held + (upto - fed);
        evp_io io = {.in = all.data + fed - held,
                     .in_len = avail,
                     .in_eof = eof && upto == total,
                     .out = &r->up,
                     .back = &r->back};
        status = ws_transport_ops.decode(s, &io);
        if (io.consumed > avail)
            abort();
        if (status == EVP_ERR && io.reason[0] == '\0')
            abort(); /* every refusal says why */
        ws_note(r, status);
        fed = upto;
        held = avail - io.consumed;
        if (status == EVP_ERR || status == EVP_EOF)
            break;
        if (status == EVP_TARGET) {
            if (client || (io.target.type != EVP_ADDR_IPV4 && io.target.type != EVP_ADDR_IPV6))
                abort();
            continue;
        }
        if (fed == total && io.consumed == 0)
            break;
    }
    if (status != EVP_ERR) {
        static const uint8_t reply[40000];
        evp_buf back = {0};
        evp_io io = {
            .in = reply, .in_len = sizeof(reply), .in_eof = 1, .out = &r->down, .back = &back};
        if (ws_transport_ops.encode(s, &io) != EVP_OK || back.len != 0)
            abort();
        free(back.data);
    }
    r->last = status;
    free(all.data);
    ws_transport_ops.session_free(s);
}

static void ws_run_free(ws_run *r)
{
    free(r->up.data);
    free(r->back.data);
    free(r->down.data);
}

static void ws_same(const ws_run *a, const ws_run *b)
{
    if (a->n_status != b->n_status || memcmp(a->status, b->status, a->n_status) != 0 ||
        a->up.len != b->up.len || (a->up.len && memcmp(a->up.data, b->up.data, a->up.len)) ||
        a->back.len != b->back.len ||
        (a->back.len && memcmp(a->back.data, b->back.data, a->back.len)))
        abort();
}

/* Runs data whole, split at one point and (when short) a byte at a time; all must agree. */
static void ws_fuzz_one(void *inst, const evp_addr *peer, int client, int wrap, const uint8_t *p,
                        size_t n, int eof, uint8_t split)
{
    size_t cut = n ? split % (n + 1) : 0;
    ws_run whole, part;
    ws_drive(inst, peer, client, wrap, p, n, eof, NULL, 0, &whole);
    ws_drive(inst, peer, client, wrap, p, n, eof, &cut, 1, &part);
    ws_same(&whole, &part);
    ws_run_free(&part);
    if (n <= 256) {
        size_t cuts[256];
        for (size_t i = 0; i < n; i++)
            cuts[i] = i + 1;
        ws_run bytes;
        ws_drive(inst, peer, client, wrap, p, n, eof, cuts, n, &bytes);
        ws_same(&whole, &bytes);
        ws_run_free(&bytes);
    }
    ws_run_free(&whole);
}

#endif
