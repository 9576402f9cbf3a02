/* Levelled logging to stderr; the level is set from the config's log.loglevel. */
#ifndef EVP_LOG_H
#define EVP_LOG_H

#include "evproxy/plugin.h"

extern _Atomic int evp_log_level; /* set by the main thread, read by every worker */

/* Prints one line "LEVEL message" to stderr when level is enabled. */
void evp_log(int level, const char *fmt, ...) EVP_PRINTF(2, 3);
/* True when a message at level would be printed. */
int evp_log_enabled(int level);
/* Maps V2Ray's loglevel names to a level; -1 for an unknown name. */
int evp_log_parse_level(const char *name);

/* Copies len bytes of text that came from the network (a target name, a user's email)
 * into out (n bytes, always NUL-terminated when n > 0) for a log line: every byte outside
 * printable ASCII, and '"' and '\\', becomes \xNN, so the text cannot end the line, forge
 * another or pass for quoting. Stops before an escape that would not fit. Returns out. */
char *evp_log_escape(const void *text, size_t len, char *out, size_t n);

/* Sends the log to file (appending) instead of stderr; -1 when it cannot be opened. */
int evp_log_to_file(const char *path);
#define evp_err(...) evp_log(EVP_LOG_ERROR, __VA_ARGS__)
#define evp_warn(...) evp_log(EVP_LOG_WARNING, __VA_ARGS__)
#define evp_info(...) evp_log(EVP_LOG_INFO, __VA_ARGS__)
#define evp_debug(...)                                                                          \
    do {                                                                                        \
        if (evp_log_level >= EVP_LOG_DEBUG)                                                     \
            evp_log(EVP_LOG_DEBUG, __VA_ARGS__);                                                \
    } while (0)

#endif
