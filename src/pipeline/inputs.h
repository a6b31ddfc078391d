/* The images `doubt predict` is given: files and folders expanded into one list, each entry an
 * image to process, a file skipped (not an image name) or a problem to report.
 *
 *     doubt_predict_list list;
 *     st = doubt_predict_list_inputs((const char *[]){"photos/", "extra.jpg"}, 2, &list, &err);
 *     for (int i = 0; i < list.count; i++)
 *         ... list.items[i].kind, .path, .name (NAME of the outputs), .index, .note ...
 *     doubt_predict_list_free(&list);
 *
 * Folders are recursed (names starting with '.' skipped silently, as the writers' temporaries
 * are), and everything is sorted bytewise by path. Images are recognised by extension (png,
 * jpg, jpeg, bmp, tga, any case) and numbered 0, 1, ... in that order: the index --shard
 * uses. A path given twice counts once.
 */
#ifndef DOUBT_PIPELINE_INPUTS_H
#define DOUBT_PIPELINE_INPUTS_H

#include "core/status.h"

typedef enum {
    DOUBT_PREDICT_IMAGE,     /* to process */
    DOUBT_PREDICT_NOT_IMAGE, /* skipped; note says so */
    DOUBT_PREDICT_BAD        /* an error: missing input, unreadable folder, NAME taken */
} doubt_predict_kind;

typedef struct {
    char *path;
    char *name;  /* NAME, for images */
    doubt_predict_kind kind;
    int index;   /* among image files (including those whose NAME is taken); -1 otherwise */
    char *note;  /* why it is skipped or bad; NULL for images to process */
} doubt_predict_input;

typedef struct {
    int count, images;
    doubt_predict_input *items;
} doubt_predict_list;

/* Fails only when out of memory; problems with single inputs become BAD items. When two
 * images share a NAME, the later one in path order is BAD and its note names both paths. */
doubt_status doubt_predict_list_inputs(const char *const *inputs, int n, doubt_predict_list *out,
                                       doubt_error *err);
void doubt_predict_list_free(doubt_predict_list *l);

#endif
