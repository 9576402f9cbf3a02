/* Reading and writing the state file of the per-user limits. */
#include "limits_state.h"

#include "file_replace.h"
#include "log.h"
#include "user_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int evp_limits_state_load(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        FILE *f = fopen(path, "r");
        if (f == NULL && errno == ENOENT)
            return 0; /* the first start */
        if (f)
            fclose(f);
        evp_err("control.stateFile %s: %s (line %d): usage starts from zero", path, je.text,
                je.line);
        return -1;
    }
    json_t *users = json_object_get(root, "users");
    if (!json_is_array(users)) {
        evp_err("control.stateFile %s: no \"users\" array: usage starts from zero", path);
        json_decref(root);
        return -1;
    }
    size_t i, n = 0;
    json_t *u;
    json_array_foreach (users, i, u) {
        const char *tag = json_string_value(json_object_get(u, "inbound"));
        const char *user = json_string_value(json_object_get(u, "user"));
        json_t *used = json_object_get(u, "usedBytes");
        if (tag == NULL || user == NULL || !json_is_integer(used) ||
            json_integer_value(used) < 0) {
            evp_warn("control.stateFile %s: users[%zu] skipped (inbound, user, usedBytes)",
                     path, i);
            continue;
        }
        if (evp_limits_set_used(tag, user, (uint64_t)json_integer_value(used)) == 0)
            n++;
    }
    json_decref(root);
    evp_info("control.stateFile %s: usage of %zu users loaded", path, n);
    return 0;
}

static void add_row(const evp_limit_view *v, void *arg)
{
    if (v->used == 0)
        return;
    json_array_append_new(arg, json_pack("{s:s, s:s, s:I}", "inbound", v->inbound, "user",
                                         v->user, "usedBytes", (json_int_t)v->used));
}

int evp_limits_state_save(const char *path)
{
    json_t *users = json_array();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    evp_limits_each(add_row, users, (double)ts.tv_sec);
    json_t *root = json_pack("{s:i, s:o}", "version", 1, "users", users);
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    char err[256] = "out of memory";
    /* The first save: an empty file (mode 0600) for evp_file_replace to replace. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd != -1)
        close(fd);
    int rc = text ? evp_file_replace(path, text, strlen(text), err, sizeof err) : -1;
    free(text);
    if (rc != 0)
        evp_err("control.stateFile %s: cannot write: %s", path, err);
    return rc;
}
