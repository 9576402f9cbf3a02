/* Untrusted text (user emails, domains, tags) made safe for a log line. */
#ifndef VMESS_LOG_TEXT_H
#define VMESS_LOG_TEXT_H

#include <stddef.h>

/* Worst case: every byte as \xNN. */
#define VMESS_LOG_TEXT_SIZE(n) (4 * (n) + 1)

/* Copies in[0..len) to out (cap bytes, NUL-terminated, cut short at a whole escape):
 * printable ASCII as is, every other byte and the backslash as \xNN, so a log line can
 * neither be split nor forged by what a peer or a config puts in the text. Returns out. */
char *vmess_log_text(char *out, size_t cap, const char *in, size_t len);

#endif
