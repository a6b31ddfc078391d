#include "png.h"

#include <png.h>
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "png_failure.h"

void doubt_png_on_error(png_structp png, png_const_charp msg)
{
    png_failure *f = png_get_error_ptr(png);
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    png_longjmp(png, 1);
}

void doubt_png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. about text encoding) do not make the file wrong */
}

typedef struct {
    int color_type;
    int bit_depth;
    int bytes_per_pixel;
    const uint8_t (*palette)[3];
    int ncolors;
} png_layout;

static doubt_status check_args(const char *path, const void *pixels, int width, int height,
                               const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    if (!path)
        return doubt_fail(err, DOUBT_ERR_ARG, "png write: no path");
    if (!pixels)
        return doubt_fail(err, DOUBT_ERR_ARG, "png write %s: no pixels", path);
    if (width <= 0 || height <= 0 || width > 1000000 || height > 1000000)
        return doubt_fail(err, DOUBT_ERR_ARG, "png write %s: bad size %dx%d", path, width, height);
    if (ntexts < 0 || (ntexts > 0 && !texts))
        return doubt_fail(err, DOUBT_ERR_ARG, "png write %s: bad text list", path);
    for (int i = 0; i < ntexts; i++) {
        size_t kl = texts[i].key ? strlen(texts[i].key) : 0;
        if (kl < 1 || kl > 79 || !texts[i].text)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "png write %s: text %d needs a key of 1..79 characters and a text",
                              path, i);
    }
    return DOUBT_OK;
}

/* The one function that calls libpng; its longjmp never leaves this frame. Everything that
 * must survive the jump is allocated before setjmp and held in volatile-free locals that are
 * not modified after it. */
static doubt_status write_png(const char *path, const png_layout *lay, const uint8_t *pixels,
                              int width, int height, const doubt_png_text *texts, int ntexts,
                              doubt_error *err)
{
    doubt_status st = check_args(path, pixels, width, height, texts, ntexts, err);
    if (st)
        return st;
    size_t row_bytes = (size_t)width * (size_t)lay->bytes_per_pixel;
    png_bytep *rows = malloc((size_t)height * sizeof *rows);
    png_text *ptext = calloc((size_t)ntexts + 1, sizeof *ptext);
    png_color *pal = calloc(256, sizeof *pal);
    if (!rows || !ptext || !pal) {
        free(rows);
        free(ptext);
        free(pal);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "png write %s: out of memory", path);
    }
    for (int y = 0; y < height; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * row_bytes);
    for (int i = 0; i < ntexts; i++) {
        ptext[i].compression = PNG_TEXT_COMPRESSION_NONE;
        ptext[i].key = (png_charp)texts[i].key;
        ptext[i].text = (png_charp)texts[i].text;
        ptext[i].text_length = strlen(texts[i].text);
    }
    for (int i = 0; i < lay->ncolors; i++) {
        pal[i].red = lay->palette[i][0];
        pal[i].green = lay->palette[i][1];
        pal[i].blue = lay->palette[i][2];
    }

    doubt_atomic_file af;
    st = doubt_atomic_open(&af, path, err);
    if (st) {
        free(rows);
        free(ptext);
        free(pal);
        return st;
    }
    png_failure fail = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &fail, doubt_png_on_error,
                                              doubt_png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "png write %s: cannot create libpng state", path);
    } else if (setjmp(png_jmpbuf(png))) {
        /* libpng's "Write Error" hides the reason; the stream's errno still holds it */
        const int e = ferror(af.f) ? errno : 0;
        if (e)
            st = doubt_fail_os(err, e, "png write %s: %s", path, strerror(e));
        else
            st = doubt_fail(err, DOUBT_ERR_IO, "png write %s: %s", path,
                            fail.msg[0] ? fail.msg : "libpng error");
    } else {
        png_init_io(png, af.f);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, lay->bit_depth,
                     lay->color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        if (lay->color_type == PNG_COLOR_TYPE_PALETTE)
            png_set_PLTE(png, info, pal, lay->ncolors);
        if (ntexts > 0)
            png_set_text(png, info, ptext, ntexts);
        png_write_info(png, info);
        if (lay->bit_depth == 16) {
            /* PNG stores 16-bit samples big-endian; the caller's are in host order. */
            const uint16_t probe = 1;
            uint8_t first;
            memcpy(&first, &probe, 1);
            if (first == 1)
                png_set_swap(png);
        }
        png_write_image(png, rows);
        png_write_end(png, info);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(rows);
    free(ptext);
    free(pal);
    if (st) {
        doubt_atomic_abort(&af);
        return st;
    }
    return doubt_atomic_commit(&af, err);
}

doubt_status doubt_png_write_rgb8(const char *path, const uint8_t *rgb, int width, int height,
                                  const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    const png_layout lay = {PNG_COLOR_TYPE_RGB, 8, 3, NULL, 0};
    return write_png(path, &lay, rgb, width, height, texts, ntexts, err);
}

doubt_status doubt_png_write_rgba8(const char *path, const uint8_t *rgba, int width, int height,
                                   const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    const png_layout lay = {PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, NULL, 0};
    return write_png(path, &lay, rgba, width, height, texts, ntexts, err);
}

doubt_status doubt_png_write_gray8(const char *path, const uint8_t *v, int width, int height,
                                   const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    const png_layout lay = {PNG_COLOR_TYPE_GRAY, 8, 1, NULL, 0};
    return write_png(path, &lay, v, width, height, texts, ntexts, err);
}

doubt_status doubt_png_write_gray16(const char *path, const uint16_t *v, int width, int height,
                                    const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    const png_layout lay = {PNG_COLOR_TYPE_GRAY, 16, 2, NULL, 0};
    return write_png(path, &lay, (const uint8_t *)v, width, height, texts, ntexts, err);
}

doubt_status doubt_png_write_palette(const char *path, const uint8_t *index, int width, int height,
                                     const uint8_t (*palette)[3], int ncolors,
                                     const doubt_png_text *texts, int ntexts, doubt_error *err)
{
    if (!palette || ncolors < 1 || ncolors > 256)
        return doubt_fail(err, DOUBT_ERR_ARG, "png write %s: palette needs 1..256 colours, got %d",
                          path ? path : "(null)", ncolors);
    if (index && width > 0 && height > 0) {
        /* An index past the palette makes a PNG that readers reject; say which pixel. */
        for (int64_t i = 0; i < (int64_t)width * height; i++)
            if (index[i] >= ncolors)
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "png write %s: pixel (%d, %d) has index %d, palette has %d colours",
                                  path ? path : "(null)", (int)(i % width), (int)(i / width),
                                  index[i], ncolors);
    }
    const png_layout lay = {PNG_COLOR_TYPE_PALETTE, 8, 1, palette, ncolors};
    return write_png(path, &lay, index, width, height, texts, ntexts, err);
}
