/* Reading and writing a user's "limits" object. */
#include "limits_conf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int evp_rfc3339_parse(const char *s, double *t)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        if (!isdigit((unsigned char)p[1]))
            return -1;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    *t = (double)(timegm(&tm) - offset) + frac;
    return 0;
}

/* A non-negative integer member key of o into *v (absent: 0); -1 with err otherwise. */
static int count_of(json_t *o, const char *key, uint64_t max, uint64_t *v, char *err,
                    size_t errlen)
{
    json_t *j = json_object_get(o, key);
    *v = 0;
    if (j == NULL)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        (uint64_t)json_integer_value(j) > max) {
        snprintf(err, errlen, "limits.%s: a whole number from 0 to %llu", key,
                 (unsigned long long)max);
        return -1;
    }
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

int evp_limits_parse(json_t *o, evp_limits_conf *c, char *err, size_t errlen)
{
    *c = (evp_limits_conf){0};
    if (!json_is_object(o)) {
        snprintf(err, errlen, "limits: an object");
        return -1;
    }
    uint64_t sessions, ips;
    if (count_of(o, "uplinkBps", INT64_MAX, &c->up_bps, err, errlen) ||
        count_of(o, "downlinkBps", INT64_MAX, &c->down_bps, err, errlen) ||
        count_of(o, "quotaBytes", INT64_MAX, &c->quota_bytes, err, errlen) ||
        count_of(o, "sessions", UINT32_MAX, &sessions, err, errlen) ||
        count_of(o, "ips", UINT32_MAX, &ips, err, errlen))
        return -1;
    c->sessions = (uint32_t)sessions;
    c->ips = (uint32_t)ips;
    json_t *exp = json_object_get(o, "expire");
    if (exp && (!json_is_string(exp) || evp_rfc3339_parse(json_string_value(exp), &c->expire))) {
        snprintf(err, errlen, "limits.expire: an RFC 3339 time, e.g. 2026-12-31T23:59:59Z");
        return -1;
    }
    return 0;
}

json_t *evp_limits_to_json(const evp_limits_conf *c)
{
    json_t *o = json_object();
    if (c->up_bps)
        json_object_set_new(o, "uplinkBps", json_integer((json_int_t)c->up_bps));
    if (c->down_bps)
        json_object_set_new(o, "downlinkBps", json_integer((json_int_t)c->down_bps));
    if (c->sessions)
        json_object_set_new(o, "sessions", json_integer(c->sessions));
    if (c->ips)
        json_object_set_new(o, "ips", json_integer(c->ips));
    if (c->quota_bytes)
        json_object_set_new(o, "quotaBytes", json_integer((json_int_t)c->quota_bytes));
    if (c->expire > 0) {
        char text[32];
        time_t t = (time_t)c->expire;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(o, "expire", json_string(text));
    }
    return o;
}
