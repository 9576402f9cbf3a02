/* Per-user limits on the status page: what each user may do and what it has used. */
#include "status_limits.h"

#include "user_limits.h"

#include <time.h>

static void rate(evp_text *t, uint64_t bps)
{
    if (bps == 0) {
        evp_text_printf(t, "-");
        return;
    }
    evp_text_bytes(t, bps);
    evp_text_printf(t, "/s");
}

static void row(const evp_limit_view *v, void *arg)
{
    evp_text *t = arg;
    const evp_limits_conf *c = &v->conf;
    if (!v->configured && v->used == 0)
        return;
    evp_text_printf(t, "<tr><td>");
    evp_html_text(t, v->user);
    evp_text_printf(t, " [");
    evp_html_text(t, v->inbound);
    evp_text_printf(t, "]</td><td>");
    rate(t, v->configured ? c->up_bps : 0);
    evp_text_printf(t, "</td><td>");
    rate(t, v->configured ? c->down_bps : 0);
    evp_text_printf(t, "</td><td>%u / ", v->sessions);
    evp_text_printf(t, c->sessions && v->configured ? "%u" : "-", c->sessions);
    evp_text_printf(t, "</td><td>%zu / ", v->ips);
    evp_text_printf(t, c->ips && v->configured ? "%u" : "-", c->ips);
    evp_text_printf(t, "</td><td>");
    evp_text_bytes(t, v->used);
    if (v->configured && c->quota_bytes) {
        evp_text_printf(t, " / ");
        evp_text_bytes(t, c->quota_bytes);
    }
    evp_text_printf(t, "</td><td>");
    if (v->configured && c->expire > 0) {
        char when[32];
        time_t at = (time_t)c->expire;
        struct tm tm;
        gmtime_r(&at, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        evp_text_printf(t, "%s", when);
    } else {
        evp_text_printf(t, "-");
    }
    evp_text_printf(t, "</td></tr>\n");
}

static void count(const evp_limit_view *v, void *n)
{
    *(size_t *)n += v->configured || v->used > 0;
}

void evp_status_limits(evp_text *t)
{
    size_t n = 0;
    evp_limits_each(count, &n, 0);
    if (n == 0)
        return;
    evp_text_printf(t, "<h2>Limits</h2>\n<table>\n<tr><th>user [inbound]</th><th>uplink</th>"
                       "<th>downlink</th><th>sessions</th><th>addresses</th>"
                       "<th>quota used</th><th>expires</th></tr>\n");
    evp_limits_each(row, t, (double)time(NULL));
    evp_text_printf(t, "</table>\n");
}
