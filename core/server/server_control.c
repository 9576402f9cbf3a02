/* The server as the control socket sees it: the evp_control_host table (control.h) that
 * control.c answers requests through, so that control/ needs nothing of server/. */
#include "server_int.h"

#include "control.h"

#include <stdio.h>

static evp_instance *ctl_inbound(void *srv, const char *tag)
{
    return evp_server_inbound(srv, tag);
}

static void ctl_clients_file(void *srv, const char *tag, char *out, size_t n)
{
    const evp_inbound_conf *ic = evp_server_inbound_conf(srv, tag);
    snprintf(out, n, "%s", ic && ic->clients_file ? ic->clients_file : "");
}

static int ctl_reload(void *srv)
{
    ((evp_server *)srv)->users_gen++; /* a user change is in memory and in its file */
    return evp_server_reload(srv);
}

/* each_module's fn and arg, for the per-instance walks. */
typedef struct module_visit {
    void (*fn)(const evp_module *m, void *arg);
    void *arg;
} module_visit;

static void visit_instance(evp_instance *in, void *arg)
{
    module_visit *v = arg;
    v->fn(in->mod, v->arg);
}

static void ctl_each_module(void *arg, void (*fn)(const evp_module *m, void *arg), void *fn_arg)
{
    evp_server *srv = arg;
    for (size_t i = 0; i < srv->reg.n; i++)
        fn(srv->reg.mods[i], fn_arg);
    module_visit v = {fn, fn_arg};
    evp_server_each_inbound(srv, visit_instance, &v);
    evp_server_each_session_module(srv, visit_instance, &v);
}

static void ctl_each_traffic(void *arg, evp_control_traffic_fn *fn, void *fn_arg)
{
    evp_server_each_traffic(arg, fn, fn_arg);
}

static void ctl_each_worker(void *arg,
                            void (*fn)(unsigned id, size_t sessions, uint64_t accepted, void *),
                            void *fn_arg)
{
    evp_server_each_worker(arg, fn, fn_arg);
}

char *evp_server_control_answer(void *arg, const char *request)
{
    evp_server *srv = arg;
    const evp_control_host host = {
        .ctx = srv,
        .schema_dir = srv->schema_dir,
        .inbound = ctl_inbound,
        .clients_file = ctl_clients_file,
        .reload = ctl_reload,
        .each_module = ctl_each_module,
        .each_traffic = ctl_each_traffic,
        .each_worker = ctl_each_worker,
    };
    return evp_control_handle(&host, request);
}
