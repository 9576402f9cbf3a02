/* The server as the metrics endpoint sees it: the evp_metrics_host table metrics.c builds its
 * pages through, and the endpoint opened, moved or closed as the config says. */
#include "server_int.h"

#include "metrics.h"
#include "metrics_http.h"

#include <string.h>

static void metrics_each_traffic(void *srv, evp_traffic_fn *fn, void *arg)
{
    evp_server_each_traffic(srv, fn, arg);
}

static void metrics_reloads(void *arg, uint64_t *applied, uint64_t *refused)
{
    const evp_server *srv = arg;
    *applied = srv->reloads;
    *refused = srv->reloads_refused;
}

static char *metrics_page(void *srv, const char *path, const char **type)
{
    const evp_metrics_host host = {
        .ctx = srv, .each_traffic = metrics_each_traffic, .reloads = metrics_reloads};
    if (strcmp(path, "/metrics") == 0) {
        *type = "text/plain; version=0.0.4; charset=utf-8";
        return evp_metrics_text(&host);
    }
    if (strcmp(path, "/") == 0) {
        *type = "text/html; charset=utf-8";
        return evp_metrics_status_page(&host);
    }
    *type = NULL;
    return NULL;
}

int evp_server_metrics_apply(evp_server *srv, const evp_config *cfg)
{
    const char *want = cfg ? cfg->metrics_listen : NULL;
    if (srv->metrics && want && strcmp(evp_http_listen(srv->metrics), want) == 0)
        return 0;
    if (want == NULL) {
        evp_http_close(srv->metrics);
        srv->metrics = NULL;
        return 0;
    }
    evp_http_server *fresh = evp_http_open(srv->loop, want, metrics_page, srv);
    if (fresh == NULL && srv->metrics) {
        /* The new address may overlap the old one (0.0.0.0 for 127.0.0.1): free it, retry. */
        evp_http_close(srv->metrics);
        srv->metrics = NULL;
        fresh = evp_http_open(srv->loop, want, metrics_page, srv);
    }
    evp_http_close(srv->metrics);
    srv->metrics = fresh;
    return fresh ? 0 : -1;
}
