/* A shared object that exports no evp_plugin_entry: the loader must refuse it. */
#include "evproxy/plugin.h"

EVP_EXPORT int evp_something_else(void);

int evp_something_else(void)
{
    return 42;
}
