/* The per-user limits of the running daemon: the users' limits taken from every inbound
 * after each (re)load, and the state file that keeps their quota usage across restarts. */
#include "server_int.h"

#include "limits_state.h"
#include "limits_sync.h"
#include "log.h"
#include "user_limits.h"

#include <stdlib.h>
#include <string.h>

#define STATE_SAVE_EVERY 60.0 /* seconds: a crash loses at most this much usage */

static void sync_one(evp_instance *in, void *srv)
{
    evp_limits_sync_instance(in, ((evp_server *)srv)->schema_dir);
}

static void on_save(EV_P_ ev_timer *w, int revents)
{
    evp_server *srv = (evp_server *)((char *)w - offsetof(evp_server, state_save));
    if (srv->state_file)
        evp_limits_state_save(srv->state_file);
}

void evp_server_limits_apply(evp_server *srv, const evp_config *cfg)
{
    evp_server_each_inbound(srv, sync_one, srv);
    const char *path = cfg->state_file;
    if (srv->state_file == NULL && path) { /* the first: what the last run counted */
        evp_limits_state_load(path);
        ev_timer_init(&srv->state_save, on_save, STATE_SAVE_EVERY, STATE_SAVE_EVERY);
        ev_timer_start(srv->loop, &srv->state_save);
    } else if (srv->state_file && path == NULL) {
        evp_limits_state_save(srv->state_file); /* the last word before it is let go */
        ev_timer_stop(srv->loop, &srv->state_save);
    }
    if (srv->state_file == NULL || path == NULL || strcmp(srv->state_file, path) != 0) {
        free(srv->state_file);
        srv->state_file = path ? strdup(path) : NULL;
    }
}

void evp_server_limits_stop(evp_server *srv)
{
    if (srv->state_file) {
        evp_limits_state_save(srv->state_file);
        ev_timer_stop(srv->loop, &srv->state_save);
    }
    free(srv->state_file);
    srv->state_file = NULL;
    evp_limits_clear(); /* the sessions holding entries are gone */
}
