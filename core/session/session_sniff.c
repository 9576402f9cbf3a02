/* Sniffing, the session side (inbound "sniffing", as V2Ray 4.34's dispatcher does it): once
 * the inbound has named a TCP target, and before it is routed, the client's first bytes are
 * read, at most EVP_SNIFF_READS times waiting EVP_SNIFF_WAIT each, and an HTTP Host or TLS
 * SNI found in them that destOverride names replaces the target's address (its port kept):
 * routing, dialling and the log lines after it see the domain. The access log keeps the
 * target the client named, as V2Ray's does. A client that sends nothing first (the server
 * speaks first: SMTP, SSH) goes on to its original target once the reads are used up.
 *
 * An inbound that answers before the client sends (SOCKS, HTTP CONNECT) answers now, as
 * V2Ray's do before they dispatch. The bytes read stay where the relay takes them: in the
 * client's read buffer when the inbound passes bytes through, else decoded in s->plain
 * (session_relay.c sends them first, moving the buffer whole when it can). */
#include "session_int.h"

#include "ip_literal.h"
#include "log.h"
#include "sniff.h"

#include <stdlib.h>
#include <string.h>

int evp_sess_sniff_wanted(const evp_session *s)
{
    return (s->in->sniff & EVP_SNIFF_ON) && s->network == EVP_NET_TCP && !s->forced_out &&
           !s->carrier && !s->sniffed;
}

/* The inbound's decode is skipped: the bytes read are the client's plaintext. */
static int passes_in(const evp_session *s)
{
    return (s->inops->flags & EVP_IN_PASS) && s->cl.kind == EP_STREAM;
}

static evp_qbuf *sniff_bytes(evp_session *s)
{
    return passes_in(s) ? &s->cl.rbuf : &s->plain;
}

/* Decodes what the client sent into s->plain, as the relay would. 0, or -1 when the session
 * was closed. The protocol's own end (EVP_EOF) ends the client's side, as in the relay. */
static int decode_some(evp_session *s)
{
    endpoint *cl = &s->cl;
    while (evp_qbuf_len(&cl->rbuf) > 0 && !cl->eof) {
        evp_io io;
        int r = evp_sess_run_codec(s->inops->decode, s->ins, evp_qbuf_head(&cl->rbuf),
                                   evp_qbuf_len(&cl->rbuf), 0, &s->plain.b, &cl->wbuf.b, &io);
        evp_qbuf_take(&cl->rbuf, io.consumed);
        if (r == EVP_ERR) {
            evp_sess_close(s, io.reason[0] ? io.reason : "inbound decode failed");
            return -1;
        }
        if (r == EVP_EOF) {
            evp_qbuf_take(&cl->rbuf, evp_qbuf_len(&cl->rbuf)); /* nothing may follow */
            cl->eof = 1;
        }
        if (io.consumed == 0)
            break; /* the codec needs more bytes */
    }
    return 0;
}

/* A sniffer found f: the target becomes its domain when destOverride names its protocol. */
static void take_domain(evp_session *s, const evp_sniffed *f)
{
    s->sniffed_protocol = f->protocol;
    if (!(s->in->sniff & f->override_bit) || f->len == 0)
        return;
    evp_addr a;
    memset(&a, 0, sizeof a);
    a.port = s->target.port;
    if (!evp_ip_literal(f->domain, f->len, &a)) { /* V2Ray reads it as an address too */
        a.type = EVP_ADDR_DOMAIN;
        a.len = (uint8_t)f->len;
        memcpy(a.bytes, f->domain, f->len);
    }
    if (s->access_to == NULL)
        s->access_to = strdup(s->label); /* NULL when out of memory: the new label is used */
    char was[sizeof s->label];
    memcpy(was, s->label, sizeof was);
    s->target = a;
    evp_sess_addr_label(&s->target, s->network, s->label, sizeof s->label);
    evp_info("%s sniffed %s: routed and dialled as %s", was, f->protocol, s->label);
}

/* The sniff is over: route and dial (the connect timeout runs from now). */
static void sniff_over(evp_session *s)
{
    s->sniffed = 1;
    ev_timer_stop(s->rt->loop, &s->timer);
    evp_sess_touch(s);
    ev_timer_set(&s->timer, s->rt->connect_timeout, 0.);
    ev_timer_start(s->rt->loop, &s->timer);
    evp_sess_route(s);
}

/* One read of the first payload ended (bytes came, the client ended, or the wait ran out):
 * sniff what is there, then wait again or go on. */
static void sniff_read(evp_session *s)
{
    evp_qbuf *q = sniff_bytes(s);
    size_t n = evp_qbuf_len(q);
    s->sniff_reads++;
    s->sniff_seen = (uint16_t)(n < EVP_SNIFF_MAX ? n : EVP_SNIFF_MAX); /* more ends the sniff */
    if (n > 0) {
        evp_sniffed f;
        int r = evp_sniffer_run(&s->sniffer, evp_qbuf_head(q),
                                n < EVP_SNIFF_MAX ? n : EVP_SNIFF_MAX, &f);
        if (r == EVP_SNIFF_FOUND)
            take_domain(s, &f);
        if (r != EVP_SNIFF_NO_CLUE || n >= EVP_SNIFF_MAX) {
            sniff_over(s);
            return;
        }
    }
    if (s->sniff_reads >= EVP_SNIFF_READS || s->cl.eof) {
        evp_debug("%s: nothing sniffed from the first payload (%zu bytes)", s->label, n);
        sniff_over(s);
        return;
    }
    ev_timer_stop(s->rt->loop, &s->timer);
    ev_timer_set(&s->timer, EVP_SNIFF_WAIT, 0.);
    ev_timer_start(s->rt->loop, &s->timer);
    evp_sess_flush_all(s);
}

void evp_sess_sniff_start(evp_session *s)
{
    s->state = S_SNIFF;
    if (s->inops->connected) {
        evp_io io;
        memset(&io, 0, sizeof io);
        io.out = &s->plain.b;
        io.back = &s->cl.wbuf.b;
        if (s->inops->connected(s->ins, 1, &io) == EVP_ERR) {
            evp_sess_close(s, io.reason[0] ? io.reason : "inbound refused");
            return;
        }
        s->answered = 1;
    }
    if (!passes_in(s) && decode_some(s) != 0)
        return;
    if (evp_qbuf_len(sniff_bytes(s)) > 0 || s->cl.eof) {
        sniff_read(s);
        return;
    }
    ev_timer_stop(s->rt->loop, &s->timer);
    ev_timer_set(&s->timer, EVP_SNIFF_WAIT, 0.);
    ev_timer_start(s->rt->loop, &s->timer);
    evp_sess_flush_all(s); /* the answer goes out; the client's bytes are read */
}

void evp_sess_sniff_input(evp_session *s)
{
    if (!passes_in(s) && decode_some(s) != 0)
        return;
    /* A read that brought no plaintext yet (half a record, a layer's partial frame) is not
     * one of V2Ray's reads: its pipe sees nothing. */
    if (evp_qbuf_len(sniff_bytes(s)) == s->sniff_seen && !s->cl.eof) {
        evp_sess_flush_all(s);
        return;
    }
    sniff_read(s);
}

void evp_sess_sniff_timeout(evp_session *s)
{
    sniff_read(s);
}
