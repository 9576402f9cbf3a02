/* The Mux.Cool frame parser (mux_frame.h): a byte-at-a-time-safe state machine that copies
 * only what a split frame forces it to. */
#include "mux_frame.h"

#include "addr.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum parse_state {
    ST_META_LEN, /* gathering a frame's BE16 metadata length (between frames when empty) */
    ST_META,     /* gathering the metadata */
    ST_DATA_LEN, /* gathering the BE16 data length */
    ST_DATA,     /* gathering the data */
    ST_FAILED,
};

static int fail(vmess_mux_parser *p, const char *fmt, ...) EVP_PRINTF(2, 3);
static int fail(vmess_mux_parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why_text, sizeof p->why_text, fmt, ap);
    va_end(ap);
    p->why = p->why_text;
    p->state = ST_FAILED;
    return VMESS_MUX_ERR;
}

static const char *addr_error(int rc)
{
    switch (rc) {
    case VMESS_ADDR_SHORT:
        return "address runs past the metadata";
    case VMESS_ADDR_BAD_TYPE:
        return "unknown address type";
    default:
        return "invalid domain name";
    }
}

/* Decodes p->meta[0..p->meta_len) into p->frame; VMESS_MUX_EVENT or fail(). */
static int decode_meta(vmess_mux_parser *p)
{
    const uint8_t *m = p->meta;
    size_t n = p->meta_len;
    vmess_mux_frame *f = &p->frame;
    memset(f, 0, sizeof *f);
    f->id = (uint16_t)(m[0] << 8 | m[1]);
    f->status = m[2];
    f->option = m[3];
    if (f->status < VMESS_MUX_NEW || f->status > VMESS_MUX_KEEPALIVE)
        return fail(p, "unknown session status 0x%02x (session %u)", f->status, f->id);
    if (f->option & ~(VMESS_MUX_OPT_DATA | VMESS_MUX_OPT_ERROR))
        return fail(p, "unknown option bits 0x%02x (session %u)", f->option, f->id);
    /* New always names a network and target; Keep may name a UDP packet's address (XUDP:
     * Xray tests the network byte first and ignores other trailing bytes, as V2Ray does). */
    int addressed = f->status == VMESS_MUX_NEW ||
                    (f->status == VMESS_MUX_KEEP && n > 4 && m[4] == VMESS_MUX_NET_UDP);
    if (!addressed)
        return VMESS_MUX_EVENT;
    const char *kind = f->status == VMESS_MUX_NEW ? "New" : "Keep";
    if (n < 8)
        return fail(p, "%s frame metadata of %zu bytes is too short (session %u)", kind, n, f->id);
    f->network = m[4];
    if (f->network != VMESS_MUX_NET_TCP && f->network != VMESS_MUX_NET_UDP)
        return fail(p, "unknown network 0x%02x (session %u)", f->network, f->id);
    int a = vmess_addr_decode(&f->addr, m + 5, n - 5);
    if (a < 0)
        return fail(p, "%s frame: %s (session %u)", kind, addr_error(a), f->id);
    size_t rest = n - 5 - (size_t)a;
    /* Xray reads a Global ID only from a UDP New frame with data; more bytes are padding. */
    if (f->status == VMESS_MUX_NEW && f->network == VMESS_MUX_NET_UDP &&
        (f->option & VMESS_MUX_OPT_DATA) && rest >= VMESS_MUX_GLOBAL_ID) {
        memcpy(f->global_id, m + 5 + a, VMESS_MUX_GLOBAL_ID);
        f->has_global_id = 1;
    }
    return VMESS_MUX_EVENT;
}

/* Gathers a BE16 length; 1 when it is whole. */
static int take_len(vmess_mux_parser *p, const uint8_t *in, size_t len, size_t *used)
{
    while (p->len_have < 2 && *used < len)
        p->len_bytes[p->len_have++] = in[(*used)++];
    if (p->len_have < 2)
        return 0;
    p->len_have = 0;
    return 1;
}

static int emit(vmess_mux_event *ev, int kind, const vmess_mux_parser *p, const uint8_t *data,
                size_t len)
{
    ev->kind = kind;
    ev->frame = &p->frame;
    ev->data = data;
    ev->len = len;
    return VMESS_MUX_EVENT;
}

/* The frame's data (p->data_len bytes) from in[*used..len), borrowed when it is all there,
 * else gathered in the assembly buffer. */
static int take_data(vmess_mux_parser *p, const uint8_t *in, size_t len, size_t *used,
                     vmess_mux_event *ev)
{
    size_t avail = len - *used;
    if (p->data_have == 0 && avail >= p->data_len) {
        const uint8_t *d = in + *used;
        *used += p->data_len;
        p->state = ST_META_LEN;
        return emit(ev, VMESS_MUX_EV_DATA, p, d, p->data_len);
    }
    if (p->data_cap < p->data_len) {
        uint8_t *b = vmess_realloc(p->data, p->data_len);
        if (b == NULL)
            return fail(p, "out of memory for %u bytes of frame data", p->data_len);
        p->data = b;
        p->data_cap = p->data_len;
    }
    size_t take = p->data_len - p->data_have;
    if (take > avail)
        take = avail;
    memcpy(p->data + p->data_have, in + *used, take);
    p->data_have += (uint32_t)take;
    *used += take;
    if (p->data_have < p->data_len)
        return VMESS_MUX_MORE;
    p->data_have = 0;
    p->state = ST_META_LEN;
    return emit(ev, VMESS_MUX_EV_DATA, p, p->data, p->data_len);
}

/* One step on in[*used..len): VMESS_MUX_EVENT, VMESS_MUX_ERR, or VMESS_MUX_MORE (progress,
 * no event). */
static int step(vmess_mux_parser *p, const uint8_t *in, size_t len, size_t *used,
                vmess_mux_event *ev)
{
    switch (p->state) {
    case ST_META_LEN:
        if (!take_len(p, in, len, used))
            return VMESS_MUX_MORE;
        p->meta_len = (uint16_t)(p->len_bytes[0] << 8 | p->len_bytes[1]);
        if (p->meta_len > VMESS_MUX_META_MAX)
            return fail(p, "metadata length %u is over %d", p->meta_len, VMESS_MUX_META_MAX);
        if (p->meta_len < 4)
            return fail(p, "metadata length %u is under 4", p->meta_len);
        p->meta_have = 0;
        p->state = ST_META;
        return VMESS_MUX_MORE;
    case ST_META: {
        size_t take = (size_t)(p->meta_len - p->meta_have);
        if (take > len - *used)
            take = len - *used;
        memcpy(p->meta + p->meta_have, in + *used, take);
        p->meta_have = (uint16_t)(p->meta_have + take);
        *used += take;
        if (p->meta_have < p->meta_len)
            return VMESS_MUX_MORE;
        if (decode_meta(p) != VMESS_MUX_EVENT)
            return VMESS_MUX_ERR;
        p->state = (p->frame.option & VMESS_MUX_OPT_DATA) ? ST_DATA_LEN : ST_META_LEN;
        return emit(ev, VMESS_MUX_EV_FRAME, p, NULL, 0);
    }
    case ST_DATA_LEN:
        if (!take_len(p, in, len, used))
            return VMESS_MUX_MORE;
        p->data_len = (uint32_t)(p->len_bytes[0] << 8 | p->len_bytes[1]);
        p->data_have = 0;
        p->state = ST_DATA;
        /* Empty data is an event too, even at the end of this input. */
        return p->data_len == 0 ? take_data(p, in, len, used, ev) : VMESS_MUX_MORE;
    case ST_DATA:
        return take_data(p, in, len, used, ev);
    default:
        return VMESS_MUX_ERR;
    }
}

void vmess_mux_parser_init(vmess_mux_parser *p, const evp_host *h)
{
    vmess_mem_adopt(h); /* a unit test's host may skip the plugin's init */
    memset(p, 0, sizeof *p);
    p->state = ST_META_LEN;
}

int vmess_mux_parse(vmess_mux_parser *p, const uint8_t *in, size_t len, size_t *consumed,
                    vmess_mux_event *ev)
{
    size_t used = 0;
    int rc = p->state == ST_FAILED ? VMESS_MUX_ERR : VMESS_MUX_MORE;
    while (rc == VMESS_MUX_MORE && used < len)
        rc = step(p, in, len, &used, ev);
    *consumed = used;
    return rc;
}

int vmess_mux_parser_at_boundary(const vmess_mux_parser *p)
{
    return p->state == ST_META_LEN && p->len_have == 0;
}

void vmess_mux_parser_idle(vmess_mux_parser *p)
{
    if (p->data != NULL && !(p->state == ST_DATA && p->data_have > 0)) {
        vmess_free(p->data);
        p->data = NULL;
        p->data_cap = 0;
    }
}

void vmess_mux_parser_free(vmess_mux_parser *p)
{
    if (p->data != NULL)
        vmess_free(p->data);
    p->data = NULL;
    p->data_cap = 0;
}
