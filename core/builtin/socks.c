/* SOCKS5 server inbound (RFC 1928, RFC 1929): method selection, optional username/password,
 * CONNECT; then the stream passes through unchanged.
 *
 * Replies: a CONNECT whose outbound fails gets 0x04 (host unreachable): the host only tells
 * us "failed", and that covers refusal, timeout and resolution alike. BIND gets 0x07, and so
 * does UDP ASSOCIATE unless settings.udp; an unknown ATYP 0x08, an empty domain 0x01; a
 * request whose version is not 5 is closed without a reply. Username/password failure is
 * status 0x01 (V2Ray sends 0xFF; both mean failure under RFC 1929).
 *
 * UDP ASSOCIATE (settings.udp): decode returns EVP_TARGET with network EVP_NET_UDP_RELAY and
 * the address the client gave; the host opens the relay and calls connected() with
 * io->target = the relay's bound address, which the reply carries (settings.ip, when set,
 * replaces its host); a relay that cannot open gets 0x01. The control connection then
 * carries nothing. */
#include "builtin.h"
#include "common.h"
#include "socks_addr.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#ifndef EVP_VERSION
#define EVP_VERSION "0"
#endif

enum {
    SOCKS_VER = 0x05,
    AUTH_VER = 0x01, /* RFC 1929 sub-negotiation version */
    METHOD_NONE = 0x00,
    METHOD_PASSWORD = 0x02,
    METHOD_UNACCEPTABLE = 0xFF,
    CMD_CONNECT = 0x01,
    CMD_BIND = 0x02,
    CMD_UDP = 0x03,
    REP_OK = 0x00,
    REP_FAILURE = 0x01,
    REP_HOST_UNREACHABLE = 0x04,
    REP_CMD_UNSUPPORTED = 0x07,
    REP_ATYP_UNSUPPORTED = 0x08,
};

typedef struct socks_account {
    uint8_t ulen, plen;
    uint8_t user[255];
    uint8_t pass[255];
} socks_account;

typedef struct socks_inst {
    const evp_host *host;
    int password; /* auth "password" */
    int udp;
    uint32_t level;
    evp_addr ip; /* settings.ip for UDP ASSOCIATE replies; EVP_ADDR_NONE when absent */
    size_t naccounts;
    socks_account *accounts; /* owned; passwords wiped on free */
} socks_inst;

enum socks_state { ST_GREET, ST_AUTH, ST_REQUEST, ST_WAIT, ST_RELAY, ST_ASSOC, ST_DEAD };

typedef struct socks_sess {
    const socks_inst *inst; /* the host keeps the instance alive while sessions run */
    uint8_t state;          /* enum socks_state */
    uint8_t udp;            /* the request was UDP ASSOCIATE */
    char user[256];         /* the authenticated user, or "" */
} socks_sess;

/* What one handshake step did with the bytes it was shown. */
enum step { STEP_MORE, STEP_NEXT, STEP_TARGET, STEP_FAIL };

static int fail(evp_io *io, const char *why)
{
    snprintf(io->reason, sizeof io->reason, "socks: %s", why);
    return STEP_FAIL;
}

static int put2(socks_sess *s, evp_io *io, uint8_t a, uint8_t b)
{
    const uint8_t msg[2] = {a, b};
    return evp_builtin_put(s->inst->host, io, io->back, msg, sizeof msg);
}

/* VER REP RSV ATYP BND.ADDR BND.PORT; BND is 0.0.0.0:0 (as V2Ray answers) unless given. */
static int reply_bound(socks_sess *s, evp_io *io, uint8_t rep, const evp_addr *bnd)
{
    uint8_t msg[3 + EVP_SOCKS_ADDR_MAX] = {SOCKS_VER, rep, 0x00};
    size_t k = bnd != NULL ? evp_socks_addr_write(bnd, msg + 3) : 0;
    if (k == 0) {
        static const uint8_t any[7] = {EVP_SOCKS_ATYP_IPV4};
        memcpy(msg + 3, any, sizeof any);
        k = sizeof any;
    }
    return evp_builtin_put(s->inst->host, io, io->back, msg, 3 + k);
}

static int reply(socks_sess *s, evp_io *io, uint8_t rep)
{
    return reply_bound(s, io, rep, NULL);
}

static int step_greet(socks_sess *s, const uint8_t *p, size_t n, evp_io *io, size_t *used)
{
    if (n < 1)
        return STEP_MORE;
    if (p[0] == 0x04)
        return fail(io, "SOCKS4 is not supported");
    if (p[0] != SOCKS_VER) {
        char why[64];
        snprintf(why, sizeof why, "not a SOCKS5 greeting (version 0x%02x)", p[0]);
        return fail(io, why);
    }
    if (n < 2 || n < 2 + (size_t)p[1])
        return STEP_MORE;
    uint8_t want = s->inst->password ? METHOD_PASSWORD : METHOD_NONE;
    if (memchr(p + 2, want, p[1]) == NULL) {
        if (put2(s, io, SOCKS_VER, METHOD_UNACCEPTABLE) != 0)
            return STEP_FAIL;
        return fail(io, s->inst->password ? "client does not offer username/password"
                                          : "client does not offer no-authentication");
    }
    if (put2(s, io, SOCKS_VER, want) != 0)
        return STEP_FAIL;
    s->state = want == METHOD_PASSWORD ? ST_AUTH : ST_REQUEST;
    *used = 2 + (size_t)p[1];
    return STEP_NEXT;
}

/* Compares every account without stopping early, in constant time per field. */
static const socks_account *find_account(const socks_inst *in, const uint8_t *u, size_t ulen,
                                         const uint8_t *pw, size_t plen)
{
    const socks_account *hit = NULL;
    for (size_t i = 0; i < in->naccounts; i++) {
        const socks_account *a = &in->accounts[i];
        int ok = a->ulen == ulen && a->plen == plen;
        ok &= sodium_memcmp(a->user, u, a->ulen == ulen ? ulen : 0) == 0;
        ok &= sodium_memcmp(a->pass, pw, a->plen == plen ? plen : 0) == 0;
        if (ok && hit == NULL)
            hit = a;
    }
    return hit;
}

static int step_auth(socks_sess *s, const uint8_t *p, size_t n, evp_io *io, size_t *used)
{
    if (n < 1)
        return STEP_MORE;
    if (p[0] != AUTH_VER) {
        if (put2(s, io, AUTH_VER, 0x01) != 0)
            return STEP_FAIL;
        return fail(io, "bad username/password sub-negotiation version");
    }
    if (n < 2 || n < 3 + (size_t)p[1])
        return STEP_MORE;
    size_t ulen = p[1], plen = p[2 + ulen];
    if (n < 3 + ulen + plen)
        return STEP_MORE;
    const socks_account *a = find_account(s->inst, p + 2, ulen, p + 3 + ulen, plen);
    if (a == NULL) {
        if (put2(s, io, AUTH_VER, 0x01) != 0)
            return STEP_FAIL;
        return fail(io, "invalid username or password");
    }
    if (put2(s, io, AUTH_VER, 0x00) != 0)
        return STEP_FAIL;
    memcpy(s->user, a->user, a->ulen);
    s->user[a->ulen] = '\0';
    s->state = ST_REQUEST;
    *used = 3 + ulen + plen;
    return STEP_NEXT;
}

static int bad_command(socks_sess *s, evp_io *io, uint8_t cmd)
{
    if (reply(s, io, REP_CMD_UNSUPPORTED) != 0)
        return STEP_FAIL;
    if (cmd == CMD_BIND)
        return fail(io, "BIND is not supported");
    if (cmd == CMD_UDP)
        return fail(io, "UDP ASSOCIATE refused: settings.udp is off");
    char why[64];
    snprintf(why, sizeof why, "unknown command 0x%02x", cmd);
    return fail(io, why);
}

static int step_request(socks_sess *s, const uint8_t *p, size_t n, evp_io *io, size_t *used)
{
    if (n < 1)
        return STEP_MORE;
    if (p[0] != SOCKS_VER)
        return fail(io, "request version is not 5");
    if (n < 2)
        return STEP_MORE;
    if (p[1] != CMD_CONNECT && !(p[1] == CMD_UDP && s->inst->udp))
        return bad_command(s, io, p[1]);
    if (n < 4)
        return STEP_MORE;
    int r = evp_socks_addr_read(p + 3, n - 3, &io->target);
    if (r == EVP_SOCKS_ADDR_MORE)
        return STEP_MORE;
    if (r == EVP_SOCKS_ADDR_BADTYPE) {
        if (reply(s, io, REP_ATYP_UNSUPPORTED) != 0)
            return STEP_FAIL;
        char why[64];
        snprintf(why, sizeof why, "address type 0x%02x not supported", p[3]);
        return fail(io, why);
    }
    if (r == EVP_SOCKS_ADDR_EMPTY) {
        if (reply(s, io, REP_FAILURE) != 0)
            return STEP_FAIL;
        return fail(io, "empty domain name (or one with a NUL) in request");
    }
    /* For UDP ASSOCIATE the address is where the client will send from (often 0.0.0.0:0). */
    s->udp = p[1] == CMD_UDP;
    io->network = s->udp ? EVP_NET_UDP_RELAY : EVP_NET_TCP;
    s->state = ST_WAIT;
    *used = 3 + (size_t)r;
    return STEP_TARGET;
}

static int socks_decode(void *sp, evp_io *io)
{
    socks_sess *s = sp;
    if (s->udp && (s->state == ST_WAIT || s->state == ST_ASSOC)) {
        /* The control connection of a UDP relay carries nothing: ignore what comes. */
        io->consumed = io->in_len;
        return io->in_eof ? EVP_EOF : EVP_OK;
    }
    if (s->state == ST_WAIT || s->state == ST_RELAY) /* pipelined or relayed bytes */
        return evp_builtin_pass_decode(s->inst->host, io);
    size_t off = 0;
    for (;;) {
        /* The host's call at accept has in == NULL; NULL + 0 is undefined (fuzz). */
        const uint8_t *p = io->in != NULL ? io->in + off : NULL;
        size_t n = io->in_len - off, used = 0;
        int r;
        switch (s->state) {
        case ST_GREET:
            r = step_greet(s, p, n, io, &used);
            break;
        case ST_AUTH:
            r = step_auth(s, p, n, io, &used);
            break;
        case ST_REQUEST:
            r = step_request(s, p, n, io, &used);
            break;
        default:
            r = fail(io, "session already failed");
            break;
        }
        off += used;
        if (r == STEP_NEXT)
            continue;
        io->consumed = off;
        if (r == STEP_TARGET)
            return EVP_TARGET;
        if (r == STEP_MORE && !io->in_eof)
            return EVP_OK;
        if (r == STEP_MORE)
            fail(io, "client closed during the handshake");
        s->state = ST_DEAD;
        return EVP_ERR;
    }
}

static int socks_encode(void *sp, evp_io *io)
{
    socks_sess *s = sp;
    if (s->state != ST_RELAY && io->in_len > 0) {
        snprintf(io->reason, sizeof io->reason, "socks: target data before the CONNECT reply");
        return EVP_ERR;
    }
    return evp_builtin_pass(s->inst->host, io);
}

/* The UDP relay is open (io->target = its bound address) or could not be opened. */
static int udp_connected(socks_sess *s, int ok, evp_io *io)
{
    if (!ok) {
        s->state = ST_DEAD;
        if (reply(s, io, REP_FAILURE) == 0)
            snprintf(io->reason, sizeof io->reason, "socks: no UDP relay (replied 0x01)");
        return EVP_ERR;
    }
    evp_addr bnd = io->target;
    if (s->inst->ip.type != EVP_ADDR_NONE) {
        bnd = s->inst->ip;
        bnd.port = io->target.port;
    }
    if (reply_bound(s, io, REP_OK, &bnd) != 0)
        return EVP_ERR;
    s->state = ST_ASSOC;
    return EVP_OK;
}

static int socks_connected(void *sp, int ok, evp_io *io)
{
    socks_sess *s = sp;
    if (s->state != ST_WAIT) {
        snprintf(io->reason, sizeof io->reason, "socks: connected() without a pending CONNECT");
        return EVP_ERR;
    }
    if (s->udp)
        return udp_connected(s, ok, io);
    if (reply(s, io, ok ? REP_OK : REP_HOST_UNREACHABLE) != 0)
        return EVP_ERR;
    if (!ok) {
        s->state = ST_DEAD;
        snprintf(io->reason, sizeof io->reason, "socks: outbound failed (replied 0x04)");
        return EVP_ERR;
    }
    s->state = ST_RELAY;
    return EVP_OK;
}

static const char *socks_session_user(void *sp)
{
    socks_sess *s = sp;
    return s->user[0] ? s->user : NULL;
}

/* settings.userLevel: the policy level of every session, as V2Ray's socks server applies. */
static uint32_t socks_session_level(void *sp)
{
    return ((socks_sess *)sp)->inst->level;
}

static void *socks_session_new(void *ip)
{
    return evp_builtin_session_new(ip, sizeof(socks_sess)); /* ST_GREET is 0 */
}

static void socks_instance_free(void *ip)
{
    socks_inst *in = ip;
    if (in == NULL)
        return;
    evp_builtin_free_wiped(in->host, in->accounts, in->naccounts * sizeof *in->accounts);
    in->host->free(in);
}

static int parse_account(const json_t *o, size_t i, socks_account *a, char *err, size_t errlen)
{
    const char *user, *pass;
    char key[48];
    snprintf(key, sizeof key, "accounts[%zu]", i);
    if (!json_is_object(o)) {
        snprintf(err, errlen, "settings.%s: not an object", key);
        return -1;
    }
    if (evp_builtin_get_str(o, "user", NULL, &user, err, errlen) != 0 ||
        evp_builtin_get_str(o, "pass", NULL, &pass, err, errlen) != 0)
        return -1;
    if (user == NULL || pass == NULL) {
        snprintf(err, errlen, "settings.%s: needs \"user\" and \"pass\"", key);
        return -1;
    }
    size_t ulen = strlen(user), plen = strlen(pass);
    if (ulen > 255 || plen > 255) { /* RFC 1929 carries each in one length byte */
        snprintf(err, errlen, "settings.%s: user and pass must be at most 255 bytes", key);
        return -1;
    }
    a->ulen = (uint8_t)ulen;
    a->plen = (uint8_t)plen;
    memcpy(a->user, user, ulen);
    memcpy(a->pass, pass, plen);
    return 0;
}

static int parse_settings(socks_inst *in, const json_t *o, char *err, size_t errlen)
{
    const char *auth, *ip;
    long long level;
    if (evp_builtin_get_str(o, "auth", "noauth", &auth, err, errlen) != 0 ||
        evp_builtin_get_bool(o, "udp", 0, &in->udp, err, errlen) != 0 ||
        evp_builtin_get_str(o, "ip", NULL, &ip, err, errlen) != 0 ||
        evp_builtin_get_int(o, "userLevel", 0, UINT32_MAX, 0, &level, err, errlen) != 0)
        return -1;
    in->level = (uint32_t)level;
    if (strcmp(auth, "password") == 0) {
        in->password = 1;
    } else if (strcmp(auth, "noauth") != 0) {
        snprintf(err, errlen, "settings.auth: \"%s\" is neither \"noauth\" nor \"password\"", auth);
        return -1;
    }
    if (ip != NULL && evp_builtin_host_addr(&in->ip, ip) != 0) {
        snprintf(err, errlen, "settings.ip: \"%s\" is not an address", ip);
        return -1;
    }
    const json_t *acc = json_object_get(o, "accounts");
    if (acc != NULL && !json_is_null(acc) && !json_is_array(acc)) {
        snprintf(err, errlen, "settings.accounts: not an array");
        return -1;
    }
    size_t n = acc != NULL ? json_array_size(acc) : 0;
    if (in->password && n == 0) {
        snprintf(err, errlen, "settings.accounts: auth \"password\" needs at least one account");
        return -1;
    }
    if (n > 0) {
        in->accounts = in->host->calloc(n, sizeof *in->accounts);
        if (in->accounts == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        in->naccounts = n;
    }
    for (size_t i = 0; i < n; i++)
        if (parse_account(json_array_get(acc, i), i, &in->accounts[i], err, errlen) != 0)
            return -1;
    return 0;
}

static int parse_any(void *in, const json_t *o, char *err, size_t errlen)
{
    return parse_settings(in, o, err, errlen);
}

static void *socks_instance_new(const evp_host *host, const evp_instance_args *args, char *err,
                                size_t errlen)
{
    return evp_builtin_instance_new(host, args, sizeof(socks_inst), parse_any, socks_instance_free,
                                    err, errlen);
}

static const evp_inbound_ops socks_inbound = {
    .size = sizeof(evp_inbound_ops),
    .instance_new = socks_instance_new,
    .instance_free = socks_instance_free,
    .session_new = socks_session_new,
    .session_free = evp_builtin_session_free,
    .decode = socks_decode,
    .encode = socks_encode,
    .connected = socks_connected,
    .session_user = socks_session_user,
    .session_level = socks_session_level,
    .flags = EVP_IN_PASS, /* after a CONNECT (a UDP relay's control connection never relays) */
};

static const evp_plugin socks_plugin = {
    .abi_major = EVP_ABI_MAJOR,
    .abi_minor = EVP_ABI_MINOR,
    .size = sizeof(evp_plugin),
    .name = "socks",
    .version = EVP_VERSION,
    .inbound_schema = "socks-inbound",
    .inbound = &socks_inbound,
    .outbound_schema = "socks-outbound",
    .outbound = &evp_builtin_socks_outbound,
};

const evp_plugin *evp_builtin_socks(void)
{
    return &socks_plugin;
}
