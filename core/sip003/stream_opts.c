/* SIP003 transport options -> streamSettings (see stream_opts.h). The names and meanings are
 * v2ray-plugin's (shared/sip003.md §4), so an ss-libev user moves over by changing the plugin
 * name and adding id=; the default here stays plain TCP where v2ray-plugin's is websocket,
 * so an option that only means something over ws or tls is refused without them rather than
 * silently dropped. */
#include "stream_opts.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const transport_keys[] = {"mode", "tls",  "host", "path",
                                             "cert", "key",  "mux",  "certRaw"};

/* Appended to refusals of an option given without the layer it belongs to. */
#define DEFAULT_HINT "(vmess-plugin's default is plain TCP; v2ray-plugin's was websocket)"

int evp_sip003_stream_option(const char *key)
{
    for (size_t i = 0; i < sizeof transport_keys / sizeof transport_keys[0]; i++)
        if (strcmp(key, transport_keys[i]) == 0)
            return 1;
    return 0;
}

/* The transport options as given; NULL when absent. */
typedef struct {
    const char *mode, *tls, *host, *path, *cert, *key, *mux, *cert_raw;
} stream_opts;

static const char *first(const char *const *keys, const char *const *values, int n,
                         const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], name) == 0)
            return values[i];
    return NULL;
}

__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t errlen,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A value that goes into an HTTP header, the SNI or a file name: not empty, no spaces or
 * control characters (the ws schema would refuse them later, naming a config path the user
 * never wrote). */
static int bad_value(const char *name, const char *v, char *err, size_t errlen)
{
    if (v == NULL)
        return 0;
    if (*v == '\0')
        return refuse(err, errlen, "%s needs a value (%s=...)", name, name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return refuse(err, errlen, "%s must have no spaces or control characters", name);
    return 0;
}

/* mux=N: 0..1024, or -1. */
static long mux_value(const char *v)
{
    char *end;
    errno = 0;
    long m = strtol(v, &end, 10);
    return *v == '\0' || *end != '\0' || errno || m < 0 || m > 1024 ? -1 : m;
}

int evp_sip003_mux(const char *const *keys, const char *const *values, int n)
{
    const char *v = first(keys, values, n, "mux");
    long m = v ? mux_value(v) : 0;
    return m > 0 ? (int)m : 0;
}

/* Refusals that need no file system: each option's value and the layers it needs. */
static int check_opts(const stream_opts *o, int server, int ws, int tls, char *err,
                      size_t errlen)
{
    if (o->cert_raw)
        return refuse(err, errlen, "certRaw is not supported: name the file with cert=FILE");
    if (o->mux && mux_value(o->mux) < 0)
        return refuse(err, errlen, "mux is the number of sub-streams per connection, 0 "
                                   "(off) to 1024, not mux=%s", o->mux);
    if (o->mode && strcmp(o->mode, "quic") == 0)
        return refuse(err, errlen, "mode=quic is not supported (QUIC runs over UDP, which "
                                   "ss-libev's plugins do not carry): use mode=websocket");
    if (o->mode && !ws)
        return refuse(err, errlen, "mode must be websocket (or left out for plain TCP), "
                                   "not \"%s\"", o->mode);
    if (o->tls && !tls)
        return refuse(err, errlen, "tls is a flag (tls, or tls=1), not tls=%s", o->tls);
    if (bad_value("host", o->host, err, errlen) || bad_value("path", o->path, err, errlen) ||
        bad_value("cert", o->cert, err, errlen) || bad_value("key", o->key, err, errlen))
        return -1;
    if (o->host && strchr(o->host, '/'))
        return refuse(err, errlen, "host must be a host name, not \"%s\"", o->host);
    if (o->path && !ws)
        return refuse(err, errlen, "path needs mode=websocket " DEFAULT_HINT);
    if (o->host && !ws && !tls)
        return refuse(err, errlen, "host needs mode=websocket or tls " DEFAULT_HINT);
    if ((o->cert || o->key) && !tls)
        return refuse(err, errlen, "%s needs tls", o->cert ? "cert" : "key");
    if (o->key && !server)
        return refuse(err, errlen, "key is the server's (server;tls;cert=FILE;key=FILE); a "
                                   "client trusts a certificate with cert=FILE");
    return 0;
}

/* The home directory acme.sh writes under: $HOME, else the password entry's. */
static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* A server certificate or key file: the option's value, or where acme.sh keeps it for host
 * (~/.acme.sh/HOST/fullchain.cer and HOST.key), as v2ray-plugin looks. out holds the path. */
static int server_file(const char *given, const char *what, const char *host, char *out,
                       size_t outlen, char *err, size_t errlen)
{
    if (given) {
        snprintf(out, outlen, "%s", given);
        return 0;
    }
    if (host == NULL)
        return refuse(err, errlen, "tls on the server needs cert=FILE and key=FILE, or "
                                   "host=NAME to use acme.sh's ~/.acme.sh/NAME/");
    const char *home = home_dir();
    if (home == NULL)
        return refuse(err, errlen, "no %s= given and no home directory for ~/.acme.sh/%s/",
                      what, host);
    int len = strcmp(what, "cert") == 0
                  ? snprintf(out, outlen, "%s/.acme.sh/%s/fullchain.cer", home, host)
                  : snprintf(out, outlen, "%s/.acme.sh/%s/%s.key", home, host, host);
    if (len < 0 || (size_t)len >= outlen)
        return refuse(err, errlen, "the ~/.acme.sh path for host %s is too long", host);
    if (access(out, R_OK) != 0)
        return refuse(err, errlen, "no %s= given, and acme.sh's %s cannot be read: %s", what,
                      out, strerror(errno));
    return 0;
}

static json_t *tls_settings(const stream_opts *o, int server, char *err, size_t errlen)
{
    if (server) {
        char cert[4096], key[4096];
        if (server_file(o->cert, "cert", o->host, cert, sizeof cert, err, errlen) ||
            server_file(o->key, "key", o->host, key, sizeof key, err, errlen))
            return NULL;
        return json_pack("{s:[{s:s, s:s}]}", "certificates", "certificateFile", cert,
                         "keyFile", key);
    }
    /* The client checks the server's name against host; cert is one more certificate to
     * trust beside the system's, as v2ray-plugin's AUTHORITY_VERIFY certificate is. */
    json_t *t = json_object();
    if (o->host)
        json_object_set_new(t, "serverName", json_string(o->host));
    if (o->cert)
        json_object_set_new(t, "certificates",
                            json_pack("[{s:s, s:s}]", "usage", "verify", "certificateFile",
                                      o->cert));
    return t;
}

int evp_sip003_stream(const char *const *keys, const char *const *values, int n, int server,
                      int default_ws, json_t **stream, char *err, size_t errlen)
{
    stream_opts o = {
        .mode = first(keys, values, n, "mode"), .tls = first(keys, values, n, "tls"),
        .host = first(keys, values, n, "host"), .path = first(keys, values, n, "path"),
        .cert = first(keys, values, n, "cert"), .key = first(keys, values, n, "key"),
        .mux = first(keys, values, n, "mux"), .cert_raw = first(keys, values, n, "certRaw")};
    int ws = o.mode ? strcmp(o.mode, "websocket") == 0 : default_ws;
    int tls = o.tls && (*o.tls == '\0' || strcmp(o.tls, "1") == 0 ||
                        strcmp(o.tls, "true") == 0);
    *stream = NULL;
    if (check_opts(&o, server, ws, tls, err, errlen))
        return -1;
    if (!ws && !tls)
        return 0; /* plain TCP: no streamSettings at all, as before */
    json_t *s = json_pack("{s:s}", "network", ws ? "ws" : "tcp");
    if (s == NULL)
        return refuse(err, errlen, "out of memory");
    if (ws) {
        json_t *w = json_pack("{s:s}", "path", o.path ? o.path : "/");
        /* The server's ws layer matches the path only; Host is what the client sends. */
        if (!server && o.host)
            json_object_set_new(w, "headers", json_pack("{s:s}", "Host", o.host));
        json_object_set_new(s, "wsSettings", w);
    }
    if (tls) {
        json_t *t = tls_settings(&o, server, err, errlen);
        if (t == NULL) {
            json_decref(s);
            return -1;
        }
        json_object_set_new(s, "security", json_string("tls"));
        json_object_set_new(s, "tlsSettings", t);
    }
    *stream = s;
    return 0;
}
