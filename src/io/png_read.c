/* PNG readers that stb_image cannot be: palette indices as stored, and tEXt chunks. */
#include "png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "png_failure.h"

/* The one function that calls libpng for reading; its longjmp never leaves this frame.
 * With index != NULL it decodes the pixels (8-bit palette or gray only) into *index, which
 * is allocated before the image rows are read and freed here on failure; with key != NULL it
 * copies that tEXt chunk (the first one before the image data) into text. */
static doubt_status read_png(const char *path, uint8_t **index, int *width, int *height,
                             const char *key, char *text, size_t size, int *found,
                             doubt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: %s", path, strerror(errno));
    png_failure fail = {{0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, doubt_png_on_error, doubt_png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    doubt_status st = DOUBT_OK;
    if (!png || !info) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: cannot create libpng state", path);
    } else if (setjmp(png_jmpbuf(png))) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s", path,
                        fail.msg[0] ? fail.msg : "not a readable PNG");
    } else {
        png_init_io(png, f);
        png_set_user_limits(png, 1000000, 1000000);
        png_read_info(png, info);
        const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
        const int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
        if (key) {
            png_textp t = NULL;
            const int nt = png_get_text(png, info, &t, NULL);
            *found = 0;
            for (int i = 0; i < nt && !*found; i++)
                if (!strcmp(t[i].key, key)) {
                    snprintf(text, size, "%s", t[i].text ? t[i].text : "");
                    *found = 1;
                }
        }
        if (index && ((ct != PNG_COLOR_TYPE_PALETTE && ct != PNG_COLOR_TYPE_GRAY) || bd != 8 ||
                      png_get_interlace_type(png, info) != PNG_INTERLACE_NONE)) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT,
                            "%s: need an 8-bit palette or gray PNG, not interlaced (colour type "
                            "%d, %d bits)",
                            path, ct, bd);
        } else if (index) {
            pixels = malloc((size_t)w * h);
            rows = malloc((size_t)h * sizeof *rows);
            if (!pixels || !rows)
                st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for %ux%u", path,
                                (unsigned)w, (unsigned)h);
            else {
                for (png_uint_32 y = 0; y < h; y++)
                    rows[y] = pixels + (size_t)y * w;
                png_read_image(png, rows);
                *width = (int)w;
                *height = (int)h;
            }
        }
    }
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    fclose(f);
    free(rows);
    if (index && !st)
        *index = pixels;
    else
        free(pixels);
    return st;
}

doubt_status doubt_png_read_index8(const char *path, uint8_t **index, int *width, int *height,
                                   doubt_error *err)
{
    *index = NULL;
    return read_png(path, index, width, height, NULL, NULL, 0, NULL, err);
}

doubt_status doubt_png_read_text(const char *path, const char *key, char *text, size_t size,
                                 int *found, doubt_error *err)
{
    if (!key || !text || size == 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "png read text %s: no key or buffer", path);
    text[0] = '\0';
    return read_png(path, NULL, NULL, NULL, key, text, size, found, err);
}
