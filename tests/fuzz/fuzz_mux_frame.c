/* Fuzz target: the Mux.Cool / XUDP frame parser and writer (plugin/vmess/mux_frame*.c).
 * Input: bytes 0-1 (BE16, modulo the stream's length + 1) say where to split the stream;
 * the rest is the stream. The stream is parsed whole, in two pieces (the parser going idle
 * at the split) and byte at a time: all three must give the same events and the same end
 * (error reason included). Every whole frame parsed is then written back: the writer must
 * accept it, and parsing what it wrote must give the same frames and data again. */
#include "../../plugin/vmess/mux_frame.h"
#include "fuzz_host.h"

typedef struct rec {
    int kind;
    vmess_mux_frame frame;
    size_t off, len;
} rec;

typedef struct run {
    rec *r;
    size_t n, cap;
    evp_buf data; /* every event's data, one after another */
    int rc;
    char why[80];
    int boundary;
} run;

static void run_free(run *o)
{
    free(o->r);
    fuzz_buf_free(&o->data);
}

static void record(run *o, const vmess_mux_event *ev)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->r = realloc(o->r, o->cap * sizeof *o->r);
        if (o->r == NULL)
            abort();
    }
    rec *r = &o->r[o->n++];
    r->kind = ev->kind;
    r->frame = *ev->frame;
    r->off = o->data.len;
    r->len = ev->len;
    if (ev->kind == VMESS_MUX_EV_DATA && ev->len > VMESS_MUX_DATA_MAX)
        abort();
    if (ev->len > 0 && fuzz_buf_put(&o->data, ev->data, ev->len) != 0)
        abort();
}

/* Parses in[0..len) in pieces: step 0 means two pieces split at cut, else pieces of step. */
static void parse(const uint8_t *in, size_t len, size_t cut, size_t step, run *o)
{
    vmess_mux_parser p;
    memset(o, 0, sizeof *o);
    vmess_mux_parser_init(&p, fuzz_host_get());
    o->rc = VMESS_MUX_MORE;
    size_t at = 0;
    for (int piece = 0; at < len && o->rc != VMESS_MUX_ERR; piece++) {
        size_t n = step ? step : (piece == 0 ? cut : len - at);
        if (n > len - at)
            n = len - at;
        size_t off = 0;
        do {
            vmess_mux_event ev;
            size_t used = 0;
            o->rc = vmess_mux_parse(&p, in + at + off, n - off, &used, &ev);
            if (used > n - off)
                abort();
            off += used;
            if (o->rc == VMESS_MUX_EVENT)
                record(o, &ev);
        } while (o->rc == VMESS_MUX_EVENT);
        if (o->rc == VMESS_MUX_MORE && off != n)
            abort(); /* MORE promises the piece was all taken */
        at += n;
        vmess_mux_parser_idle(&p); /* a quiet spell between pieces */
    }
    if (o->rc == VMESS_MUX_ERR) {
        if (p.why == NULL || p.why[0] == '\0')
            abort(); /* every failure says why */
        snprintf(o->why, sizeof o->why, "%s", p.why);
        vmess_mux_event ev;
        size_t used;
        if (vmess_mux_parse(&p, in, len, &used, &ev) != VMESS_MUX_ERR)
            abort(); /* and stays failed */
    }
    o->boundary = vmess_mux_parser_at_boundary(&p);
    vmess_mux_parser_free(&p);
}

static int same_rec(const run *a, size_t i, const run *b, size_t j)
{
    const rec *x = &a->r[i], *y = &b->r[j];
    return x->kind == y->kind && memcmp(&x->frame, &y->frame, sizeof x->frame) == 0 &&
           x->len == y->len &&
           (x->len == 0 || memcmp(a->data.data + x->off, b->data.data + y->off, x->len) == 0);
}

static void assert_same(const run *a, const run *b)
{
    if (a->rc != b->rc || strcmp(a->why, b->why) != 0 || a->n != b->n || a->boundary != b->boundary)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (!same_rec(a, i, b, i))
            abort();
}

/* Writes every whole frame of o into out; returns how many events that covers. */
static size_t write_back(const run *o, evp_buf *out)
{
    size_t i = 0;
    while (i < o->n) {
        const rec *r = &o->r[i];
        if (r->kind != VMESS_MUX_EV_FRAME)
            abort(); /* data comes only right after its frame */
        int has_data = (r->frame.option & VMESS_MUX_OPT_DATA) != 0;
        if (has_data && i + 1 == o->n)
            break; /* the stream ended before this frame's data */
        const rec *d = has_data ? &o->r[i + 1] : NULL;
        if (d && (d->kind != VMESS_MUX_EV_DATA || d->frame.id != r->frame.id))
            abort();
        const uint8_t *bytes = d && d->len ? o->data.data + d->off : NULL;
        if (vmess_mux_write(fuzz_host_get(), out, &r->frame, bytes, d ? d->len : 0) != EVP_OK)
            abort(); /* whatever the parser gives, the writer takes */
        i += has_data ? 2 : 1;
    }
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    size_t cut = ((size_t)data[0] << 8 | data[1]) % (len + 1);
    fuzz_host_reset();

    run whole, split, bytewise, again;
    parse(in, len, len, 0, &whole);
    parse(in, len, cut, 0, &split);
    parse(in, len, 0, 1, &bytewise);
    assert_same(&whole, &split);
    assert_same(&whole, &bytewise);

    evp_buf out = {0};
    size_t frames = write_back(&whole, &out);
    parse(out.data, out.len, out.len, 0, &again);
    if (again.rc != VMESS_MUX_MORE || !again.boundary || again.n != frames)
        abort();
    for (size_t i = 0; i < frames; i++)
        if (!same_rec(&whole, i, &again, i))
            abort();

    fuzz_buf_free(&out);
    run_free(&whole);
    run_free(&split);
    run_free(&bytewise);
    run_free(&again);
    return 0;
}
