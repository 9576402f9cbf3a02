/* The client side of the upgrade (see handshake.h), written as V2Ray's gorilla/websocket
 * dialer writes it: Host, User-Agent, then the other headers sorted by name. */
#include "b64.h"
#include "handshake.h"
#include "http.h"

#include <arpa/inet.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct field {
    const char *name;
    const char *value;
    size_t value_len;
} field;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const field *)a)->name, ((const field *)b)->name);
}

/* The Host header's value when none is configured: the dialled address, with its port
 * unless it is the scheme's default (80, or 443 over TLS). */
static void default_host(const ws_session *s, char *out, size_t n)
{
    const evp_addr *a = &s->peer;
    char ip[INET6_ADDRSTRLEN + 2] = "";
    const char *name = ip;
    if (a->type == EVP_ADDR_DOMAIN) {
        name = (const char *)a->bytes;
    } else if (a->type == EVP_ADDR_IPV4) {
        inet_ntop(AF_INET, a->bytes, ip, sizeof(ip));
    } else if (a->type == EVP_ADDR_IPV6 &&
               inet_ntop(AF_INET6, a->bytes, ip + 1, sizeof(ip) - 2) != NULL) {
        ip[0] = '[';
        strcat(ip, "]");
    }
    unsigned default_port = s->cfg->tls_below ? 443 : 80;
    if (a->port == default_port || a->port == 0)
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%s:%u", name, a->port);
}

/* Writes the request head with the fields (sorted here) to io->out; 0 or -1. */
static int write_request(ws_session *s, evp_io *io, field *f, size_t n)
{
    const evp_host *host = s->cfg->host;
    char host_value[300];
    if (s->cfg->host_header != NULL)
        snprintf(host_value, sizeof(host_value), "%s", s->cfg->host_header);
    else
        default_host(s, host_value, sizeof(host_value));
    const char *agent = "Go-http-client/1.1";
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].name, "User-Agent") == 0)
            agent = f[i].value; /* Go writes it right after Host, whoever set it */
        else
            f[m++] = f[i];
    }
    qsort(f, m, sizeof(*f), by_name);
    if (ws_puts(host, io->out, "GET ") != 0 || ws_puts(host, io->out, s->cfg->path) != 0 ||
        ws_puts(host, io->out, " HTTP/1.1\r\n") != 0 ||
        ws_put_header(host, io->out, "Host", host_value, strlen(host_value)) != 0 ||
        ws_put_header(host, io->out, "User-Agent", agent, strlen(agent)) != 0)
        return -1;
    for (size_t i = 0; i < m; i++)
        if (ws_put_header(host, io->out, f[i].name, f[i].value, f[i].value_len) != 0)
            return -1;
    return ws_put(host, io->out, "\r\n", 2);
}

int ws_client_request(ws_session *s, evp_io *io)
{
    const ws_config *c = s->cfg;
    const evp_host *host = c->host;
    uint8_t nonce[16];
    host->random_bytes(nonce, sizeof(nonce));
    base64_encode_raw(s->key, sizeof(nonce), nonce);
    s->key[BASE64_ENCODE_RAW_LENGTH(sizeof(nonce))] = '\0';

    size_t early = c->max_early > 0 ? io->in_len - io->consumed : 0;
    if (early > c->max_early)
        early = c->max_early;
    /* Early data goes in the named header, or as Xray's clients send it. */
    const char *ed_name = c->ed_header != NULL ? c->ed_header : "Sec-WebSocket-Protocol";
    char *ed_text = NULL;
    if (early > 0) {
        ed_text = host->mem_alloc(host, WS_B64URL_LEN(early) + 1);
        if (ed_text == NULL)
            return ws_fail(io, "out of memory");
        ws_b64url_encode(io->in + io->consumed, early, ed_text);
    }

    field *f = host->mem_calloc(host, c->n_headers + 5, sizeof(*f));
    if (f == NULL) {
        host->mem_free(host, ed_text);
        return ws_fail(io, "out of memory");
    }
    size_t n = 0;
    f[n++] = (field){"Connection", "Upgrade", 7};
    f[n++] = (field){"Sec-WebSocket-Key", s->key, strlen(s->key)};
    f[n++] = (field){"Sec-WebSocket-Version", "13", 2};
    f[n++] = (field){"Upgrade", "websocket", 9};
    for (size_t i = 0; i < c->n_headers; i++)
        if (early == 0 || strcasecmp(c->headers[i].name, ed_name) != 0)
            f[n++] = (field){c->headers[i].name, c->headers[i].value, strlen(c->headers[i].value)};
    if (early > 0)
        f[n++] = (field){ed_name, ed_text, WS_B64URL_LEN(early)};
    int r = write_request(s, io, f, n);
    host->mem_free(host, f);
    host->mem_free(host, ed_text);
    if (r != 0)
        return ws_fail(io, "out of memory");
    io->consumed += early;
    s->state = WS_WAIT_101;
    return EVP_OK;
}

/* The status line, made printable, for a refusal's reason. */
static void printable(const char *p, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
    out[j] = '\0';
}

int ws_client_response(ws_session *s, evp_io *io)
{
    size_t scan = io->in_len < WS_HEAD_MAX ? io->in_len : WS_HEAD_MAX;
    size_t end = ws_http_head_end(io->in, scan);
    if (end == 0) {
        if (io->in_len >= WS_HEAD_MAX)
            return ws_fail(io, "upgrade response over 8 KiB");
        if (io->in_eof)
            return ws_fail(io, "the connection ended before the upgrade response");
        return EVP_OK;
    }
    ws_head h;
    if (ws_http_parse(io->in, end, &h) != 0)
        return ws_fail(io, "malformed upgrade response");
    if (h.first_len < 12 || memcmp(h.text, "HTTP/1.", 7) != 0 ||
        memcmp(h.text + 8, " 101", 4) != 0 || (h.first_len > 12 && h.text[12] != ' ')) {
        char line[64];
        printable(h.text, h.first_len, line, sizeof(line));
        return ws_fail(io, "upgrade refused: %s", line);
    }
    if (!ws_http_has_token(&h, "Upgrade", "websocket") ||
        !ws_http_has_token(&h, "Connection", "upgrade"))
        return ws_fail(io, "101 without Upgrade: websocket and Connection: upgrade");
    char want[WS_ACCEPT_LEN + 1];
    const char *got;
    size_t pos = 0, got_len;
    ws_accept_for(s->key, strlen(s->key), want);
    /* Not a secret (both sides can compute it): a plain compare is fine. */
    if (!ws_http_next(&h, "Sec-WebSocket-Accept", &pos, &got, &got_len) ||
        got_len != WS_ACCEPT_LEN || memcmp(got, want, WS_ACCEPT_LEN) != 0)
        return ws_fail(io, "wrong Sec-WebSocket-Accept in the 101");
    if (ws_frames_open(&s->frames, s->cfg->host, 0) != 0)
        return ws_fail(io, "out of memory");
    io->consumed = end;
    s->state = WS_OPEN;
    return EVP_OK;
}
