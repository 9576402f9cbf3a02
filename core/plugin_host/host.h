/* The host services table handed to every plugin. */
#ifndef EVP_HOST_H
#define EVP_HOST_H

#include "evproxy/plugin.h"

/* The process-wide host services table (static storage). */
const evp_host *evp_host_services(void);

#endif
