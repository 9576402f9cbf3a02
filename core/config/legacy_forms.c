/* V2Ray's deprecated config forms (inbound, outbound, inboundDetour, outboundDetour,
 * routing.settings, transport, allocate) translated into the modern ones, in one place. */
#include "legacy_forms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the modern entries came from, as lines for the user: "note: ...". */
typedef struct origin_note {
    char text[1024];
    size_t len;
} origin_note;

/* Notes that modern[at..at+count-1] came from legacy (a list when is_list). */
static void note_range(origin_note *n, const char *modern, size_t at, size_t count,
                       const char *legacy, int is_list)
{
    size_t room = sizeof n->text - n->len;
    int w;
    if (count == 0 || room <= 1)
        return;
    if (count == 1)
        w = snprintf(n->text + n->len, room, "note: %s[%zu] is %s%s\n", modern, at, legacy,
                     is_list ? "[0]" : "");
    else
        w = snprintf(n->text + n->len, room, "note: %s[%zu..%zu] are %s[0..%zu]\n", modern, at,
                     at + count - 1, legacy, count - 1);
    if (w > 0)
        n->len += (size_t)w < room ? (size_t)w : room - 1;
}

/* allocate on an inbound: "always" listens on every port of the range, as a plain range does,
 * so it is dropped; anything else stays for the config reader (allocate.c) to check. */
static void check_allocate(json_t *in)
{
    json_t *alloc = json_object_get(in, "allocate");
    const char *strategy = json_string_value(json_object_get(alloc, "strategy"));
    if (alloc != NULL && (json_is_null(alloc) || (strategy && !strcasecmp(strategy, "always"))))
        json_object_del(in, "allocate");
}

/* Appends entry to list when it is an object (an error naming path otherwise); inbounds have
 * their allocate checked. */
static void take_entry(json_t *list, json_t *entry, const char *path, int inbound,
                       evp_errlist *errs)
{
    if (!json_is_object(entry)) {
        evp_errlist_add(errs, "%s: must be an object", path);
        return;
    }
    if (inbound)
        check_allocate(entry);
    json_array_append(list, entry);
}

/* root[key] = [root[single]] + root[detours] + root[key], the legacy keys removed. */
static void join_list(json_t *root, const char *key, const char *single, const char *detours,
                      origin_note *note, evp_errlist *errs)
{
    int inbound = strcmp(key, "inbounds") == 0;
    json_t *modern = json_object_get(root, key);
    json_t *one = json_object_get(root, single), *many = json_object_get(root, detours);
    char path[64];
    if (modern != NULL && !json_is_array(modern))
        return; /* the schema says what is wrong with it */
    json_t *joined = json_array();
    if (joined == NULL)
        return;
    if (one != NULL && !json_is_null(one)) {
        take_entry(joined, one, single, inbound, errs);
        note_range(note, key, 0, json_array_size(joined), single, 0);
    }
    size_t first_detour = json_array_size(joined);
    if (many != NULL && !json_is_null(many) && !json_is_array(many))
        evp_errlist_add(errs, "%s: must be an array", detours);
    for (size_t i = 0; json_is_array(many) && i < json_array_size(many); i++) {
        snprintf(path, sizeof path, "%s[%zu]", detours, i);
        take_entry(joined, json_array_get(many, i), path, inbound, errs);
    }
    note_range(note, key, first_detour, json_array_size(joined) - first_detour, detours,
               1);
    size_t legacy = json_array_size(joined);
    for (size_t i = 0; i < json_array_size(modern); i++) {
        snprintf(path, sizeof path, "%s[%zu]", key, i);
        take_entry(joined, json_array_get(modern, i), path, inbound, errs);
    }
    if (modern != NULL || legacy > 0)
        json_object_set(root, key, joined);
    json_decref(joined);
    json_object_del(root, single);
    json_object_del(root, detours);
}

/* The top-level "port" is the first inbound's when that has none. */
static void legacy_port(json_t *root, evp_errlist *errs)
{
    json_t *port = json_object_get(root, "port");
    if (port == NULL)
        return;
    json_int_t p = json_integer_value(port);
    json_t *first = json_array_get(json_object_get(root, "inbounds"), 0);
    if (!json_is_integer(port) || p < 0 || p > 65535)
        evp_errlist_add(errs, "port: must be a port 0..65535");
    else if (p > 0 && json_is_object(first) && json_object_get(first, "port") == NULL)
        json_object_set(first, "port", port);
    json_object_del(root, "port");
}

/* routing.settings.rules go after routing.rules; its domainStrategy counts when
 * routing.domainStrategy is absent; routing.strategy ("rules") is dropped, as 4.34 does. */
static void legacy_routing(json_t *root, origin_note *note, evp_errlist *errs)
{
    json_t *routing = json_object_get(root, "routing");
    if (!json_is_object(routing))
        return;
    json_object_del(routing, "strategy");
    json_t *settings = json_object_get(routing, "settings");
    if (settings == NULL || json_is_null(settings)) {
        json_object_del(routing, "settings");
        return;
    }
    if (!json_is_object(settings)) {
        evp_errlist_add(errs, "routing.settings: must be an object");
        return;
    }
    json_t *old = json_object_get(settings, "rules");
    json_t *rules = json_object_get(routing, "rules");
    if (old != NULL && !json_is_null(old) && !json_is_array(old)) {
        evp_errlist_add(errs, "routing.settings.rules: must be an array");
        return;
    }
    if (rules == NULL && json_is_array(old)) {
        rules = json_array();
        json_object_set_new(routing, "rules", rules);
    }
    if (json_is_array(old) && json_is_array(rules)) {
        note_range(note, "routing.rules", json_array_size(rules), json_array_size(old),
                   "routing.settings.rules", 1);
        json_array_extend(rules, old);
    }
    json_t *ds = json_object_get(settings, "domainStrategy");
    if (ds != NULL && json_object_get(routing, "domainStrategy") == NULL)
        json_object_set(routing, "domainStrategy", ds);
    json_object_del(routing, "settings");
}

/* The global transport's pieces, for every streamSettings that lacks them (4.34's
 * applyTransportConfig; quicSettings is not among them there either). */
static void legacy_transport(json_t *root, evp_errlist *errs)
{
    static const char *const pieces[] = {"tcpSettings", "kcpSettings", "wsSettings",
                                         "httpSettings", "dsSettings"};
    static const char *const lists[] = {"inbounds", "outbounds"};
    json_t *t = json_object_get(root, "transport");
    if (t == NULL || json_is_null(t)) {
        json_object_del(root, "transport");
        return;
    }
    if (!json_is_object(t)) {
        evp_errlist_add(errs, "transport: must be an object");
        return;
    }
    for (size_t l = 0; l < 2; l++) {
        json_t *list = json_object_get(root, lists[l]);
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *bound = json_array_get(list, i);
            json_t *ss = json_object_get(bound, "streamSettings");
            if (ss != NULL && !json_is_null(ss) && !json_is_object(ss))
                continue; /* the stream settings reader says what is wrong */
            for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
                json_t *piece = json_object_get(t, pieces[p]);
                if (piece == NULL || json_is_null(piece))
                    continue;
                if (!json_is_object(ss)) {
                    ss = json_object();
                    json_object_set_new(bound, "streamSettings", ss);
                }
                if (json_object_get(ss, pieces[p]) == NULL)
                    json_object_set_new(ss, pieces[p], json_deep_copy(piece));
            }
        }
    }
    json_object_del(root, "transport");
}

char *evp_legacy_forms_apply(json_t *root, evp_errlist *errs)
{
    origin_note note = {.len = 0};
    if (!json_is_object(root))
        return NULL;
    join_list(root, "inbounds", "inbound", "inboundDetour", &note, errs);
    join_list(root, "outbounds", "outbound", "outboundDetour", &note, errs);
    legacy_port(root, errs);
    legacy_routing(root, &note, errs);
    legacy_transport(root, errs);
    return note.len ? strdup(note.text) : NULL;
}
