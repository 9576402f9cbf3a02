/* Plugin loading: dlopen from a private copy, ABI checks, refcounted unloading. */
#include "module.h"

#include "log.h"

#include <stddef.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes an ops struct must span to hold field. */
#define OPS_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

int evp_module_check(const evp_plugin *d, char *err, size_t errlen)
{
    if (d == NULL) {
        snprintf(err, errlen, "entry returned no descriptor");
        return -1;
    }
    if (d->abi_major != EVP_ABI_MAJOR) {
        snprintf(err, errlen, "plugin ABI %u.%u, this host speaks %u.%u (major differs)",
                 d->abi_major, d->abi_minor, EVP_ABI_MAJOR, EVP_ABI_MINOR);
        return -1;
    }
    if (d->abi_minor > EVP_ABI_MINOR) {
        snprintf(err, errlen, "plugin ABI %u.%u is newer than this host's %u.%u", d->abi_major,
                 d->abi_minor, EVP_ABI_MAJOR, EVP_ABI_MINOR);
        return -1;
    }
    if (d->size < offsetof(evp_plugin, outbound) + sizeof(void *) || d->name == NULL ||
        d->name[0] == '\0') {
        snprintf(err, errlen, "malformed descriptor (size %u, name %s)", d->size,
                 d->name ? d->name : "missing");
        return -1;
    }
    const evp_transport_ops *tr = evp_plugin_transport(d);
    if (d->inbound == NULL && d->outbound == NULL && tr == NULL && evp_plugin_mux(d) == NULL) {
        snprintf(err, errlen, "plugin \"%s\" has no inbound, outbound, transport or mux",
                 d->name);
        return -1;
    }
    if (tr && (tr->size < OPS_END(evp_transport_ops, encode) || !tr->instance_new ||
               !tr->instance_free || !tr->session_new || !tr->session_free || !tr->decode ||
               !tr->encode)) {
        snprintf(err, errlen, "plugin \"%s\": transport ops (size %u) lack a required hook",
                 d->name, tr->size);
        return -1;
    }
    const evp_mux_ops *mux = evp_plugin_mux(d);
    if (mux && (mux->size < OPS_END(evp_mux_ops, encode) ||
                ((mux->target == NULL || mux->target[0] == '\0') && tr == NULL) ||
                mux->max_data == 0 || !mux->conn_new || !mux->conn_free || !mux->decode ||
                !mux->encode)) {
        snprintf(err, errlen, "plugin \"%s\": mux ops (size %u) lack a required field (a "
                 "target, unless the plugin is a transport layer)", d->name, mux->size);
        return -1;
    }
    const evp_inbound_ops *in = d->inbound;
    if (in && (in->size < OPS_END(evp_inbound_ops, encode) || !in->instance_new ||
               !in->instance_free || !in->session_new || !in->session_free || !in->decode ||
               !in->encode)) {
        snprintf(err, errlen, "plugin \"%s\": inbound ops (size %u) lack a required hook",
                 d->name, in->size);
        return -1;
    }
    const evp_outbound_ops *out = d->outbound;
    if (out && (out->size < OPS_END(evp_outbound_ops, decode) || !out->instance_new ||
                !out->instance_free || !out->session_new || !out->session_free ||
                !out->encode || !out->decode)) {
        snprintf(err, errlen, "plugin \"%s\": outbound ops (size %u) lack a required hook",
                 d->name, out->size);
        return -1;
    }
    return 0;
}

/* Copies the first size bytes of ops (at most full) into copy and zeroes the rest. */
static void normalise_ops(void *copy, const void *ops, uint32_t size, size_t full)
{
    memset(copy, 0, full);
    if (ops)
        memcpy(copy, ops, size < full ? size : full);
}

static evp_module *module_init(evp_module *m, char *err, size_t errlen)
{
    const evp_plugin *d = m->desc;
    normalise_ops(&m->in_ops, d->inbound, d->inbound ? d->inbound->size : 0, sizeof m->in_ops);
    normalise_ops(&m->out_ops, d->outbound, d->outbound ? d->outbound->size : 0,
                  sizeof m->out_ops);
    const evp_transport_ops *tr = evp_plugin_transport(d);
    normalise_ops(&m->tr_ops, tr, tr ? tr->size : 0, sizeof m->tr_ops);
    const evp_mux_ops *mux = evp_plugin_mux(d);
    normalise_ops(&m->mux_ops, mux, mux ? mux->size : 0, sizeof m->mux_ops);
    m->mux_ops.size = sizeof m->mux_ops;
    m->in_ops.size = sizeof m->in_ops; /* every field now readable: absent ones are zero */
    m->out_ops.size = sizeof m->out_ops;
    m->tr_ops.size = sizeof m->tr_ops;
    evp_host_table_init(&m->host);
    if (m->desc->init && m->desc->init(&m->host.services) != 0) {
        snprintf(err, errlen, "plugin \"%s\" refused to initialise", m->desc->name);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    return m;
}

evp_module *evp_module_builtin(const evp_plugin *desc, char *err, size_t errlen)
{
    if (evp_module_check(desc, err, errlen) != 0)
        return NULL;
    evp_module *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->desc = desc;
    if (module_init(m, err, errlen) == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

/* Copies src to a fresh private temp file; returns its malloc'd path or NULL. */
static char *copy_private(const char *src, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/evproxy-plugin-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
        return NULL;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in == -1) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        free(path);
        return NULL;
    }
    int out = mkstemp(path);
    int ok = out != -1;
    char block[8192]; /* the main thread's stack keeps what it touched once, resident */
    ssize_t n;
    while (ok && (n = read(in, block, sizeof block)) != 0) {
        if (n == -1 || write(out, block, (size_t)n) != n)
            ok = 0;
    }
    if (!ok)
        snprintf(err, errlen, "%s: cannot make a private copy: %s", src, strerror(errno));
    close(in);
    if (out != -1)
        close(out);
    if (!ok) {
        if (out != -1)
            unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

evp_module *evp_module_open(const char *path, char *err, size_t errlen)
{
    char cause[256];
    struct stat st;
    if (stat(path, &st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *copy = copy_private(path, err, errlen);
    if (copy == NULL)
        return NULL;
    void *h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
    unlink(copy); /* the mapping stays valid; nothing is left behind on disk */
    free(copy);
    if (h == NULL) {
        const char *e = dlerror();
        const char *tail = e ? strrchr(e, ':') : NULL;
        snprintf(err, errlen, "%s: not a loadable plugin (%s)", path,
                 tail ? tail + 2 : (e ? e : "unknown error"));
        return NULL;
    }
    evp_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, EVP_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, errlen, "%s: not a plugin (no %s symbol)", path, EVP_ENTRY_SYMBOL);
        dlclose(h);
        return NULL;
    }
    const evp_plugin *desc = entry();
    if (evp_module_check(desc, cause, sizeof cause) != 0) {
        snprintf(err, errlen, "%s: %s", path, cause);
        dlclose(h);
        return NULL;
    }
    evp_module *m = calloc(1, sizeof *m);
    if (m == NULL || (m->origin = strdup(path)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(m);
        dlclose(h);
        return NULL;
    }
    m->handle = h;
    m->desc = desc;
    m->origin_stat = st;
    if (module_init(m, cause, sizeof cause) == NULL) {
        snprintf(err, errlen, "%s: %s", path, cause);
        free(m->origin);
        free(m);
        dlclose(h);
        return NULL;
    }
    evp_debug("loaded plugin %s %s from %s", desc->name, desc->version ? desc->version : "?",
              path);
    return m;
}

evp_module *evp_module_ref(evp_module *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void evp_module_unref(evp_module *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) > 1)
        return;
    if (m->desc->fini)
        m->desc->fini();
    if (m->handle) {
        evp_debug("unloaded plugin %s from %s", m->desc->name, m->origin);
        dlclose(m->handle);
    }
    free(m->origin);
    free(m);
}

int evp_module_changed(const evp_module *m)
{
    if (m->origin == NULL)
        return 0;
    struct stat st;
    if (stat(m->origin, &st) == -1)
        return 0; /* gone: keep what runs */
    return st.st_ino != m->origin_stat.st_ino || st.st_size != m->origin_stat.st_size ||
           st.st_mtim.tv_sec != m->origin_stat.st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != m->origin_stat.st_mtim.tv_nsec;
}
