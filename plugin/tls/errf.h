/* One-line error messages into a caller's buffer. */
#ifndef TLS_ERRF_H
#define TLS_ERRF_H

#include "evproxy/plugin.h"

#include <stdarg.h>
#include <stdio.h>

static inline void tls_errf(char *err, size_t errlen, const char *fmt, ...) EVP_PRINTF(3, 4);
static inline void tls_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
