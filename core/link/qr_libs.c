/* dlopen of libqrencode and libpng (see the header). The sonames are those of the -dev
 * packages' headers: libqrencode 4 (Debian's libqrencode4) and libpng 1.6. */
#include "qr_libs.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define QRENCODE_SONAME "libqrencode.so.4"
#define PNG_SONAME "libpng16.so.16"

/* One symbol: where it goes in evp_qr_libs and which library has it. */
typedef struct qr_symbol {
    const char *name;
    size_t offset;
    int in_png;
} qr_symbol;

#define SYM(field, name, png) {#name, offsetof(evp_qr_libs, field), png}
static const qr_symbol symbols[] = {
    SYM(encode, QRcode_encodeString8bit, 0),
    SYM(code_free, QRcode_free, 0),
    SYM(create_write, png_create_write_struct, 1),
    SYM(create_info, png_create_info_struct, 1),
    SYM(set_longjmp_fn, png_set_longjmp_fn, 1),
    SYM(init_io, png_init_io, 1),
    SYM(set_ihdr, png_set_IHDR, 1),
    SYM(write_info, png_write_info, 1),
    SYM(write_row, png_write_row, 1),
    SYM(write_end, png_write_end, 1),
    SYM(destroy_write, png_destroy_write_struct, 1),
};

static void *open_lib(const char *soname, char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        snprintf(err, errlen, "%s could not be loaded (%s): QR codes need it", soname,
                 dlerror());
    return h;
}

const evp_qr_libs *evp_qr_libs_get(char *err, size_t errlen)
{
    static evp_qr_libs libs;
    static int loaded;
    if (loaded)
        return &libs;
    void *qr = open_lib(QRENCODE_SONAME, err, errlen);
    void *png = qr ? open_lib(PNG_SONAME, err, errlen) : NULL;
    if (png == NULL)
        return NULL; /* a handle opened stays: it is only ever opened once more */
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        void *fn = dlsym(symbols[i].in_png ? png : qr, symbols[i].name);
        if (fn == NULL) {
            snprintf(err, errlen, "%s has no %s", symbols[i].in_png ? PNG_SONAME
                                                                    : QRENCODE_SONAME,
                     symbols[i].name);
            return NULL;
        }
        /* POSIX guarantees a function pointer survives the trip through void *. */
        memcpy((char *)&libs + symbols[i].offset, &fn, sizeof fn);
    }
    loaded = 1;
    return &libs;
}
