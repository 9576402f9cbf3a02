/* The two share-link forms (see the header). */
#include "link_format.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINK_SCHEME "vmess://"

char *vmess_link_v2rayn(const vmess_link *l)
{
    /* v2rayN's version 2 writes every value as a string, port and aid included. */
    char port[8], aid[8];
    snprintf(port, sizeof port, "%u", (unsigned)l->port);
    snprintf(aid, sizeof aid, "%u", (unsigned)l->alter_id);
    const char *net = strcmp(l->network, "http") == 0 ? "h2" : l->network;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                          "v", "2", "ps", l->name, "add", l->address, "port", port, "id",
                          l->id, "aid", aid, "scy", l->security, "net", net, "type", l->header,
                          "host", l->host, "path", l->path, "tls", l->tls ? "tls" : "", "sni",
                          l->sni);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *link = malloc(strlen(LINK_SCHEME) + b64);
    if (link) {
        strcpy(link, LINK_SCHEME);
        sodium_bin2base64(link + strlen(LINK_SCHEME), b64, (const unsigned char *)text, len,
                          sodium_base64_VARIANT_ORIGINAL);
    }
    free(text);
    return link;
}

/* Writes s as JavaScript's encodeURIComponent does (the proposal asks it of every value):
 * all but letters, digits and -_.!~*'() as %XX of its UTF-8 bytes. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.!~*'()", *p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

/* "&key=value" (value escaped), or nothing when value is empty. */
static void put_param(FILE *f, const char *key, const char *value)
{
    if (value[0] == '\0')
        return;
    fprintf(f, "&%s=", key);
    put_escaped(f, value);
}

char *vmess_link_uri(const vmess_link *l, char *err, size_t errlen)
{
    if (l->alter_id > 0) {
        snprintf(err, errlen, "alterId %u: the URI form carries VMess AEAD users only "
                 "(alterId 0); use the v2rayn form", (unsigned)l->alter_id);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fputs(LINK_SCHEME, f);
    put_escaped(f, l->id);
    int v6 = strchr(l->address, ':') != NULL && l->address[0] != '[';
    fprintf(f, "@%s%s%s:%u?type=", v6 ? "[" : "", l->address, v6 ? "]" : "", (unsigned)l->port);
    put_escaped(f, l->network);
    /* encryption: "auto" is the proposal's default, to be left out. */
    if (strcmp(l->security, "auto") != 0)
        put_param(f, "encryption", l->security);
    fprintf(f, "&security=%s", l->tls ? "tls" : "none");
    if (strcmp(l->header, "none") != 0)
        put_param(f, "headerType", l->header);
    put_param(f, "path", l->path);
    put_param(f, "host", l->host);
    put_param(f, "sni", l->sni);
    if (l->name[0]) {
        fputc('#', f);
        put_escaped(f, l->name);
    }
    if (fclose(f) != 0) {
        free(text);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return text;
}
