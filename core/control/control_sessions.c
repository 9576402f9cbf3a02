/* ctl sessions: one row per relaying session, so an operator sees what each one holds. */
#include "control_sessions.h"

static void session_row(const evp_live_traffic *t, void *rows)
{
    json_t *row = json_pack("{s:s, s:s, s:s?, s:i}", "inbound", t->inbound, "outbound",
                            t->outbound, "user", t->user, "policyLevel", (int)t->level);
    json_object_update_new(row, json_pack("{s:I, s:I, s:I, s:I}", "up", (json_int_t)t->up,
                                          "down", (json_int_t)t->down, "queuedUp",
                                          (json_int_t)t->queued_up, "queuedDown",
                                          (json_int_t)t->queued_down));
    json_array_append_new(rows, row);
}

json_t *evp_control_sessions(const evp_control_host *host)
{
    json_t *rows = json_array();
    host->each_traffic(host->ctx, session_row, rows);
    return rows;
}
