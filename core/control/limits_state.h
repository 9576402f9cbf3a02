/* The state file (control.stateFile): the users' quota usage, so that a restart does not
 * give a user its quota back. JSON: {"users": [{"inbound": TAG, "user": LABEL,
 * "usedBytes": N}, ...]}, replaced atomically. */
#ifndef EVP_LIMITS_STATE_H
#define EVP_LIMITS_STATE_H

/* Loads path into the limits table; a missing file is an empty state. 0, or -1 (logged)
 * when the file is unreadable or not a state file. */
int evp_limits_state_load(const char *path);
/* Writes the usage of every entry to path atomically; 0, or -1 (logged). */
int evp_limits_state_save(const char *path);

#endif
