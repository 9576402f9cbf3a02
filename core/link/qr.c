/* QR codes of a share link (see the header). Error correction M: a photo of a screen reads. */
#include "qr.h"

#include "qr_libs.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEXT_QUIET 2 /* modules of quiet zone around a terminal's code */
#define PNG_QUIET 4  /* the standard's quiet zone, for a PNG */

static QRcode *encode(const evp_qr_libs *L, const char *text, char *err, size_t errlen)
{
    QRcode *qr = L->encode(text, 0, QR_ECLEVEL_M);
    if (qr == NULL)
        snprintf(err, errlen, "no QR code for this text (%zu bytes): %s", strlen(text),
                 errno == ERANGE ? "too long" : strerror(errno));
    return qr;
}

/* True when the module at (x, y) of the code with its quiet zone of `quiet` is dark. */
static int dark(const QRcode *qr, int quiet, int x, int y)
{
    x -= quiet;
    y -= quiet;
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return 0;
    return qr->data[y * qr->width + x] & 1;
}

int evp_qr_print(FILE *f, const char *text, char *err, size_t errlen)
{
    const evp_qr_libs *L = evp_qr_libs_get(err, errlen);
    QRcode *qr = L ? encode(L, text, err, errlen) : NULL;
    if (qr == NULL)
        return -1;
    /* Indexed by (top light) * 2 + (bottom light). */
    static const char *const cells[4] = {" ", "\u2584", "\u2580", "\u2588"};
    const int quiet = TEXT_QUIET, size = qr->width + 2 * quiet;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; x++) {
            int top = !dark(qr, quiet, x, y);
            int bottom = y + 1 < size ? !dark(qr, quiet, x, y + 1) : 0;
            fputs(cells[top * 2 + bottom], f);
        }
        fputc('\n', f);
    }
    L->code_free(qr);
    return 0;
}

/* Writes qr's rows into png (libpng longjmps here on error; nothing to clean up inside). */
static int write_rows(const evp_qr_libs *L, png_structp png, png_infop info, const QRcode *qr,
                      uint8_t *row, FILE *f)
{
    /* png_jmpbuf(png), through the loaded library. */
    if (setjmp(*L->set_longjmp_fn(png, longjmp, sizeof(jmp_buf))))
        return -1;
    const int quiet = PNG_QUIET, size = qr->width + 2 * quiet;
    const png_uint_32 px = (png_uint_32)size * EVP_QR_PNG_SCALE;
    L->init_io(png, f);
    L->set_ihdr(png, info, px, px, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    L->write_info(png, info);
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++)
            memset(row + x * EVP_QR_PNG_SCALE, dark(qr, quiet, x, y) ? 0 : 255,
                   EVP_QR_PNG_SCALE);
        for (int k = 0; k < EVP_QR_PNG_SCALE; k++)
            L->write_row(png, row);
    }
    L->write_end(png, NULL);
    return 0;
}

int evp_qr_png(const char *path, const char *text, char *err, size_t errlen)
{
    const evp_qr_libs *L = evp_qr_libs_get(err, errlen);
    QRcode *qr = L ? encode(L, text, err, errlen) : NULL;
    if (qr == NULL)
        return -1;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        L->code_free(qr);
        return -1;
    }
    /* A half-written file is removed on failure, but never a device or a pipe. */
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    png_structp png = L->create_write(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? L->create_info(png) : NULL;
    uint8_t *row = malloc((size_t)(qr->width + 2 * PNG_QUIET) * EVP_QR_PNG_SCALE);
    int rc = png && info && row ? write_rows(L, png, info, qr, row, f) : -1;
    L->destroy_write(png ? &png : NULL, info ? &info : NULL);
    free(row);
    L->code_free(qr);
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: the PNG could not be written", path);
        if (regular)
            unlink(path);
    }
    return rc;
}
