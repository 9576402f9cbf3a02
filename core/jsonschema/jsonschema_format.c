/* The "format" values we check: uuid, ipv4, ipv6, hostname. Others are annotations (valid). */
#include "jsonschema_int.h"

#include <arpa/inet.h>
#include <string.h>

/* ASCII only: a locale must not turn other bytes into letters. */
static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits, either case: the form V2Ray configs use for user ids. */
static int is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* inet_pton wants a C string and no zone; it rejects leading zeros in IPv4 octets. */
static int is_ip(int af, const char *s, size_t len)
{
    unsigned char out[16];
    char tmp[64];
    if (len >= sizeof tmp || memchr(s, '\0', len))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return inet_pton(af, tmp, out) == 1;
}

/* RFC 1123: dot-separated labels of letters, digits and inner hyphens, 1..63 bytes each,
 * at most 253 bytes in all (255 on the wire); one trailing dot (the root) is allowed. */
static int is_hostname(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t n = i - start;
            if (n == 0 || n > 63 || s[start] == '-' || s[i - 1] == '-')
                return 0;
            start = i + 1;
        } else if (!is_alnum(s[i]) && s[i] != '-') {
            return 0;
        }
    }
    return 1;
}

int evp_js_format_ok(const char *format, const char *s, size_t len, const char **what)
{
    if (strcmp(format, "uuid") == 0) {
        *what = "a uuid";
        return is_uuid(s, len);
    }
    if (strcmp(format, "ipv4") == 0) {
        *what = "an ipv4 address";
        return is_ip(AF_INET, s, len);
    }
    if (strcmp(format, "ipv6") == 0) {
        *what = "an ipv6 address";
        return is_ip(AF_INET6, s, len);
    }
    if (strcmp(format, "hostname") == 0) {
        *what = "a hostname";
        return is_hostname(s, len);
    }
    *what = format;
    return 1;
}
