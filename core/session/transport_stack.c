/* A connection's transport layers: the queues between them and the two passes (decode up,
 * encode down). See transport_stack.h. */
#include "transport_stack.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tlayer {
    const evp_transport_ops *ops;
    void *sess;
    const char *name;
    evp_qbuf up;   /* from below, waiting for decode (layer 0's: the socket's bytes) */
    evp_qbuf down; /* from above, waiting for encode (the top layer reads the caller's wbuf) */
    uint8_t up_eof;    /* the layer below (or the socket) ended */
    uint8_t up_done;   /* decode saw the end: never called again */
    uint8_t down_eof;  /* the layer above ended */
    uint8_t down_done; /* encode wrote this layer's end: never called again */
    uint8_t conn;      /* EVP_TR_CONN: read on after its end; it says when it has ended */
    uint8_t lingering; /* conn: decode returned EVP_EOF, passed up; still reading */
} tlayer;

struct evp_tstack {
    int server;
    size_t n;
    size_t failed; /* 1 + the index of the layer that returned EVP_ERR, 0 while none did */
    uint8_t top_eof, down_ended, has_peer;
    evp_addr peer;        /* the client's address a server layer named (EVP_TARGET) */
    evp_qbuf raw_out;     /* for the socket */
    evp_buf scratch;      /* an encode's `back`: nothing goes up from an encode */
    uint32_t drain;
    char reason[128];
    tlayer l[];
};

evp_tstack *evp_tstack_new(const evp_transports *t, const evp_addr *peer)
{
    return evp_tstack_new_n(t, t->n, peer);
}

evp_tstack *evp_tstack_new_n(const evp_transports *t, size_t n, const evp_addr *peer)
{
    evp_tstack *st = calloc(1, sizeof *st + n * sizeof st->l[0]);
    if (st == NULL)
        return NULL;
    st->server = t->server;
    for (; st->n < n; st->n++) {
        tlayer *L = &st->l[st->n];
        L->ops = evp_module_trops(t->layer[st->n].mod);
        L->name = t->layer[st->n].mod->desc->name;
        L->conn = L->ops->size >= offsetof(evp_transport_ops, flags) + sizeof L->ops->flags &&
                  (L->ops->flags & EVP_TR_CONN);
        L->sess = L->ops->session_new(t->layer[st->n].inst, peer);
        if (L->sess == NULL) {
            evp_tstack_free(st);
            return NULL;
        }
    }
    return st;
}

void evp_tstack_free(evp_tstack *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        st->l[i].ops->session_free(st->l[i].sess);
        evp_qbuf_free(&st->l[i].up);
        evp_qbuf_free(&st->l[i].down);
    }
    evp_qbuf_free(&st->raw_out);
    evp_buf_free(&st->scratch);
    free(st);
}

evp_qbuf *evp_tstack_raw_in(evp_tstack *st)
{
    return &st->l[0].up;
}

evp_qbuf *evp_tstack_raw_out(evp_tstack *st)
{
    return &st->raw_out;
}

void evp_tstack_raw_eof(evp_tstack *st)
{
    st->l[0].up_eof = 1;
}

/* Runs one hook on in's waiting bytes (taking what it consumed), appending to out. */
static int run(int (*fn)(void *, evp_io *), void *sess, evp_qbuf *in, int eof, evp_qbuf *out,
               evp_buf *back, evp_io *io)
{
    size_t len = evp_qbuf_len(in);
    if (len > 0)
        evp_qbuf_room(out, len + len / 64 + 1024); /* a failure shows in the hook's reserve */
    memset(io, 0, sizeof *io);
    io->in = evp_qbuf_head(in);
    io->in_len = len;
    io->in_eof = eof;
    io->out = &out->b;
    io->back = back;
    int r = fn(sess, io);
    evp_qbuf_take(in, io->consumed < len ? io->consumed : len);
    return r;
}

static int fail(evp_tstack *st, size_t i, const evp_io *io, const char *dflt)
{
    st->failed = i + 1;
    st->drain = io->drain;
    snprintf(st->reason, sizeof st->reason, "%s", io->reason[0] ? io->reason : dflt);
    return EVP_ERR;
}

/* The stream above layer i has ended: the layer above sees the end of its input. */
static void pass_end_up(evp_tstack *st, size_t i)
{
    if (i + 1 < st->n)
        st->l[i + 1].up_eof = 1;
    else
        st->top_eof = 1;
}

/* Layer i's input from below has ended: so has the input of the one above. */
static void end_up(evp_tstack *st, size_t i)
{
    st->l[i].up_done = 1;
    evp_qbuf_free(&st->l[i].up);
    pass_end_up(st, i);
}

static int decode_layer(evp_tstack *st, size_t i, evp_qbuf *rbuf)
{
    tlayer *L = &st->l[i];
    evp_qbuf *out = i + 1 < st->n ? &st->l[i + 1].up : rbuf;
    evp_buf *back = i > 0 ? &st->l[i - 1].down.b : &st->raw_out.b;
    int targets = 0;
    while (!L->up_done && (evp_qbuf_len(&L->up) > 0 || L->up_eof)) {
        evp_io io;
        int r = run(L->ops->decode, L->sess, &L->up, L->up_eof, out, back, &io);
        if (r == EVP_ERR)
            return fail(st, i, &io, "decode failed");
        if (r == EVP_TARGET) {
            if (!st->server || (targets++ > 0 && io.consumed == 0)) {
                snprintf(io.reason, sizeof io.reason, "%s", st->server
                         ? "named the client's address again without taking input"
                         : "named a client address on a dialling stack");
                return fail(st, i, &io, "");
            }
            st->peer = io.target;
            st->has_peer = 1;
            continue; /* decode again with the input after the address */
        }
        if (r == EVP_EOF && L->conn && !L->up_eof) { /* its connection still talks */
            if (!L->lingering)
                pass_end_up(st, i);
            L->lingering = 1;
            if (io.consumed == 0 || evp_qbuf_len(&L->up) == 0)
                break;
            continue;
        }
        if (r == EVP_EOF || (L->up_eof && (io.consumed == 0 || evp_qbuf_len(&L->up) == 0))) {
            end_up(st, i); /* nothing after a layer's own end is read */
            break;
        }
        if (io.consumed == 0)
            break; /* it waits for more */
    }
    return EVP_OK;
}

/* Layer i's end is written: the layer below ends next (or the socket, after raw_out). */
static void end_down(evp_tstack *st, size_t i)
{
    st->l[i].down_done = 1;
    if (i > 0)
        st->l[i - 1].down_eof = 1;
    else
        st->down_ended = 1;
}

static int encode_layer(evp_tstack *st, size_t i, evp_qbuf *in, int eof)
{
    tlayer *L = &st->l[i];
    evp_qbuf *out = i > 0 ? &st->l[i - 1].down : &st->raw_out;
    while (!L->down_done && (evp_qbuf_len(in) > 0 || eof)) {
        evp_io io;
        int r = run(L->ops->encode, L->sess, in, eof, out, &st->scratch, &io);
        st->scratch.len = 0;
        if (r == EVP_ERR)
            return fail(st, i, &io, "encode failed");
        /* A layer that cannot write its end yet leaves in_eof unconsumed (cleared); an
         * EVP_TR_CONN layer says it has ended with EVP_EOF. */
        if (eof && evp_qbuf_len(in) == 0 && (L->conn ? r == EVP_EOF : io.in_eof))
            end_down(st, i);
        else if (eof && evp_qbuf_len(in) == 0)
            break; /* its end is not written: asked again after the next decode */
        else if (io.consumed == 0)
            break; /* held back (its handshake is not done): offered again later */
    }
    return EVP_OK;
}

int evp_tstack_encode(evp_tstack *st, evp_qbuf *wbuf, int wbuf_eof)
{
    size_t top = st->failed ? st->failed - 1 : st->n; /* a failed layer and those above stop */
    for (size_t i = top; i-- > 0;) {
        evp_qbuf *in = i + 1 == st->n ? wbuf : &st->l[i].down;
        int eof = i + 1 == st->n ? wbuf_eof : st->l[i].down_eof;
        if (encode_layer(st, i, in, eof) == EVP_ERR)
            return EVP_ERR;
        evp_qbuf_trim(in);
    }
    if (st->failed)
        st->down_ended = 1; /* what the layers below had is out: the socket may be shut */
    return EVP_OK;
}

int evp_tstack_start(evp_tstack *st)
{
    evp_qbuf none = {0};
    for (size_t i = 0; i < st->n; i++) { /* once each, bottom first, with nothing to encode */
        tlayer *L = &st->l[i];
        evp_io io;
        int r = run(L->ops->encode, L->sess, &none, 0, i > 0 ? &st->l[i - 1].down : &st->raw_out,
                    &st->scratch, &io);
        st->scratch.len = 0;
        if (r == EVP_ERR)
            return fail(st, i, &io, "encode failed");
    }
    return evp_tstack_encode(st, &none, 0);
}

int evp_tstack_decode(evp_tstack *st, evp_qbuf *rbuf, evp_qbuf *wbuf, int wbuf_eof)
{
    if (st->failed)
        return EVP_ERR;
    for (size_t i = 0; i < st->n; i++) {
        if (decode_layer(st, i, rbuf) == EVP_ERR) {
            evp_tstack_encode(st, wbuf, 0); /* its last `back` bytes still go down */
            return EVP_ERR;
        }
        if (i > 0)
            evp_qbuf_trim(&st->l[i].up);
    }
    evp_qbuf_trim(&st->l[0].up);
    int r = evp_tstack_encode(st, wbuf, wbuf_eof);
    if (r == EVP_OK && st->l[0].up_done)
        st->down_ended = 1; /* no decode can come to free an end a layer holds: give up on it */
    return r;
}

int evp_tstack_top_eof(const evp_tstack *st)
{
    return st->top_eof;
}

int evp_tstack_reading(const evp_tstack *st)
{
    if (st->failed || st->l[0].up_eof)
        return 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->l[i].lingering && !st->l[i].up_done)
            return 1;
    return 0;
}

int evp_tstack_down_ended(const evp_tstack *st)
{
    return st->down_ended;
}

size_t evp_tstack_queued_down(const evp_tstack *st)
{
    size_t n = evp_qbuf_len(&st->raw_out);
    for (size_t i = 0; i < st->n; i++)
        n += evp_qbuf_len(&st->l[i].down);
    return n;
}

size_t evp_tstack_held(const evp_tstack *st)
{
    size_t n = evp_tstack_queued_down(st);
    for (size_t i = 0; i < st->n; i++)
        n += evp_qbuf_len(&st->l[i].up);
    return n;
}

int evp_tstack_peer(const evp_tstack *st, evp_addr *peer)
{
    if (st->has_peer)
        *peer = st->peer;
    return st->has_peer;
}

const char *evp_tstack_error(const evp_tstack *st, const char **layer, uint32_t *drain)
{
    *layer = st->failed ? st->l[st->failed - 1].name : "";
    *drain = st->drain;
    return st->reason;
}

void evp_tstack_idle(evp_tstack *st)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->l[i].ops->session_idle)
            st->l[i].ops->session_idle(st->l[i].sess);
        evp_qbuf_trim(&st->l[i].up);
        evp_qbuf_trim(&st->l[i].down);
    }
    evp_qbuf_trim(&st->raw_out);
    evp_buf_free(&st->scratch);
}
