/* QR codes of a share link (libqrencode): UTF-8 blocks for a terminal, a PNG file (libpng). */
#ifndef EVP_QR_H
#define EVP_QR_H

#include <stddef.h>
#include <stdio.h>

/* Writes text's QR code to f, two module rows per line of UTF-8 half blocks, light modules
 * drawn (as `qrencode -t UTF8` draws them, for a terminal with a dark background), with a
 * 2-module quiet zone. 0, or -1 and err. */
int evp_qr_print(FILE *f, const char *text, char *err, size_t errlen);
/* Writes text's QR code to the file path as an 8-bit grey PNG, EVP_QR_PNG_SCALE pixels a
 * module, with a 4-module quiet zone. 0, or -1 and err (a half-written file is removed). */
int evp_qr_png(const char *path, const char *text, char *err, size_t errlen);

#define EVP_QR_PNG_SCALE 8

#endif
