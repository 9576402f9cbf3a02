/* The per-user limits and their usage, one entry per (inbound tag, user label), shared by
 * every worker (one lock). The host fills it from the users the plugins list (ABI users_list:
 * a user's "limits" object, keyed by its label); sessions take and give back places in it and
 * charge their bytes to it. An entry lives as long as the process, so a session may keep a
 * pointer to it through reloads; its usage outlives a user's removal and re-adding. */
#ifndef EVP_USER_LIMITS_H
#define EVP_USER_LIMITS_H

#include "limits_conf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evp_user_limit evp_user_limit;

/* Takes the limits of the users of inbound tag (a JSON array of user objects, as users_list
 * gives them with secrets): users with a "limits" object and a label (the string member
 * label_key) get them, the others of that tag lose theirs. A bad "limits" object is logged
 * and ignored (the schema refuses it before this). */
void evp_limits_sync(const char *tag, json_t *users, const char *label_key);
/* The entry of (tag, user) when that user has limits, else NULL: without any limits set,
 * one atomic load and no lock. */
evp_user_limit *evp_limits_find(const char *tag, const char *user);

/* A session of u from addr (16 bytes, IPv4 mapped) starts at time now (Unix seconds):
 * 1 admitted (it holds a session place and its address), or 0 with the limit that refused it
 * in why. */
int evp_limit_admit(evp_user_limit *u, const uint8_t addr[16], double now, char *why,
                    size_t n);
/* The session admitted from addr ended. */
void evp_limit_leave(evp_user_limit *u, const uint8_t addr[16], double now);
/* The session no longer counts against "sessions" (a Mux carrier: its sub-streams do). */
void evp_limit_forget_session(evp_user_limit *u);
/* Charges up and down bytes at time now: sets the seconds each direction must pause; 0, or
 * -1 with why when the session is to be cut (quota used up, or the user expired). */
int evp_limit_charge(evp_user_limit *u, uint64_t up, uint64_t down, double now,
                     double wait[2], char *why, size_t n);
/* Seconds from now until u expires, or -1 when it does not. */
double evp_limit_expires_in(evp_user_limit *u, double now);

/* One entry as evp_limits_each shows it. */
typedef struct evp_limit_view {
    const char *inbound, *user;
    int configured; /* the user has limits now */
    evp_limits_conf conf;
    uint64_t used; /* bytes counted against quotaBytes */
    uint32_t sessions;
    size_t ips; /* addresses held, grace included */
} evp_limit_view;

/* Calls fn with each entry under the lock (fn must not call back in). */
void evp_limits_each(void (*fn)(const evp_limit_view *v, void *arg), void *arg, double now);
/* Sets the quota usage of (tag, user), making its entry if needed (loading the state file):
 * 0, or -1 out of memory. */
int evp_limits_set_used(const char *tag, const char *user, uint64_t used);
/* Zeroes every entry's quota usage (ctl stats --reset). */
void evp_limits_reset_usage(void);
/* Frees every entry: only when no session holds one (exit, tests). */
void evp_limits_clear(void);

#endif
