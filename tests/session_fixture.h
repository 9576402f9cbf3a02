/* What the in-memory session tests start from: a config of one inbound and one outbound,
 * their instances, and a runtime on a private loop whose 2 ms tick keeps EVRUN_ONCE from
 * sleeping on an idle loop. Header-only (static inline), for tests/check_*.c. */
#ifndef SESSION_FIXTURE_H
#define SESSION_FIXTURE_H

#include "config.h"
#include "registry.h"
#include "session.h"

#include <check.h>
#include <ev.h>
#include <string.h>

typedef struct session_fixture {
    evp_registry reg;
    evp_config *cfg;
    evp_instance *in, *out;
    evp_runtime rt;
    ev_timer tick;
} session_fixture;

static inline void fixture_tick(EV_P_ ev_timer *w, int revents)
{
}

/* Loads config text (built-ins and the plugins in plugin_dir), makes its first inbound and
 * outbound and the runtime; every timeout 120 s, the default limits and buffer sizes.
 * Fails the test on any error. */
static inline void fixture_start_with(session_fixture *f, const char *text,
                                      const char *plugin_dir)
{
    char err[256] = "", *errors = NULL;
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(evp_registry_init(&f->reg, plugin_dir), 0);
    f->cfg = evp_config_load(NULL, text, "schema", &f->reg, &errors);
    ck_assert_msg(f->cfg != NULL, "%s", errors ? errors : "");
    evp_inbound_conf *ic = &f->cfg->inbounds[0];
    evp_outbound_conf *oc = &f->cfg->outbounds[0];
    f->in = evp_instance_new(ic->mod, 1, ic->tag, ic->settings_json, ic->port, err, sizeof err);
    f->out = evp_instance_new(oc->mod, 0, oc->tag, oc->settings_json, 0, err, sizeof err);
    ck_assert_msg(f->in && f->out, "%s", err);
    evp_router_set_outbounds(f->cfg->router, &f->out, 1);
    f->rt.loop = ev_loop_new(EVFLAG_AUTO);
    f->rt.resolver = evp_resolver_new(f->rt.loop);
    f->rt.handshake_timeout = f->rt.connect_timeout = f->rt.idle_timeout = 120;
    f->rt.udp_timeout = 120;
    f->rt.limits = evp_limits_default();
    for (int i = 0; i < EVP_POLICY_LEVELS; i++)
        f->rt.relay_buffer[i] = EVP_RELAY_BUFFER_DEFAULT;
    ev_timer_init(&f->tick, fixture_tick, 0.002, 0.002);
    ev_timer_start(f->rt.loop, &f->tick);
}

/* As fixture_start_with, built-ins only. */
static inline void fixture_start(session_fixture *f, const char *text)
{
    fixture_start_with(f, text, "/nonexistent");
}

/* Ends every session, then frees what fixture_start made. */
static inline void fixture_stop(session_fixture *f)
{
    evp_session_close_all(&f->rt);
    ev_run(f->rt.loop, EVRUN_NOWAIT);
    evp_resolver_free(f->rt.resolver);
    free(f->rt.dgram);
    ev_loop_destroy(f->rt.loop);
    evp_instance_unref(f->in);
    evp_instance_unref(f->out);
    evp_config_free(f->cfg);
    evp_registry_free(&f->reg);
}

#endif
