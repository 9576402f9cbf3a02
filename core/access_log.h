/* The access log: one line per session, in V2Ray 4.34's form (default) or Xray's. */
#ifndef EVP_ACCESS_LOG_H
#define EVP_ACCESS_LOG_H

#include <stddef.h>
#include <time.h>

typedef enum evp_access_format {
    EVP_ACCESS_V2RAY, /* "2026/12/01 14:20:42 FROM accepted TARGET [OUT] email: X" */
    EVP_ACCESS_XRAY,  /* "2026/12/01 14:20:42.123456 from FROM accepted TARGET [IN >> OUT] ..." */
} evp_access_format;

/* One session as the access log tells it. Strings are borrowed for the call. */
typedef struct evp_access_entry {
    const char *from;   /* the client: "127.0.0.1:41514", "[::1]:5000" */
    const char *target; /* accepted: "tcp:HOST:PORT", already escaped; NULL: rejected */
    const char *reason; /* rejected: why (raw: escaped here) */
    const char *in_tag, *out_tag; /* "" or NULL when untagged */
    const char *user; /* the session's user label (raw: escaped here), or NULL */
} evp_access_entry;

/* The format named by log.accessFormat ("v2ray", "xray"); -1 for another name. */
int evp_access_format_parse(const char *name);
/* Writes e as one line (no newline) stamped with when (local time, as V2Ray and Xray) into
 * out (n bytes, NUL-terminated, cut short if it does not fit). Returns out. */
char *evp_access_format_line(const evp_access_entry *e, evp_access_format f,
                             const struct timespec *when, char *out, size_t n);

/* Opens (or with NULL closes) the access log; -1 when it cannot be opened. */
int evp_access_log_open(const char *path);
/* The form of the lines written from now on. */
void evp_access_log_set_format(evp_access_format f);
/* Appends e as one line, stamped now, when the access log is open. */
void evp_access_log_write(const evp_access_entry *e);

#endif
