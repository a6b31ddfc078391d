/* Input discovery for `doubt predict`: a recursive walk of the arguments, then the path order,
 * the duplicates and the NAMEs, in that order, so that an image's index (what --shard splits
 * on) depends only on the set of paths, not on the order readdir returns them. */
#include "inputs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/fsutil.h"

static int is_image_name(const char *path)
{
    static const char *const ext[] = {"png", "jpg", "jpeg", "bmp", "tga"};
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash))
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot + 1, ext[i]))
            return 1;
    return 0;
}

typedef struct {
    doubt_predict_input *items;
    int count, cap;
} item_vec;

static doubt_status push(item_vec *v, const char *path, doubt_predict_kind kind, const char *note,
                         doubt_error *err)
{
    if (v->count == v->cap) {
        int cap = v->cap ? 2 * v->cap : 64;
        doubt_predict_input *grown = realloc(v->items, (size_t)cap * sizeof *grown);
        if (!grown)
            return doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory listing inputs");
        v->items = grown;
        v->cap = cap;
    }
    doubt_predict_input *in = &v->items[v->count];
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->index = -1;
    in->path = strdup(path);
    in->note = note ? strdup(note) : NULL;
    v->count++;
    if (!in->path || (note && !in->note))
        return doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory listing inputs");
    return DOUBT_OK;
}

/* Symbolic links are followed; the depth limit stops a link cycle. */
static doubt_status walk(item_vec *v, const char *path, int depth, doubt_error *err)
{
    char note[DOUBT_PATH_MAX + 64];
    struct stat sb;
    if (stat(path, &sb)) {
        snprintf(note, sizeof note, "%s: %s", path, strerror(errno));
        return push(v, path, DOUBT_PREDICT_BAD, note, err);
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (is_image_name(path))
            return push(v, path, DOUBT_PREDICT_IMAGE, NULL, err);
        snprintf(note, sizeof note, "%s: not an image file name (png, jpg, jpeg, bmp, tga)",
                 path);
        return push(v, path, DOUBT_PREDICT_NOT_IMAGE, note, err);
    }
    if (depth > 64) {
        snprintf(note, sizeof note, "%s: folders nested too deep (a link cycle?)", path);
        return push(v, path, DOUBT_PREDICT_BAD, note, err);
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(note, sizeof note, "%s: cannot open folder: %s", path, strerror(errno));
        return push(v, path, DOUBT_PREDICT_BAD, note, err);
    }
    /* "dir/" and "dir" give the same child paths, so a file reached twice is one path. */
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    doubt_status st = DOUBT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char child[DOUBT_PATH_MAX];
        if ((size_t)snprintf(child, sizeof child, "%.*s/%s", (int)len, path, e->d_name) >=
            sizeof child) {
            snprintf(note, sizeof note, "%.*s/%s: path too long", (int)len, path, e->d_name);
            st = push(v, path, DOUBT_PREDICT_BAD, note, err);
        } else
            st = walk(v, child, depth + 1, err);
    }
    closedir(d);
    return st;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const doubt_predict_input *)a)->path, ((const doubt_predict_input *)b)->path);
}

static int by_name_then_index(const void *a, const void *b)
{
    const doubt_predict_input *x = *(const doubt_predict_input *const *)a;
    const doubt_predict_input *y = *(const doubt_predict_input *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    char *name = malloc(len + 1);
    if (name) {
        memcpy(name, base, len);
        name[len] = '\0';
    }
    return name;
}

void doubt_predict_list_free(doubt_predict_list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->count; i++) {
        free(l->items[i].path);
        free(l->items[i].name);
        free(l->items[i].note);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

doubt_status doubt_predict_list_inputs(const char *const *inputs, int n, doubt_predict_list *out,
                                       doubt_error *err)
{
    memset(out, 0, sizeof *out);
    item_vec v = {0};
    doubt_status st = DOUBT_OK;
    for (int i = 0; i < n && !st; i++)
        st = walk(&v, inputs[i], 0, err);
    out->items = v.items;
    out->count = v.count;
    if (st) {
        doubt_predict_list_free(out);
        return st;
    }
    qsort(out->items, (size_t)out->count, sizeof *out->items, by_path);
    /* The same path from two arguments is one input. */
    int kept = 0;
    for (int i = 0; i < out->count; i++) {
        if (kept && !strcmp(out->items[kept - 1].path, out->items[i].path)) {
            free(out->items[i].path);
            free(out->items[i].note);
            continue;
        }
        out->items[kept++] = out->items[i];
    }
    out->count = kept;
    doubt_predict_input **images = malloc(((size_t)out->count + 1) * sizeof *images);
    if (!images) {
        doubt_predict_list_free(out);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory listing inputs");
    }
    int ni = 0;
    for (int i = 0; i < out->count && !st; i++) {
        doubt_predict_input *in = &out->items[i];
        if (in->kind != DOUBT_PREDICT_IMAGE)
            continue;
        in->index = ni;
        images[ni++] = in;
        if (!(in->name = base_name(in->path)))
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory listing inputs");
    }
    out->images = ni;
    if (!st) {
        /* Outputs are named by NAME alone: the second file of a NAME would overwrite the
         * first one's maps, so it is refused instead. */
        qsort(images, (size_t)ni, sizeof *images, by_name_then_index);
        char note[2 * DOUBT_PATH_MAX + 96];
        for (int i = 0, j; i < ni && !st; i = j)
            for (j = i + 1; j < ni && !st && !strcmp(images[j]->name, images[i]->name); j++) {
                snprintf(note, sizeof note, "%s: output name '%s' already taken by %s",
                         images[j]->path, images[j]->name, images[i]->path);
                images[j]->kind = DOUBT_PREDICT_BAD;
                if (!(images[j]->note = strdup(note)))
                    st = doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory listing inputs");
            }
    }
    free(images);
    if (st)
        doubt_predict_list_free(out);
    return st;
}
