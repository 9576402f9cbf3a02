/* A growing list of error lines, "PATH: message\n" each. */
#ifndef EVP_ERRLIST_H
#define EVP_ERRLIST_H

#include "evproxy/plugin.h"

typedef struct evp_errlist {
    char *text; /* NUL-terminated, owned */
    size_t len;
    int count;
} evp_errlist;

/* Appends one line (a newline is added). */
void evp_errlist_add(evp_errlist *e, const char *fmt, ...) EVP_PRINTF(2, 3);
/* Appends text that already holds whole lines. */
void evp_errlist_add_lines(evp_errlist *e, const char *lines, int count);
/* Hands the text over to the caller (NULL when empty) and empties e. */
char *evp_errlist_take(evp_errlist *e);

#endif
