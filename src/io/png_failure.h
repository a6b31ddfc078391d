/* libpng's error and warning callbacks, shared by the PNG writers (png.c) and readers
 * (png_read.c): the error callback keeps libpng's message in the png_failure given as the
 * error pointer and longjmps out; warnings are ignored. Internal to src/io. */
#ifndef DOUBT_IO_PNG_FAILURE_H
#define DOUBT_IO_PNG_FAILURE_H

#include <png.h>

typedef struct {
    char msg[256];
} png_failure;

void doubt_png_on_error(png_structp png, png_const_charp msg);
void doubt_png_on_warning(png_structp png, png_const_charp msg);

#endif
