/* A registry over the stand-in plugins the tests build (EVP_BUILD/tests/plugins: tls.so,
 * ws.so, ...), for suites that load configs with transport layers. */
#ifndef EVP_TESTPLUG_REGISTRY_H
#define EVP_TESTPLUG_REGISTRY_H

#include "registry.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline void testplug_registry_init(evp_registry *reg)
{
    char dir[512];
    const char *build = getenv("EVP_BUILD");
    snprintf(dir, sizeof dir, "%s/tests/plugins", build ? build : "build");
    ck_assert_int_eq(evp_registry_init(reg, dir), 0);
}

#endif
