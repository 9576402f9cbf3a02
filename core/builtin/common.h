/* Helpers shared by the built-in protocols: passthrough, settings JSON, host text. */
#ifndef EVP_BUILTIN_COMMON_H
#define EVP_BUILTIN_COMMON_H

#include "evproxy/plugin.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Encode side: appends all of io->in to io->out (one copy); EVP_OK or EVP_ERR. */
int evp_builtin_pass(const evp_host *host, evp_io *io);
/* Decode side: as evp_builtin_pass, but EVP_EOF once io->in_eof (a raw stream's end of
 * input is its end-of-stream marker). */
int evp_builtin_pass_decode(const evp_host *host, evp_io *io);
/* Appends n bytes to b through the host; 0, or -1 with io->reason set when out of memory. */
int evp_builtin_put(const evp_host *host, evp_io *io, evp_buf *b, const void *p, size_t n);

/* Parses settings JSON text (NULL or "" mean {}); a new object reference, or NULL and err. */
json_t *evp_builtin_settings(const char *text, char *err, size_t errlen);

/* Builds a built-in's instance: allocates size zeroed bytes whose first member is the
 * `const evp_host *`, then fills it from args' settings with parse. On failure free_fn
 * undoes a partial instance, and NULL comes back with the reason in err. */
void *evp_builtin_instance_new(const evp_host *host, const evp_instance_args *args, size_t size,
                               int (*parse)(void *inst, const json_t *settings, char *err,
                                            size_t errlen),
                               void (*free_fn)(void *inst), char *err, size_t errlen);
/* Sessions of the built-ins start with a pointer to their instance, and instances with
 * their `const evp_host *`. A zeroed session of size bytes tied to inst, or NULL. */
void *evp_builtin_session_new(void *inst, size_t size);
/* Frees a session made by evp_builtin_session_new (NULL is fine). */
void evp_builtin_session_free(void *sess);
/* Wipes n bytes at p (secrets: account passwords) and frees them through host. */
void evp_builtin_free_wiped(const evp_host *host, void *p, size_t n);

/* *out = the string at key, or def when absent; -1 and err when it is not a string. */
int evp_builtin_get_str(const json_t *o, const char *key, const char *def, const char **out,
                        char *err, size_t errlen);
/* *out = the boolean at key, or def when absent; -1 and err when it is not a boolean. */
int evp_builtin_get_bool(const json_t *o, const char *key, int def, int *out, char *err,
                         size_t errlen);
/* *out = the integer at key in [min, max], or def when absent; -1 and err otherwise. */
int evp_builtin_get_int(const json_t *o, const char *key, long long min, long long max,
                        long long def, long long *out, char *err, size_t errlen);

/* Fills a's type/len/bytes from an IP literal ("[v6]" allowed) or a domain name; port is
 * left alone. -1 when host is empty, too long or not a plausible name. */
int evp_builtin_host_addr(evp_addr *a, const char *host);

#endif
