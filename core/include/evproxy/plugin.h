/* evproxy plugin ABI: the only header a plugin includes.
 *
 * A plugin is a shared object exporting ONE symbol, evp_plugin_entry(), which returns a
 * const descriptor. Plugins are sans-I/O codecs: they never touch sockets or the event
 * loop. The host feeds them bytes (borrowed) and they append bytes to host-owned buffers
 * and return an event code.
 *
 * Versioning (Varnish's rule): EVP_ABI_MAJOR changes on any break, and the host refuses a
 * plugin whose major differs. EVP_ABI_MINOR grows on additions at the END of structs; the
 * host refuses a plugin whose minor is higher than its own. Every struct starts with
 * fixed-width version/size fields and only grows at the end.
 *
 * Changelog:
 *   1.0  first version: inbound/outbound codecs, host services, UDP record framing.
 *   1.1  evp_host.replay_seen/replay_peek: host-owned "seen recently" sets; log_escape. Rule:
 *        state that must outlive an instance or a module (replay filters, taint, ...) is
 *        owned by the host and reached through host services; a plugin keeps none of it in
 *        statics (a hot swap loads a fresh copy of the plugin, with fresh statics).
 *   1.2  evp_inbound_ops users_*: the host manages an inbound's users (control socket,
 *        clientsFile) only through these, as opaque JSON in the plugin's own format;
 *        evp_plugin.sip003_settings: SIP003 options -> the plugin's settings.
 *   1.3  evp_host.mem_*: allocation counted per module (each module gets its own table), so
 *        the host can report a plugin's memory.
 *   1.4  evp_host.state_*: a host-owned keyed store of small values with expiry, for the
 *        rest of the 1.1 rule's state (VMess: detour accounts on both sides, which inbound
 *        answers to a tag). A plugin keeps nothing that a reload or hot swap must keep in an
 *        instance or a static either: it goes in the host's replay sets or state store.
 *        evp_inbound_ops/evp_outbound_ops.session_idle: the host tells a quiet session to
 *        drop what it can rebuild (expanded cipher state).
 *   1.5  evp_inbound_ops.flags (EVP_IN_PASS) and EVP_OUT_PASS: a codec that copies bytes
 *        unchanged says so, and the host moves them without calling it (no copy). The
 *        outbound's first encode may carry the client's first bytes (see encode).
 *   1.6  evp_plugin.transport: stream transports (TLS, WebSocket, HTTP header, PROXY
 *        protocol), sans-I/O byte transforms the host stacks between the socket and the
 *        protocol codec, per inbound/outbound, from its streamSettings (see
 *        evp_transport_ops). A protocol plugin does not change to run over them.
 *        EVP_TR_CONN: a layer whose connection outlives its stream (HTTP/2).
 *   1.7  evp_plugin.mux: multiplexers (Mux.Cool, HTTP/2 requests). A session whose target is
 *        the multiplexer's `target` domain, or a connection whose top transport layer is a
 *        multiplexer, carries sub-streams; the host runs each as a session of its own (see
 *        evp_mux_ops).
 *        evp_inbound_ops.share_link: a user's client settings as a share link (`evproxy
 *        link`), in the plugin's own link formats.
 *        evp_inbound_ops.session_open: session_new told whether the connection is a TCP
 *        stream or a UDP peer's datagrams (a protocol that serves both on one port).
 *        evp_inbound_ops.session_level: the user's policy level.
 *   1.8  evp_mux_event.global_id / peer: XUDP (Xray's UDP over Mux.Cool): a UDP sub-stream
 *        named by a Global ID keeps its outbound socket across connections, and each
 *        datagram may carry its own far address (full cone). A plugin writes them only when
 *        host->abi_minor >= 8 (the host's event is shorter before).
 *   1.9  evp_host.stats_visit: V2Ray's named traffic counters (StatsService), kept by the
 *        host. EVP_OUT_LOCAL: an outbound that answers the client itself (dials nothing).
 *
 * A plugin that uses a 1.1 service checks host->abi_minor >= 1 and host->size first. The host
 * treats an optional field beyond an ops struct's size as absent.
 */
#ifndef EVPROXY_PLUGIN_H
#define EVPROXY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define EVP_ABI_MAJOR 1
#define EVP_ABI_MINOR 9

#if defined(__GNUC__)
#define EVP_EXPORT __attribute__((visibility("default")))
#define EVP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EVP_EXPORT
#define EVP_PRINTF(f, a)
#endif

/* Log levels, as V2Ray's log.loglevel names them. */
enum evp_log_level {
    EVP_LOG_NONE = 0,
    EVP_LOG_ERROR = 1,
    EVP_LOG_WARNING = 2,
    EVP_LOG_INFO = 3,
    EVP_LOG_DEBUG = 4,
};

/* A growable byte buffer owned by the host. A plugin appends with host->buf_reserve()
 * then advances len; it never frees or replaces data. */
typedef struct evp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} evp_buf;

/* Address types use VMess's numbering so that codecs can copy them. */
enum evp_addr_type {
    EVP_ADDR_NONE = 0, /* nothing (an outbound with nowhere to dial: blackhole) */
    EVP_ADDR_IPV4 = 1, /* bytes[0..3], network order */
    EVP_ADDR_DOMAIN = 2, /* bytes[0..len-1] plus a NUL, len 1..255 */
    EVP_ADDR_IPV6 = 3, /* bytes[0..15], network order */
};

enum evp_network {
    EVP_NET_TCP = 1,
    EVP_NET_UDP = 2, /* datagrams as records (see evp_io) inside this session */
    /* The client wants a UDP relay beside this connection (SOCKS5 UDP ASSOCIATE): the host
     * opens one and calls connected() with io->target set to the relay's address. */
    EVP_NET_UDP_RELAY = 3,
};

typedef struct evp_addr {
    uint8_t type; /* enum evp_addr_type */
    uint8_t len; /* domain length (4 or 16 for IPs) */
    uint16_t port; /* host byte order */
    uint8_t bytes[256];
} evp_addr;

/* Return codes of decode/encode hooks. */
enum evp_status {
    EVP_ERR = -1, /* fatal: io->reason says why; io->drain bytes to swallow before close */
    EVP_OK = 0, /* progress made; io->consumed of io->in used; call again with more input */
    EVP_TARGET = 1, /* inbound decode only: io->target/io->network are known; io->consumed
                       bytes used; the host opens the outbound then calls decode again */
    EVP_EOF = 2, /* the stream's own end-of-stream marker was read: half-close onward */
};

/* One call's input and outputs. The host fills in/in_len/in_eof/out/back and zeroes the
 * rest; the plugin sets consumed and appends to out (onward) and back (toward the peer
 * the input came from). Unconsumed input is presented again, followed by new bytes.
 *
 * UDP framing: when a session's network is EVP_NET_UDP, the plaintext side (inbound
 * decode output, outbound encode input, outbound decode output, inbound encode input) is
 * a sequence of records: BE16 length, then that many bytes of one datagram. */
typedef struct evp_io {
    const uint8_t *in;
    size_t in_len;
    size_t consumed;
    int in_eof; /* the input's source has ended: flush and write your end-of-stream */
    evp_buf *out;
    evp_buf *back;
    evp_addr target; /* EVP_TARGET */
    uint8_t network; /* EVP_TARGET: enum evp_network */
    uint32_t drain; /* EVP_ERR: read and discard this many more bytes, then close */
    char reason[128]; /* EVP_ERR */
} evp_io;

/* state_each's visitor: one live entry (key and value borrowed for the call). Returns 0 to
 * go on, nonzero to stop. It must not call the state_* services. */
typedef int (*evp_state_fn)(void *ctx, const void *key, size_t key_len, const void *val,
                            size_t val_len);

#define EVP_STATE_CREATE 1u       /* state_put: keep a live value already there */
#define EVP_STATE_KEY_MAX 255     /* longest key, bytes */
#define EVP_STATE_VALUE_MAX 4096  /* longest value, bytes */
/* stats_visit's visitor (ABI 1.9): one counter, name borrowed for the call. Returns 1 to zero
 * the counter, 0 to keep it. */
typedef int (*evp_stats_fn)(void *ctx, const char *name, uint64_t value);

/* Written by the host (no ABI change: a host that does not write it has no dynamic port):
 * the ports an inbound with allocate "random" announces now, key its tag, value: 1 (format),
 * refresh minutes (BE32), monotonic ms of the last pick (BE64), count (BE16), ports (BE16). */
#define EVP_STATE_NS_PORTS "evp.inbound.ports"

/* Services the host hands to a plugin; a plugin never calls host symbols directly. */
typedef struct evp_host evp_host;
struct evp_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size;
    /* Logs one line (no trailing newline needed) if level is enabled. */
    void (*log)(int level, const char *fmt, ...) EVP_PRINTF(2, 3);
    /* True when a message at level would be printed: test before costly formatting. */
    int (*log_enabled)(int level);
    /* Fills buf with len cryptographically random bytes. */
    void (*random_bytes)(void *buf, size_t len);
    /* Wall-clock Unix time in seconds. */
    int64_t (*unix_time)(void);
    /* Monotonic seconds, for timers and expiry. */
    double (*monotonic)(void);
    void *(*alloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t size);
    void (*free)(void *p);
    /* Makes room for n more bytes; returns b->data + b->len, or NULL when out of memory. */
    uint8_t *(*buf_reserve)(evp_buf *b, size_t n);

    /* ---- ABI 1.1 ---- */
    /* "Seen recently" sets owned by the host: one per (ns, window_s), shared by every
     * instance and every loaded copy of every plugin, so reloads and hot swaps keep them.
     * ns names the set ("plugin.what", at most 63 bytes); window_s >= 2. Thread-safe.
     * Returns 1 if key was recorded within the last window_s seconds (memory is at least
     * window_s, at most 1.5 x window_s, on the wall clock), else records it and returns 0;
     * -1 when it cannot be recorded (set at its bound, out of memory, bad argument): treat
     * as seen. The host keeps a keyed digest of key, never key itself. */
    int (*replay_seen)(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s);
    /* As replay_seen, but never records: 1 if key was recorded within the window, else 0. */
    int (*replay_peek)(const char *ns, const uint8_t *key, size_t key_len, uint32_t window_s);
    /* Copies len bytes of untrusted text (an email, a domain, a tag) into out (n bytes,
     * NUL-terminated) for a log line: bytes outside printable ASCII, '"' and '\\' become
     * \xNN. Returns out. 4 * len + 1 bytes always suffice. */
    char *(*log_escape)(const void *text, size_t len, char *out, size_t n);

    /* ---- ABI 1.3 ---- */
    /* As alloc/calloc/realloc/free, but counted against the module this table was given to
     * (`evproxy ctl stats` "memory"); self is this table. A block goes back through the same
     * table's mem_realloc/mem_free. Memory handed over to the host (users_list,
     * sip003_settings) still comes from alloc: the host frees it with libc's free. */
    void *(*mem_alloc)(const evp_host *self, size_t size);
    void *(*mem_calloc)(const evp_host *self, size_t n, size_t size);
    void *(*mem_realloc)(const evp_host *self, void *p, size_t size);
    void (*mem_free)(const evp_host *self, void *p);

    /* ---- ABI 1.4 ---- */
    /* A keyed store of small values owned by the host: one namespace per ns ("plugin.what",
     * at most 63 bytes), shared by every instance and every loaded copy of every plugin, so
     * reloads and hot swaps keep it. Keys 1..EVP_STATE_KEY_MAX bytes, values
     * 0..EVP_STATE_VALUE_MAX bytes, both copied in and out and wiped when dropped. A value
     * lives ttl_s seconds on the monotonic clock from its last state_put (0: until deleted).
     * Thread-safe; bounded (a full store refuses new keys).
     * Stores val under key: 0; with EVP_STATE_CREATE a live value already there is kept and
     * 1 is returned; -1 on a bad argument, a full store or no memory. Putting the value a
     * key already holds only renews its ttl. */
    int (*state_put)(const char *ns, const void *key, size_t key_len, const void *val,
                     size_t val_len, uint32_t ttl_s, unsigned flags);
    /* Copies min(length, cap) bytes of key's live value into val; returns its length, or -1
     * when there is none. */
    long (*state_get)(const char *ns, const void *key, size_t key_len, void *val, size_t cap);
    /* Drops key: 0, or -1 when it had no live value. */
    int (*state_del)(const char *ns, const void *key, size_t key_len);
    /* Calls fn (if not NULL) on each live entry of ns, in no order, then returns ns's change
     * count, which grows whenever a key is added, changes value, is deleted or expires. */
    uint64_t (*state_each)(const char *ns, evp_state_fn fn, void *ctx);

    /* ---- ABI 1.9 ---- */
    /* V2Ray's traffic counters ("user>>>EMAIL>>>traffic>>>uplink", ...), which the host
     * keeps as the config's stats and policy switches say. Calls fn with each counter whose
     * name starts with prefix ("": every one), in the order they were made; fn returns 1 to
     * zero that counter (after reading it), else 0. fn runs under the counters' lock: it must
     * not call stats_visit. Returns the number of counters visited. Thread-safe. */
    size_t (*stats_visit)(const char *prefix, evp_stats_fn fn, void *ctx);
};

/* What the host tells an instance when it is created. */
typedef struct evp_instance_args {
    uint32_t size;
    const char *tag; /* the inbound/outbound's tag, or "" */
    const char *settings_json; /* its "settings" object as JSON text, already schema-checked */
    uint16_t port; /* an inbound's (first) listening port, 0 otherwise: VMess detour names it */
} evp_instance_args;

/* What the host knows of an inbound when it asks for a share link (evp_inbound_ops
 * share_link, ABI 1.7). All borrowed for the call. */
typedef struct evp_link_args {
    uint32_t size;
    const char *user_json;   /* one user, whole, as users_list gives it with EVP_USERS_SECRETS */
    const char *tag;         /* the inbound's tag, or "" */
    const char *address;     /* the host a client dials (a name or an IP literal) */
    uint16_t port;           /* the port a client dials */
    const char *stream_json; /* the inbound's streamSettings as JSON text, NULL when absent */
    const char *format;      /* a link format the plugin names, NULL: its default */
} evp_link_args;

/* SIP003 mode's request for settings (see evp_plugin.sip003_settings). */
typedef struct evp_sip003_args {
    uint32_t size;
    int inbound; /* 1: the server side (an inbound); 0: the client side (an outbound) */
    const char *server_host; /* outbound: the server to dial */
    uint16_t server_port;
    int users_from_file; /* inbound: the host loads users from a clientsFile: none needed */
    int n; /* option pairs, unescaped; a flag's value is "" */
    const char *const *keys;
    const char *const *values;
} evp_sip003_args;

/* What the host tells an inbound of a new connection (session_open, ABI 1.7). */
typedef struct evp_session_info {
    uint32_t size;
    /* EVP_NET_TCP: a byte stream; EVP_NET_UDP: a peer's datagrams, each decode input one
     * record (see evp_io) */
    uint8_t network;
} evp_session_info;

/* Server side: parse/authenticate the client, name the target, then relay. */
typedef struct evp_inbound_ops {
    uint32_t size;
    /* Builds an instance from its settings; NULL and a one-line err on failure. */
    void *(*instance_new)(const evp_host *host, const evp_instance_args *args, char *err,
                          size_t errlen);
    void (*instance_free)(void *inst);
    /* A new accepted connection. NULL when out of memory. */
    void *(*session_new)(void *inst);
    void (*session_free)(void *sess);
    /* Client bytes -> target plaintext. Called once at accept with in_len == 0, so a
     * protocol whose target is fixed can return EVP_TARGET at once. */
    int (*decode)(void *sess, evp_io *io);
    /* Target plaintext -> client bytes. in_eof: the target ended; write end-of-stream. */
    int (*encode)(void *sess, evp_io *io);
    /* Optional: the outbound connected (ok != 0) or failed; reply bytes go to io->back. */
    int (*connected)(void *sess, int ok, evp_io *io);
    /* Optional: the authenticated user's label (email), or NULL. */
    const char *(*session_user)(void *sess);
    /* Optional: replace the user list from new settings in place; running sessions keep
     * theirs. 0 on success, -1 and err otherwise (the old list stays). */
    int (*instance_update)(void *inst, const evp_instance_args *args, char *err,
                           size_t errlen);

    /* ---- ABI 1.2: users (optional; a plugin with users offers all five) ----
     * The plugin owns its user format (a JSON object per user) and the tables built from it;
     * the host only moves JSON text: from a clientsFile ({"clients": [...]} or a bare array),
     * from the control socket, and back into the clientsFile. Every change swaps in a new
     * table: a running session keeps the user it authenticated as. Changes come from one
     * thread at a time; sessions may run on others. */
    /* Schema file stem of ONE user object (schema_dir/NAME.schema.json), e.g. "vmess-user":
     * the host validates each user against it before users_add/users_replace. */
    const char *user_schema;
    /* The users as a JSON array text, malloc'd with host->alloc (the host frees it), NULL
     * when out of memory. Without EVP_USERS_SECRETS secrets are shortened for display; with
     * it they are whole, as the host saves them to a clientsFile. */
    char *(*users_list)(void *inst, unsigned flags);
    /* Adds one user (JSON object text). 0, or -1 and err (a duplicate, a bad field...). */
    int (*users_add)(void *inst, const char *user_json, char *err, size_t errlen);
    /* Removes the user whose email or id (the plugin's own key) is key. 0, or -1 and err. */
    int (*users_remove)(void *inst, const char *key, char *err, size_t errlen);
    /* Replaces every user (JSON array text). 0, or -1 and err; on failure nothing changes. */
    int (*users_replace)(void *inst, const char *users_json, char *err, size_t errlen);

    /* ---- ABI 1.4 ---- */
    /* Optional: the session has been quiet for a while (a relaying session, nothing read or
     * written for ~2 s, nothing queued): drop what the next decode/encode can rebuild, such
     * as expanded cipher state. Any hook may follow; idle sessions are not told again until
     * they have been active. */
    void (*session_idle)(void *sess);

    /* ---- ABI 1.5 ---- */
    uint32_t flags; /* EVP_IN_* */

    /* ---- ABI 1.7 ---- */
    /* Optional: the link a client imports to reach this inbound as the user in args (one
     * line of text, malloc'd with host->alloc: the host frees it), or NULL and a one-line
     * err (an unknown format, a user the format cannot carry). */
    char *(*share_link)(void *inst, const evp_link_args *args, char *err, size_t errlen);
    /* Optional: as session_new, told what kind of connection it is; the host calls it
     * instead of session_new when set. */
    void *(*session_open)(void *inst, const evp_session_info *info);
    /* Optional: the authenticated user's policy level (policy.levels), once the target is
     * named; the host applies that level's timeouts from then on. */
    uint32_t (*session_level)(void *sess);
} evp_inbound_ops;

#define EVP_USERS_SECRETS 1u
/* Once the target is named and connected() succeeded, decode and encode copy their input to
 * out unchanged and write nothing back (an end of input is the end of stream): the host may
 * then move TCP bytes itself and not call them. */
#define EVP_IN_PASS 1u

/* Client side: given a target, say where to dial, then encode/decode the stream. */
typedef struct evp_outbound_ops {
    uint32_t size;
    void *(*instance_new)(const evp_host *host, const evp_instance_args *args, char *err,
                          size_t errlen);
    void (*instance_free)(void *inst);
    /* A new session toward target; sets *dial (EVP_ADDR_NONE: dial nothing). */
    void *(*session_new)(void *inst, const evp_addr *target, uint8_t network, evp_addr *dial,
                         char *err, size_t errlen);
    void (*session_free)(void *sess);
    /* Client plaintext -> server bytes. First called once the dial succeeded and the
     * client's first bytes came or 100 ms passed (as V2Ray's client waits), so a header
     * may go with them; that call may have in_len == 0. in_eof: write end-of-stream. */
    int (*encode)(void *sess, evp_io *io);
    /* Server bytes -> client plaintext; EVP_EOF at the stream's own end marker. */
    int (*decode)(void *sess, evp_io *io);
    /* EVP_OUT_DATAGRAM: for UDP sessions the host dials a UDP socket and sends each record
     * as one datagram (freedom). Without it the host dials TCP and the plugin carries the
     * records inside its stream (vmess). */
    uint32_t flags;

    /* ---- ABI 1.4 ---- */
    /* Optional: as evp_inbound_ops.session_idle. */
    void (*session_idle)(void *sess);
} evp_outbound_ops;

#define EVP_OUT_DATAGRAM 1u
/* encode and decode copy their input to out unchanged and write nothing back (an end of
 * input is the end of stream): the host may move TCP bytes itself and not call them. */
#define EVP_OUT_PASS 2u
/* ABI 1.9: the outbound is a service that answers the client itself (V2Ray's `api`): with
 * dial EVP_ADDR_NONE the host keeps the session, and what encode writes to io->back goes to
 * the client through the outbound's decode (EVP_OUT_PASS-like: its input is that answer) and
 * the inbound's encode. The session ends once the client has ended. */
#define EVP_OUT_LOCAL 4u

/* ---- ABI 1.6: stream transports ----
 * A transport is one layer of a connection's stack, bottom (the socket) to top (the
 * protocol codec): socket -> proxy-protocol -> tls -> ws -> vmess. Each layer sees bytes
 * from the layer below and from the layer above and knows neither. The host builds the
 * stack per inbound (server side) and per outbound (client side) from streamSettings:
 *   sockopt/tcpSettings.acceptProxyProtocol -> "proxy-protocol"   (server side only)
 *   security "tls"                          -> "tls"   (tlsSettings)
 *   network "ws"                            -> "ws"    (wsSettings)
 *   network "http" or "h2"                  -> "h2"    (httpSettings)
 *   network "tcp" + tcpSettings.header.type "http" -> "http-header" (tcpSettings)
 * and finds each layer's module by that name, as it finds protocols (built-in or NAME.so).
 *
 * Direction words: decode moves bytes UP (from the socket toward the protocol), encode
 * moves them DOWN. Both use evp_io as the protocol hooks do:
 *   decode: in = bytes from below; out = bytes for the layer above; back = bytes this
 *     layer sends down on its own (a TLS handshake flight, a WebSocket pong or Close, an
 *     HTTP 101 reply): the host passes them through the encode of the layers BELOW this
 *     one, in order with everything else going down. in_eof: the layer below ended.
 *     Returns EVP_OK; EVP_EOF when the layer's own end arrived (TLS close_notify, a
 *     WebSocket Close): the layer above then sees in_eof; EVP_ERR with reason (and drain:
 *     bytes to swallow before closing, as a protocol does against probes); or, server side
 *     only, EVP_TARGET: io->target is the client's real address as a trusted front told it
 *     (PROXY protocol, X-Forwarded-For) - the host uses it for logs, limits and routing by
 *     source, and calls decode again with the input after io->consumed.
 *   encode: in = bytes from the layer above; out = bytes for the layer below. A layer whose
 *     own handshake is not done may leave input unconsumed (consumed < in_len): the host
 *     keeps it and offers it again after the next decode. On a client (dialling) stack the
 *     host calls every layer's encode once with in_len == 0 as soon as the socket is
 *     connected, bottom layer first, so a layer that speaks first (TLS ClientHello, the
 *     WebSocket upgrade request) can; a layer may also wait for its first bytes from above
 *     (WebSocket early data). in_eof: the layer above ended: write this layer's end
 *     (close_notify, a Close frame) to out; the host half-closes the socket once every
 *     layer has flushed. A layer that cannot write its end yet (its handshake is not done)
 *     sets io->in_eof to 0 ("unconsumed"): the host then neither shuts the socket's write
 *     side nor ends the session, and calls encode with in_eof again after each decode.
 *     (An EVP_TR_CONN layer says the same by returning EVP_OK, below.)
 * Neither hook is called again on a session after it returned EVP_ERR or after decode
 * returned EVP_EOF and encode was given in_eof (for an EVP_TR_CONN layer: after the layer
 * below ended and encode returned EVP_EOF). Backpressure is the host's: it stops
 * reading a side while the bytes queued toward the other side (at any layer) are above its
 * high-water mark, so a layer never needs its own. */
typedef struct evp_transport_args {
    uint32_t size;
    int server;                /* 1: an inbound's (accepting) layer; 0: an outbound's (dialling) */
    const char *tag;           /* the inbound/outbound's tag, or "" */
    const char *settings_json; /* the layer's settings object (tlsSettings, wsSettings,
                                  tcpSettings...) as JSON text, schema-checked; "{}" if absent */
    const char *stream_json;   /* the whole streamSettings object: a layer may read a
                                  neighbour's choice (tls picks ALPN defaults from network) */
} evp_transport_args;

typedef struct evp_transport_ops {
    uint32_t size;
    /* Builds a layer's instance (files such as certificates read here); NULL and a one-line
     * err naming the setting or file on failure. */
    void *(*instance_new)(const evp_host *host, const evp_transport_args *args, char *err,
                          size_t errlen);
    void (*instance_free)(void *inst);
    /* Optional: on reload, rebuilds what the layer reads from files (a renewed certificate)
     * from args, in place; running sessions keep what they started with. 0, or -1 and err
     * naming the file: the reload is refused and the old state stays. */
    int (*instance_update)(void *inst, const evp_transport_args *args, char *err,
                           size_t errlen);
    /* One connection. peer: server side, the client's address as the socket saw it; client
     * side, the address dialled (a domain when the outbound named one), which a layer may
     * use as a default (TLS SNI, the WebSocket Host). NULL when out of memory. */
    void *(*session_new)(void *inst, const evp_addr *peer);
    void (*session_free)(void *sess);
    int (*decode)(void *sess, evp_io *io);
    int (*encode)(void *sess, evp_io *io);
    /* Optional: as evp_inbound_ops.session_idle. */
    void (*session_idle)(void *sess);
    uint32_t flags; /* EVP_TR_* */
} evp_transport_ops;

/* The layer carries the stream inside a connection that outlives the stream's two ends
 * (HTTP/2: window updates and pings go on after an END_STREAM). After decode returned
 * EVP_EOF the host goes on reading the socket and calling decode with the bytes from below
 * (nothing may go up any more) until the layer below ends; and the end from above ends the
 * layers below only once encode, given in_eof, returns EVP_EOF (EVP_OK: not yet - the
 * session does not end before - and the host calls encode with in_eof again after each
 * decode). */
#define EVP_TR_CONN 1u

/* ---- ABI 1.7: multiplexers ----
 * A multiplexer carries many sub-streams inside one stream (Mux.Cool). The host runs its
 * server side on the decoded stream of any inbound session whose target is a domain equal to
 * the multiplexer's `target` (V2Ray's convention: VMess command 3 names "v1.mux.cool", and
 * v2ray-plugin's server is a dokodemo-door pointed there). Each sub-stream the client opens is
 * then a session of its own to the host: routed, logged, counted and timed out on its own;
 * the session carrying them is not routed and its bytes are not counted twice.
 * A transport layer may be a multiplexer too (HTTP/2: each request its own stream): when an
 * inbound's top layer has mux ops, the host serves them on every connection instead of the
 * layer's transport ops, and each sub-stream it opens (EVP_MUX_NEW with no target) is a
 * session of that inbound's protocol.
 * The plugin frames and parses; the host decides what a frame means for its sessions (an id
 * it does not know, a cap on sub-streams, a target that stops reading). */
enum evp_mux_kind {
    EVP_MUX_NONE = 0, /* decode: no event yet (all input consumed) or a frame with no meaning
                         for the host (a keep-alive) */
    EVP_MUX_NEW = 1,  /* a sub-stream opens toward target over network (no target: it runs
                         the inbound's protocol); data: its first bytes */
    EVP_MUX_DATA = 2, /* bytes of sub-stream id (on UDP: exactly one datagram) */
    EVP_MUX_END = 3,  /* sub-stream id ends (error: it failed) */
};

typedef struct evp_mux_event {
    uint8_t kind;    /* enum evp_mux_kind */
    uint8_t network; /* NEW: EVP_NET_TCP or EVP_NET_UDP */
    uint8_t error;   /* END: the sub-stream failed */
    uint32_t id;
    evp_addr target; /* NEW: where the sub-stream goes */
    const uint8_t *data; /* NEW, DATA: borrowed until the next call on the connection */
    size_t len;
    /* ---- ABI 1.8 ---- */
    uint8_t has_global_id; /* NEW on UDP: global_id was sent (XUDP); all zero counts as none */
    uint8_t global_id[8];
    /* DATA on UDP: the datagram's far address (XUDP: where it goes, or, toward the client,
     * where it came from); type EVP_ADDR_NONE: the sub-stream's target. */
    evp_addr peer;
} evp_mux_event;

typedef struct evp_mux_ops {
    uint32_t size;
    /* The domain that names this multiplexer, e.g. "v1.mux.cool"; NULL for a transport
     * layer's (named by the layer's place in streamSettings). */
    const char *target;
    size_t max_data; /* the longest DATA payload encode takes */
    /* One multiplexed stream; server: 1 on the accepting side; inst: the layer's instance
     * for a transport layer's multiplexer, else NULL. NULL when out of memory. */
    void *(*conn_new)(void *inst, int server);
    void (*conn_free)(void *conn);
    /* Reads io->in up to the next event: EVP_OK with io->consumed and *ev set (kind
     * EVP_MUX_NONE: nothing for the host; call again with the input after io->consumed, or
     * with more input when all was consumed); EVP_ERR with io->reason when the stream is
     * broken (every later call fails alike). in_eof: the stream ended (EVP_ERR if inside a
     * frame). */
    int (*decode)(void *conn, evp_io *io, evp_mux_event *ev);
    /* Appends ev, framed, to out: EVP_OK, or EVP_ERR when ev cannot be written (data longer
     * than max_data, an unknown kind) or out of memory; out is then unchanged. decode may
     * write bytes of its own to io->back (HTTP/2's SETTINGS acks and window updates). */
    int (*encode)(void *conn, const evp_mux_event *ev, evp_buf *out);
    /* Optional: the stream has been quiet: drop what the next call can rebuild. */
    void (*conn_idle)(void *conn);
    /* Optional: bytes encode took and holds (a flow window not open yet): the host counts
     * them with its own queue toward the client for backpressure. */
    size_t (*conn_held)(void *conn);
} evp_mux_ops;

typedef struct evp_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* sizeof(evp_plugin) as the plugin was built */
    const char *name; /* protocol name in configs, e.g. "vmess" */
    const char *version;
    const char *inbound_schema; /* schema file stem, e.g. "vmess-inbound", or NULL */
    const char *outbound_schema;
    /* Optional: called once after load with the host services; 0 ok, -1 refuse. */
    int (*init)(const evp_host *host);
    /* Optional: called once before unload. */
    void (*fini)(void);
    const evp_inbound_ops *inbound; /* NULL if none */
    const evp_outbound_ops *outbound; /* NULL if none */

    /* ---- ABI 1.2 ---- */
    /* Optional: SIP003 mode. Turns the options the host does not take itself into this
     * plugin's settings JSON text (malloc'd with host->alloc), or NULL and err (e.g. an
     * unknown or missing option). Called after init. */
    char *(*sip003_settings)(const evp_host *host, const evp_sip003_args *args,
                             char *err, size_t errlen);

    /* ---- ABI 1.6 ---- */
    const evp_transport_ops *transport; /* NULL if none; `name` is the layer's name */
    const char *transport_schema; /* its settings' schema file stem, e.g. "tls-settings" */

    /* ---- ABI 1.7 ---- */
    const evp_mux_ops *mux; /* NULL if none */
} evp_plugin;

#define EVP_ENTRY_SYMBOL "evp_plugin_entry"
typedef const evp_plugin *(*evp_plugin_entry_fn)(void);

/* The one symbol each plugin .so exports. */
EVP_EXPORT const evp_plugin *evp_plugin_entry(void);

#endif
