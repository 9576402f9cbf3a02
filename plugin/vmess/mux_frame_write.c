/* The Mux.Cool frame writer (mux_frame.h). */
#include "mux_frame.h"

#include "addr.h"

#include <string.h>

/* 1 when f is a frame the parser gives back as it is. */
static int frame_ok(const vmess_mux_frame *f)
{
    if (f->option & ~(VMESS_MUX_OPT_DATA | VMESS_MUX_OPT_ERROR))
        return 0;
    switch (f->status) {
    case VMESS_MUX_NEW:
        if (f->network != VMESS_MUX_NET_TCP && f->network != VMESS_MUX_NET_UDP)
            return 0;
        /* The parser finds a Global ID only in a UDP New frame with data (Xray's rule). */
        return !f->has_global_id ||
               (f->network == VMESS_MUX_NET_UDP && (f->option & VMESS_MUX_OPT_DATA));
    case VMESS_MUX_KEEP:
        return !f->has_global_id &&
               (f->network == VMESS_MUX_NET_NONE || f->network == VMESS_MUX_NET_UDP);
    case VMESS_MUX_END:
    case VMESS_MUX_KEEPALIVE:
        return !f->has_global_id && f->network == VMESS_MUX_NET_NONE;
    default:
        return 0;
    }
}

/* Writes f's metadata (after its length) into m; returns its length or -1. */
static int encode_meta(const vmess_mux_frame *f, uint8_t m[VMESS_MUX_META_MAX])
{
    size_t n = 0;
    m[n++] = (uint8_t)(f->id >> 8);
    m[n++] = (uint8_t)f->id;
    m[n++] = f->status;
    m[n++] = f->option;
    if (f->network != VMESS_MUX_NET_NONE) {
        m[n++] = f->network;
        int a = vmess_addr_encode(&f->addr, m + n);
        if (a < 0)
            return -1;
        n += (size_t)a;
    }
    if (f->has_global_id) {
        memcpy(m + n, f->global_id, VMESS_MUX_GLOBAL_ID);
        n += VMESS_MUX_GLOBAL_ID;
    }
    return (int)n; /* at most 4 + 1 + VMESS_ADDR_MAX + 8 < VMESS_MUX_META_MAX */
}

int vmess_mux_write(const evp_host *h, evp_buf *out, const vmess_mux_frame *f, const uint8_t *data,
                    size_t len)
{
    uint8_t meta[VMESS_MUX_META_MAX];
    int has_data = (f->option & VMESS_MUX_OPT_DATA) != 0;
    if (!frame_ok(f) || len > VMESS_MUX_DATA_MAX || (!has_data && len > 0))
        return EVP_ERR;
    int m = encode_meta(f, meta);
    if (m < 0)
        return EVP_ERR;
    size_t total = 2 + (size_t)m + (has_data ? 2 + len : 0);
    uint8_t *d = h->buf_reserve(out, total);
    if (d == NULL)
        return EVP_ERR;
    d[0] = (uint8_t)(m >> 8);
    d[1] = (uint8_t)m;
    memcpy(d + 2, meta, (size_t)m);
    if (has_data) {
        d[2 + m] = (uint8_t)(len >> 8);
        d[3 + m] = (uint8_t)len;
        if (len > 0)
            memcpy(d + 4 + m, data, len);
    }
    out->len += total;
    return EVP_OK;
}
