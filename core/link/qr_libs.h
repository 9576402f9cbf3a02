/* libqrencode and libpng, loaded with dlopen when `evproxy link` first draws a code: linked
 * in, they and zlib would cost every daemon ~600 KiB of resident memory for a command it
 * never runs. Only their headers are read at build time. */
#ifndef EVP_QR_LIBS_H
#define EVP_QR_LIBS_H

#include <png.h>
#include <qrencode.h>
#include <stddef.h>

/* The functions qr.c calls, typed from the libraries' own declarations. */
typedef struct evp_qr_libs {
    __typeof__(&QRcode_encodeString8bit) encode;
    __typeof__(&QRcode_free) code_free;
    __typeof__(&png_create_write_struct) create_write;
    __typeof__(&png_create_info_struct) create_info;
    __typeof__(&png_set_longjmp_fn) set_longjmp_fn;
    __typeof__(&png_init_io) init_io;
    __typeof__(&png_set_IHDR) set_ihdr;
    __typeof__(&png_write_info) write_info;
    __typeof__(&png_write_row) write_row;
    __typeof__(&png_write_end) write_end;
    __typeof__(&png_destroy_write_struct) destroy_write;
} evp_qr_libs;

/* The functions (the libraries are loaded on the first call and kept until exit), or NULL
 * and err naming the library or symbol that failed. Not thread-safe: for the command line. */
const evp_qr_libs *evp_qr_libs_get(char *err, size_t errlen);

#endif
