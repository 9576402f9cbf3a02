/* The status page's table of per-user limits and their usage (core/limits). */
#ifndef EVP_STATUS_LIMITS_H
#define EVP_STATUS_LIMITS_H

#include "prom_text.h"

/* Appends the "Limits" table (nothing when no user has limits or usage). */
void evp_status_limits(evp_text *t);

#endif
