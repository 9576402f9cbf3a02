/* Mux.Cool frames with Xray's XUDP additions (README "### Mux.Cool"), sans-I/O: a parser
 * that turns a byte stream, fed in pieces of any size, into events, and a writer that
 * appends frames to an evp_buf. No sessions here: what a frame means for a sub-stream (a
 * Keep for an unknown id, a UDP packet over 2048 bytes, an all-zero Global ID) is the
 * session layer's call.
 *
 * Frame: BE16 L, then L bytes of metadata (4 <= L <= 512):
 *   BE16 session id, status, option;
 *   New:  network, port-first address (addr.h), then for UDP with the Data option an
 *         optional 8-byte XUDP Global ID; anything after is ignored (padding);
 *   Keep: optionally network UDP (2) and the packet's port-first address (XUDP);
 *   any other trailing metadata is ignored, as V2Ray and Xray ignore it.
 * With the Data option: BE16 N, then N bytes of data (0 <= N <= 65535). */
#ifndef VMESS_MUX_FRAME_H
#define VMESS_MUX_FRAME_H

#include "evproxy/plugin.h"

#include <stddef.h>
#include <stdint.h>

/* The "mux.cool" magic target a Mux client asks its outbound for. */
#define VMESS_MUX_COOL_DOMAIN "v1.mux.cool"
#define VMESS_MUX_COOL_PORT 9527

#define VMESS_MUX_META_MAX 512   /* V2Ray and Xray refuse a longer metadata length */
#define VMESS_MUX_DATA_MAX 65535 /* the BE16 data length */
#define VMESS_MUX_GLOBAL_ID 8    /* XUDP Global ID bytes */

enum vmess_mux_status {
    VMESS_MUX_NEW = 1,
    VMESS_MUX_KEEP = 2,
    VMESS_MUX_END = 3,
    VMESS_MUX_KEEPALIVE = 4,
};

enum vmess_mux_option {
    VMESS_MUX_OPT_DATA = 0x01,  /* a BE16 length and data follow the metadata */
    VMESS_MUX_OPT_ERROR = 0x02, /* End: the sub-stream failed */
};

enum vmess_mux_network {
    VMESS_MUX_NET_NONE = 0,
    VMESS_MUX_NET_TCP = 1,
    VMESS_MUX_NET_UDP = 2,
};

/* One frame's metadata. Decoded frames are zeroed first, so two compare with memcmp. */
typedef struct vmess_mux_frame {
    uint16_t id;
    uint8_t status; /* enum vmess_mux_status */
    uint8_t option; /* enum vmess_mux_option bits */
    /* New: TCP or UDP; Keep: UDP when it carries a packet address (XUDP), else NONE;
     * End and KeepAlive: NONE. */
    uint8_t network;
    uint8_t has_global_id; /* New, UDP, Data only: global_id was sent (all zero = none) */
    uint8_t global_id[VMESS_MUX_GLOBAL_ID];
    evp_addr addr; /* New: the target; Keep with network UDP: the packet's address */
} vmess_mux_frame;

/* ---- writer ---- */

/* Appends frame f to out, then, when f->option has Data, BE16 len and data[0..len). Refuses
 * (EVP_ERR, out untouched) what the parser would not give back: an unknown status, option
 * bit or network, a network or Global ID where that status has none, an unknown address
 * type or empty domain, data without the Data option, len > 65535; and out of memory.
 * EVP_OK otherwise. */
int vmess_mux_write(const evp_host *h, evp_buf *out, const vmess_mux_frame *f, const uint8_t *data,
                    size_t len);

/* ---- parser ---- */

enum vmess_mux_result {
    VMESS_MUX_ERR = -1,  /* malformed: p->why says why; every later call fails alike */
    VMESS_MUX_MORE = 0,  /* all input consumed; call again with more */
    VMESS_MUX_EVENT = 1, /* *ev is set; call again with the input after *consumed */
};

enum vmess_mux_event_kind {
    VMESS_MUX_EV_FRAME = 1, /* a frame's metadata; with the Data option an EV_DATA follows */
    VMESS_MUX_EV_DATA = 2,  /* the whole data of the frame ev->frame describes */
};

typedef struct vmess_mux_event {
    int kind;                     /* enum vmess_mux_event_kind */
    const vmess_mux_frame *frame; /* the parser's current frame: valid until the next call */
    /* EV_DATA: borrowed from the caller's input when the data came in one piece, else from
     * the parser's own buffer; valid until the next call on the parser (and while the input
     * is). */
    const uint8_t *data;
    size_t len;
} vmess_mux_event;

typedef struct vmess_mux_parser {
    uint8_t state;
    uint8_t len_have; /* bytes of a BE16 length gathered */
    uint8_t len_bytes[2];
    uint16_t meta_len; /* this frame's metadata length */
    uint16_t meta_have;
    uint32_t data_len;  /* this frame's data length */
    uint32_t data_have; /* bytes of it gathered in data */
    uint8_t *data;      /* assembly buffer for data split across calls (vmess_alloc) */
    uint32_t data_cap;
    vmess_mux_frame frame;
    uint8_t meta[VMESS_MUX_META_MAX];
    const char *why; /* after VMESS_MUX_ERR: points at why_text */
    char why_text[80];
} vmess_mux_parser;

/* Sets p up to read a stream from its first byte; h supplies the memory. */
void vmess_mux_parser_init(vmess_mux_parser *p, const evp_host *h);

/* Reads in[0..len) up to the next event: sets *consumed (<= len) and returns
 * VMESS_MUX_EVENT with *ev set, VMESS_MUX_MORE (everything consumed, no event yet) or
 * VMESS_MUX_ERR. Input is copied only when a frame is split across calls: metadata into p,
 * data into p's assembly buffer (at most 65535 bytes). */
int vmess_mux_parse(vmess_mux_parser *p, const uint8_t *in, size_t len, size_t *consumed,
                    vmess_mux_event *ev);

/* True between frames: the stream may end here cleanly. */
int vmess_mux_parser_at_boundary(const vmess_mux_parser *p);

/* The stream has gone quiet: frees the assembly buffer unless a frame's data is half read. */
void vmess_mux_parser_idle(vmess_mux_parser *p);

/* Frees what p holds; p may be initialised again. */
void vmess_mux_parser_free(vmess_mux_parser *p);

#endif
