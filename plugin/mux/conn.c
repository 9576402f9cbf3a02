/* Mux.Cool frames <-> ABI events. A frame with the Data option arrives from the parser as
 * two events (its metadata, then its whole data); the host gets one: New with its first
 * bytes, or the data of a Keep. Keep-alives, Keeps without data and data on an End mean
 * nothing to the host and come out as EVP_MUX_NONE. XUDP's Global ID (New) and packet
 * address (Keep) go both ways when the host knows them (ABI 1.8). */
#include "conn.h"

#include "../vmess/mem.h"
#include "../vmess/mux_frame.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct mux_conn {
    vmess_mux_parser parser;
    int server;
} mux_conn;

static unsigned host_minor = EVP_ABI_MINOR;

void mux_conn_host_abi(unsigned minor)
{
    host_minor = minor;
}

/* The host's event has the XUDP fields (ABI 1.8). */
static int host_has_xudp(void)
{
    return host_minor >= 8;
}

/* How much of an event the host gave: the fields before 1.8's, or all. */
static size_t event_size(void)
{
    return host_has_xudp() ? sizeof(evp_mux_event) : offsetof(evp_mux_event, has_global_id);
}

void *mux_conn_new(void *inst, int server)
{
    const evp_host *h = vmess_mem_host();
    mux_conn *c = vmess_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    vmess_mux_parser_init(&c->parser, h);
    c->server = server;
    return c;
}

void mux_conn_free(void *conn)
{
    mux_conn *c = conn;
    if (c == NULL)
        return;
    vmess_mux_parser_free(&c->parser);
    vmess_free(c);
}

void mux_conn_idle(void *conn)
{
    mux_conn *c = conn;
    vmess_mux_parser_idle(&c->parser);
}

/* The event a frame's metadata makes on its own (a frame without data). */
static void event_of_frame(const vmess_mux_frame *f, evp_mux_event *ev)
{
    ev->id = f->id;
    switch (f->status) {
    case VMESS_MUX_NEW:
        ev->kind = EVP_MUX_NEW;
        ev->network = f->network == VMESS_MUX_NET_UDP ? EVP_NET_UDP : EVP_NET_TCP;
        ev->target = f->addr;
        if (f->has_global_id && host_has_xudp()) {
            ev->has_global_id = 1;
            memcpy(ev->global_id, f->global_id, sizeof ev->global_id);
        }
        break;
    case VMESS_MUX_END:
        ev->kind = EVP_MUX_END;
        ev->error = (f->option & VMESS_MUX_OPT_ERROR) != 0;
        break;
    default: /* Keep without data, KeepAlive */
        ev->kind = EVP_MUX_NONE;
    }
}

int mux_conn_decode(void *conn, evp_io *io, evp_mux_event *ev)
{
    mux_conn *c = conn;
    vmess_mux_event pe;
    size_t used = 0;
    memset(ev, 0, event_size());
    int r = vmess_mux_parse(&c->parser, io->in, io->in_len, &used, &pe);
    io->consumed = used;
    if (r == VMESS_MUX_ERR) {
        snprintf(io->reason, sizeof io->reason, "mux: %s", c->parser.why);
        return EVP_ERR;
    }
    if (r == VMESS_MUX_MORE) {
        if (io->in_eof && !vmess_mux_parser_at_boundary(&c->parser)) {
            snprintf(io->reason, sizeof io->reason, "mux: the stream ended inside a frame");
            return EVP_ERR;
        }
        return EVP_OK;
    }
    const vmess_mux_frame *f = pe.frame;
    if (pe.kind == VMESS_MUX_EV_FRAME) {
        if (f->option & VMESS_MUX_OPT_DATA)
            return EVP_OK; /* the event waits for the data */
        event_of_frame(f, ev);
        return EVP_OK;
    }
    /* The whole data of a frame. */
    if (f->status == VMESS_MUX_NEW) {
        event_of_frame(f, ev);
    } else if (f->status == VMESS_MUX_KEEP) {
        ev->kind = EVP_MUX_DATA;
        ev->id = f->id;
        if (f->network == VMESS_MUX_NET_UDP && host_has_xudp())
            ev->peer = f->addr; /* XUDP: this packet's address */
    } else {
        if (f->status == VMESS_MUX_END)
            event_of_frame(f, ev); /* an End with data: the data means nothing */
        return EVP_OK;
    }
    ev->data = pe.data;
    ev->len = pe.len;
    return EVP_OK;
}

int mux_conn_encode(void *conn, const evp_mux_event *ev, evp_buf *out)
{
    const evp_host *h = vmess_mem_host();
    int xudp = host_has_xudp();
    vmess_mux_frame f;
    memset(&f, 0, sizeof f);
    if (ev->id > 0xffff)
        return EVP_ERR;
    f.id = (uint16_t)ev->id;
    switch (ev->kind) {
    case EVP_MUX_NEW:
        f.status = VMESS_MUX_NEW;
        f.network = ev->network == EVP_NET_UDP ? VMESS_MUX_NET_UDP : VMESS_MUX_NET_TCP;
        f.addr = ev->target;
        f.option = ev->len ? VMESS_MUX_OPT_DATA : 0;
        if (xudp && ev->has_global_id && ev->network == EVP_NET_UDP) {
            f.has_global_id = 1; /* Xray's reader takes it only after data: sent with some */
            f.option = VMESS_MUX_OPT_DATA;
            memcpy(f.global_id, ev->global_id, sizeof f.global_id);
        }
        break;
    case EVP_MUX_DATA:
        f.status = VMESS_MUX_KEEP;
        f.option = VMESS_MUX_OPT_DATA;
        if (xudp && ev->peer.type != EVP_ADDR_NONE) {
            f.network = VMESS_MUX_NET_UDP; /* XUDP: the packet's address */
            f.addr = ev->peer;
        }
        break;
    case EVP_MUX_END:
        f.status = VMESS_MUX_END;
        f.option = ev->error ? VMESS_MUX_OPT_ERROR : 0;
        if (ev->len)
            return EVP_ERR;
        break;
    default:
        return EVP_ERR;
    }
    return vmess_mux_write(h, out, &f, ev->data, ev->len) == EVP_OK ? EVP_OK : EVP_ERR;
}
