#include "dataset.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/npy.h"

/* RNG consumers of the batcher (the `layer` word of the key). */
enum { RNG_SHUFFLE = 0x10001, RNG_AUGMENT = 0x10002 };

typedef enum { PART_LABELS, PART_DEPTH, PART_NOISE, PART_LABELNOISE, NPARTS } part;
static const char *const part_dir[NPARTS] = {"labels", "depth", "noise", "labelnoise"};
static const char *const part_ext[NPARTS] = {".png", ".png", ".npy", ".png"};

struct doubt_dataset {
    char dir[DOUBT_PATH_MAX];
    int count;
    char **names;  /* sorted, without extension */
    char **images; /* full paths */
    int has[NPARTS];
    int classes;
    float depth_scale;
    int64_t max_pixels;
    char **class_names; /* classes entries or NULL */
    uint8_t (*palette)[3];
    int no_depth_count;
    uint8_t no_depth[256]; /* dataset.json "no_depth_classes", increasing */
};

/* --- small string lists ------------------------------------------------------------------- */

typedef struct {
    char **v;
    int n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int strlist_push(strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return 0;
        l->v = v;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return 0;
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strlist_find(const strlist *l, const char *s)
{
    char *const *hit = l->n ? bsearch(&s, l->v, (size_t)l->n, sizeof *l->v, cmp_str) : NULL;
    return hit ? (int)(hit - l->v) : -1;
}

/* Entries of a folder except dot files, sorted. *exists = 0 when the folder is absent. */
static doubt_status list_dir(const char *path, int *exists, strlist *out, doubt_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) {
            *exists = 0;
            return DOUBT_OK;
        }
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: %s", path, strerror(errno));
    }
    *exists = 1;
    if (!S_ISDIR(sb.st_mode))
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: not a folder", path);
    DIR *d = opendir(path);
    if (!d)
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: %s", path, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (!strlist_push(out, e->d_name, strlen(e->d_name))) {
            closedir(d);
            strlist_free(out);
            return doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", path);
        }
    }
    closedir(d);
    if (out->n)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return DOUBT_OK;
}

static const char *image_ext(const char *file)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg"};
    size_t n = strlen(file);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && strcasecmp(file + n - k, exts[i]) == 0)
            return file + n - k;
    }
    return NULL;
}

/* --- dataset.json ------------------------------------------------------------------------- */

static doubt_status read_meta(doubt_dataset *ds, const doubt_dataset_opts *o, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = doubt_path_join(path, ds->dir, "dataset.json", err);
    if (st)
        return st;
    ds->classes = o->classes > 0 ? o->classes : 0;
    ds->depth_scale = o->depth_scale > 0 ? o->depth_scale : DOUBT_DEPTH_SCALE_DEFAULT;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return DOUBT_OK;
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: %s", path, strerror(errno));
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *t = cap <= ((size_t)1 << 24) ? realloc(text, cap) : NULL;
            if (!t) {
                free(text);
                fclose(f);
                return doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: too large or out of memory",
                                  path);
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: not a JSON object", path);
    }
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    const cJSON *names = cJSON_IsArray(classes) ? classes
                                                 : cJSON_GetObjectItemCaseSensitive(root, "class_names");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(root, "depth_scale");
    const cJSON *palette = cJSON_GetObjectItemCaseSensitive(root, "palette");
    int json_classes = 0;
    if (cJSON_IsNumber(classes))
        json_classes = classes->valueint;
    else if (cJSON_IsArray(classes))
        json_classes = cJSON_GetArraySize(classes);
    else if (classes)
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: \"classes\" must be a number or a list",
                        path);
    if (!st && classes && (json_classes < 1 || json_classes > 255))
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: %d classes (1..255 allowed)", path,
                        json_classes);
    if (!st && scale && (!cJSON_IsNumber(scale) || !(scale->valuedouble > 0)))
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: \"depth_scale\" must be positive", path);
    if (!st) {
        if (!ds->classes)
            ds->classes = json_classes;
        if (scale && !(o->depth_scale > 0))
            ds->depth_scale = (float)scale->valuedouble;
    }
    /* Names and palette only describe the classes when their count matches. */
    int nc = ds->classes;
    if (!st && nc > 0 && cJSON_IsArray(names) && cJSON_GetArraySize(names) == nc) {
        ds->class_names = calloc((size_t)nc, sizeof *ds->class_names);
        for (int c = 0; ds->class_names && c < nc; c++) {
            const cJSON *s = cJSON_GetArrayItem(names, c);
            const char *v = cJSON_IsString(s) ? s->valuestring : "";
            ds->class_names[c] = malloc(strlen(v) + 1);
            if (ds->class_names[c])
                strcpy(ds->class_names[c], v);
            else
                st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", path);
        }
        if (!ds->class_names)
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", path);
    }
    if (!st && nc > 0 && cJSON_IsArray(palette) && cJSON_GetArraySize(palette) == nc) {
        ds->palette = calloc((size_t)nc, sizeof *ds->palette);
        if (!ds->palette)
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", path);
        for (int c = 0; !st && c < nc; c++) {
            const cJSON *rgb = cJSON_GetArrayItem(palette, c);
            for (int k = 0; !st && k < 3; k++) {
                const cJSON *v = cJSON_IsArray(rgb) ? cJSON_GetArrayItem(rgb, k) : NULL;
                if (!cJSON_IsNumber(v) || v->valueint < 0 || v->valueint > 255)
                    st = doubt_fail(err, DOUBT_ERR_FORMAT,
                                    "dataset %s: palette entry %d is not [r, g, b] in 0..255",
                                    path, c);
                else
                    ds->palette[c][k] = (uint8_t)v->valueint;
            }
        }
    }
    const cJSON *no_depth = cJSON_GetObjectItemCaseSensitive(root, "no_depth_classes");
    if (!st && no_depth) {
        int n = cJSON_IsArray(no_depth) ? cJSON_GetArraySize(no_depth) : -1;
        if (n < 0 || n > 255)
            st = doubt_fail(err, DOUBT_ERR_FORMAT,
                            "dataset %s: \"no_depth_classes\" must be a list of class ids", path);
        for (int i = 0; !st && i < n; i++) {
            const cJSON *c = cJSON_GetArrayItem(no_depth, i);
            const int id = cJSON_IsNumber(c) ? c->valueint : -1;
            const int limit = nc > 0 ? nc : 255;
            if (id < 0 || id >= limit || c->valuedouble != id ||
                (i && id <= ds->no_depth[i - 1]))
                st = doubt_fail(err, DOUBT_ERR_FORMAT,
                                "dataset %s: \"no_depth_classes\" entry %d is not a class id "
                                "below %d greater than the one before",
                                path, i, limit);
            else
                ds->no_depth[ds->no_depth_count++] = (uint8_t)id;
        }
    }
    cJSON_Delete(root);
    return st;
}

/* --- open --------------------------------------------------------------------------------- */

void doubt_dataset_destroy(doubt_dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->count; i++) {
        free(ds->names[i]);
        free(ds->images[i]);
    }
    free(ds->names);
    free(ds->images);
    if (ds->class_names)
        for (int c = 0; c < ds->classes; c++)
            free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->palette);
    free(ds);
}

/* Checks one optional folder against the image names: every image has DIR/NAME.ext and every
 * file there belongs to an image. */
static doubt_status pair_part(doubt_dataset *ds, part p, const strlist *names, doubt_error *err)
{
    char dir[DOUBT_PATH_MAX];
    doubt_status st = doubt_path_join(dir, ds->dir, part_dir[p], err);
    if (st)
        return st;
    strlist files;
    int exists;
    st = list_dir(dir, &exists, &files, err);
    if (st || !exists)
        return st;
    ds->has[p] = 1;
    const char *ext = part_ext[p];
    size_t el = strlen(ext);
    for (int i = 0; !st && i < files.n; i++) {
        size_t n = strlen(files.v[i]);
        if (n <= el || strcmp(files.v[i] + n - el, ext) != 0) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s/%s: expected only NAME%s files", dir,
                            files.v[i], ext);
            break;
        }
        files.v[i][n - el] = '\0'; /* compare by NAME; sorting is unchanged by equal suffixes */
        if (strlist_find(names, files.v[i]) < 0)
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s/%s%s: no matching image in images/",
                            dir, files.v[i], ext);
    }
    if (!st && files.n)
        qsort(files.v, (size_t)files.n, sizeof *files.v, cmp_str);
    for (int i = 0; !st && i < names->n; i++)
        if (strlist_find(&files, names->v[i]) < 0)
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s/%s%s: missing (image %s has none)",
                            dir, names->v[i], ext, ds->images[i]);
    strlist_free(&files);
    return st;
}

/* An image file: NAME and full path, sorted by NAME (which can differ from file-name order:
 * "a-b.png" sorts before "a.png", but "a" before "a-b"). */
typedef struct {
    char *name;
    char *path;
} image_entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const image_entry *)a)->name, ((const image_entry *)b)->name);
}

static doubt_status list_images(doubt_dataset *ds, doubt_error *err)
{
    char images_dir[DOUBT_PATH_MAX];
    strlist files;
    int exists = 0;
    doubt_status st = doubt_path_join(images_dir, ds->dir, "images", err);
    if (!st)
        st = list_dir(images_dir, &exists, &files, err);
    if (st)
        return st;
    if (!exists)
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: no images/ folder", ds->dir);
    if (files.n == 0)
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: images/ holds no .png/.jpg/.jpeg files",
                        ds->dir);
    image_entry *e = st ? NULL : calloc((size_t)files.n, sizeof *e);
    if (!st && !e)
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", ds->dir);
    for (int i = 0; !st && i < files.n; i++) {
        const char *ext = image_ext(files.v[i]);
        if (!ext) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s/%s: not a .png/.jpg/.jpeg image",
                            images_dir, files.v[i]);
            break;
        }
        size_t nl = (size_t)(ext - files.v[i]);
        size_t pl = strlen(images_dir) + 1 + strlen(files.v[i]) + 1;
        e[i].name = malloc(nl + 1);
        e[i].path = malloc(pl);
        if (!e[i].name || !e[i].path) {
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", ds->dir);
            break;
        }
        memcpy(e[i].name, files.v[i], nl);
        e[i].name[nl] = '\0';
        snprintf(e[i].path, pl, "%s/%s", images_dir, files.v[i]);
    }
    if (!st) {
        qsort(e, (size_t)files.n, sizeof *e, cmp_entry);
        for (int i = 1; !st && i < files.n; i++)
            if (strcmp(e[i - 1].name, e[i].name) == 0)
                st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s and %s: two images named %s",
                                e[i - 1].path, e[i].path, e[i].name);
    }
    if (!st) {
        ds->names = calloc((size_t)files.n, sizeof *ds->names);
        ds->images = calloc((size_t)files.n, sizeof *ds->images);
        if (!ds->names || !ds->images)
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", ds->dir);
    }
    if (!st) {
        /* ownership of the strings moves to ds */
        for (int i = 0; i < files.n; i++) {
            ds->names[i] = e[i].name;
            ds->images[i] = e[i].path;
        }
        ds->count = files.n;
    } else if (e) {
        for (int i = 0; i < files.n; i++) {
            free(e[i].name);
            free(e[i].path);
        }
    }
    free(e);
    strlist_free(&files);
    return st;
}

doubt_status doubt_dataset_open(const char *dir, const doubt_dataset_opts *opts,
                                doubt_dataset **out, doubt_error *err)
{
    if (!dir || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "dataset: no folder given");
    *out = NULL;
    doubt_dataset_opts defaults = {0};
    const doubt_dataset_opts *o = opts ? opts : &defaults;
    if (strlen(dir) >= DOUBT_PATH_MAX - 64)
        return doubt_fail(err, DOUBT_ERR_ARG, "dataset %.64s...: path too long", dir);
    if (o->classes < 0 || o->classes > 255)
        return doubt_fail(err, DOUBT_ERR_ARG, "dataset %s: %d classes (1..255 allowed)", dir,
                          o->classes);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return doubt_fail(err, DOUBT_ERR_IO, "dataset %s: not a folder", dir);

    doubt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "dataset %s: out of memory", dir);
    snprintf(ds->dir, sizeof ds->dir, "%s", dir);
    ds->max_pixels = o->max_pixels > 0 ? o->max_pixels : DOUBT_IMAGE_MAX_PIXELS_DEFAULT;
    doubt_status st = list_images(ds, err);
    strlist names = {ds->names, ds->count, ds->count}; /* a borrowed, sorted view */
    for (int p = 0; !st && p < NPARTS; p++)
        st = pair_part(ds, (part)p, &names, err);
    if (!st)
        st = read_meta(ds, o, err);
    if (st) {
        doubt_dataset_destroy(ds);
        return st;
    }
    *out = ds;
    return DOUBT_OK;
}

int doubt_dataset_count(const doubt_dataset *ds) { return ds->count; }
const char *doubt_dataset_name(const doubt_dataset *ds, int i) { return ds->names[i]; }
const char *doubt_dataset_image_path(const doubt_dataset *ds, int i) { return ds->images[i]; }
int doubt_dataset_has_labels(const doubt_dataset *ds) { return ds->has[PART_LABELS]; }
int doubt_dataset_has_depth(const doubt_dataset *ds) { return ds->has[PART_DEPTH]; }
int doubt_dataset_has_noise(const doubt_dataset *ds) { return ds->has[PART_NOISE]; }
int doubt_dataset_has_labelnoise(const doubt_dataset *ds) { return ds->has[PART_LABELNOISE]; }
int doubt_dataset_classes(const doubt_dataset *ds) { return ds->classes; }
int doubt_dataset_no_depth_classes(const doubt_dataset *ds, const uint8_t **classes)
{
    *classes = ds->no_depth;
    return ds->no_depth_count;
}
float doubt_dataset_depth_scale(const doubt_dataset *ds) { return ds->depth_scale; }

const char *doubt_dataset_class_name(const doubt_dataset *ds, int c)
{
    return ds->class_names && c >= 0 && c < ds->classes ? ds->class_names[c] : NULL;
}

const uint8_t (*doubt_dataset_palette(const doubt_dataset *ds))[3]
{
    return (const uint8_t(*)[3])ds->palette;
}

/* --- samples ------------------------------------------------------------------------------ */

void doubt_sample_release(doubt_sample *s)
{
    if (!s)
        return;
    free(s->image);
    free(s->labels);
    free(s->depth);
    free(s->noise);
    free(s->labelnoise);
    memset(s, 0, sizeof *s);
}

static doubt_status size_mismatch(const char *path, int w, int h, const char *image, int iw,
                                  int ih, doubt_error *err)
{
    return doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: size %dx%d differs from image %s (%dx%d)",
                      path, w, h, image, iw, ih);
}

doubt_status doubt_dataset_load(const doubt_dataset *ds, int i, doubt_sample *s, doubt_error *err)
{
    memset(s, 0, sizeof *s);
    if (i < 0 || i >= ds->count)
        return doubt_fail(err, DOUBT_ERR_ARG, "dataset %s: sample %d of %d", ds->dir, i, ds->count);
    const char *img = ds->images[i];
    doubt_status st = doubt_image_read(img, ds->max_pixels, &s->image, &s->width, &s->height, err);
    char path[DOUBT_PATH_MAX];
    int w = 0, h = 0;
    for (int p = 0; !st && p < NPARTS; p++) {
        if (!ds->has[p])
            continue;
        int n = snprintf(path, sizeof path, "%s/%s/%s%s", ds->dir, part_dir[p], ds->names[i],
                         part_ext[p]);
        if (n < 0 || n >= (int)sizeof path) {
            st = doubt_fail(err, DOUBT_ERR_ARG, "dataset %s: path of %s too long", ds->dir,
                            ds->names[i]);
            break;
        }
        if (p == PART_LABELS) {
            st = doubt_image_read_labels(path, ds->max_pixels, &s->labels, &w, &h, err);
        } else if (p == PART_LABELNOISE) {
            /* 8-bit gray like a label map: the reader's checks are the ones wanted */
            st = doubt_image_read_labels(path, ds->max_pixels, &s->labelnoise, &w, &h, err);
        } else if (p == PART_DEPTH) {
            st = doubt_image_read_depth(path, ds->max_pixels, ds->depth_scale, &s->depth, &w, &h,
                                        err);
        } else {
            int nd;
            int64_t shape[4];
            st = doubt_npy_read_f32(path, &s->noise, &nd, shape, err);
            /* [H, W] or [1, H, W] */
            if (!st && (nd == 2 || (nd == 3 && shape[0] == 1))) {
                h = (int)shape[nd - 2];
                w = (int)shape[nd - 1];
            } else if (!st) {
                st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s: noise must be [H, W], has %d dims",
                                path, nd);
            }
        }
        if (!st && (w != s->width || h != s->height))
            st = size_mismatch(path, w, h, img, s->width, s->height, err);
        if (!st && p == PART_LABELS && ds->classes > 0) {
            size_t np = (size_t)w * (size_t)h;
            for (size_t k = 0; k < np; k++)
                if (s->labels[k] >= ds->classes && s->labels[k] != 255) {
                    st = doubt_fail(err, DOUBT_ERR_FORMAT,
                                    "dataset %s: pixel (%d, %d) has class %d, the dataset has %d "
                                    "classes (255 = ignore)",
                                    path, (int)(k % (size_t)w), (int)(k / (size_t)w), s->labels[k],
                                    ds->classes);
                    break;
                }
        }
    }
    if (st)
        doubt_sample_release(s);
    return st;
}

doubt_status doubt_dataset_validate(const doubt_dataset *ds, doubt_error *err)
{
    for (int i = 0; i < ds->count; i++) {
        doubt_sample s;
        doubt_status st = doubt_dataset_load(ds, i, &s, err);
        if (st)
            return st;
        doubt_sample_release(&s);
    }
    return DOUBT_OK;
}

/* --- batches ------------------------------------------------------------------------------ */

struct doubt_batcher {
    const doubt_dataset *ds;
    doubt_batch_opts o;
    int width, height; /* batch crop size */
    int64_t perm_epoch;
    int *perm;
};

void doubt_batcher_destroy(doubt_batcher *b)
{
    if (!b)
        return;
    free(b->perm);
    free(b);
}

doubt_status doubt_batcher_create(const doubt_dataset *ds, const doubt_batch_opts *o,
                                  doubt_batcher **out, doubt_error *err)
{
    if (!ds || !o || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "batcher: missing argument");
    *out = NULL;
    if (o->batch < 1 || o->crop_w < 0 || o->crop_h < 0 || (o->crop_w == 0) != (o->crop_h == 0))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "batcher %s: batch %d, crop %dx%d (batch >= 1; crop both > 0 or both 0)",
                          ds->dir, o->batch, o->crop_w, o->crop_h);
    doubt_batcher *b = calloc(1, sizeof *b);
    int *perm = malloc((size_t)ds->count * sizeof *perm);
    if (!b || !perm) {
        free(b);
        free(perm);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "batcher %s: out of memory", ds->dir);
    }
    b->ds = ds;
    b->o = *o;
    b->perm = perm;
    b->perm_epoch = -1;
    b->width = o->crop_w;
    b->height = o->crop_h;
    if (!o->crop_w) {
        /* full images: the batch shape is the first image's, the others must match */
        doubt_image_info info;
        doubt_status st = doubt_image_probe(ds->images[0], &info, err);
        if (st) {
            doubt_batcher_destroy(b);
            return st;
        }
        b->width = info.width;
        b->height = info.height;
    }
    *out = b;
    return DOUBT_OK;
}

void doubt_batcher_size(const doubt_batcher *b, int *width, int *height)
{
    *width = b->width;
    *height = b->height;
}

/* Fisher-Yates shuffle of epoch e, keyed by (seed, e): any step can be filled first. */
static void shuffle_epoch(doubt_batcher *b, int64_t epoch)
{
    int n = b->ds->count;
    for (int i = 0; i < n; i++)
        b->perm[i] = i;
    doubt_rng_key key = {b->o.seed, (uint64_t)epoch, RNG_SHUFFLE};
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(((uint64_t)doubt_rng_bits(key, (uint64_t)i) * (uint64_t)(i + 1)) >> 32);
        int t = b->perm[i];
        b->perm[i] = b->perm[j];
        b->perm[j] = t;
    }
    b->perm_epoch = epoch;
}

doubt_status doubt_batcher_fill(doubt_batcher *b, int64_t step, float *image, uint8_t *labels,
                                float *depth, float *noise, doubt_error *err)
{
    if (step < 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "batcher %s: negative step %lld", b->ds->dir,
                          (long long)step);
    const int n = b->ds->count, B = b->o.batch, cw = b->width, ch = b->height;
    const size_t plane = (size_t)cw * (size_t)ch;
    for (int r = 0; r < B; r++) {
        /* sample number `pos` of the endless sequence; its crop and flip are keyed by pos so
         * they do not depend on the batch size */
        uint64_t pos = (uint64_t)step * (uint64_t)B + (uint64_t)r;
        int64_t epoch = (int64_t)(pos / (uint64_t)n);
        if (epoch != b->perm_epoch)
            shuffle_epoch(b, epoch);
        int idx = b->perm[pos % (uint64_t)n];
        doubt_sample s;
        doubt_status st = doubt_dataset_load(b->ds, idx, &s, err);
        if (st)
            return st;
        if (s.width < cw || s.height < ch || (!b->o.crop_w && (s.width != cw || s.height != ch))) {
            st = doubt_fail(err, DOUBT_ERR_ARG,
                            b->o.crop_w ? "dataset %s: image is %dx%d, smaller than the %dx%d crop"
                                        : "dataset %s: image is %dx%d, the batch is %dx%d "
                                          "(images differ in size: give a crop)",
                            b->ds->images[idx], s.width, s.height, cw, ch);
            doubt_sample_release(&s);
            return st;
        }
        doubt_rng_key key = {b->o.seed, pos, RNG_AUGMENT};
        int x0 = (int)(((uint64_t)doubt_rng_bits(key, 0) * (uint64_t)(s.width - cw + 1)) >> 32);
        int y0 = (int)(((uint64_t)doubt_rng_bits(key, 1) * (uint64_t)(s.height - ch + 1)) >> 32);
        int flip = b->o.flip && (doubt_rng_bits(key, 2) >> 31);
        const size_t sp = (size_t)s.width * (size_t)s.height;
        for (int y = 0; y < ch; y++) {
            for (int x = 0; x < cw; x++) {
                size_t src = (size_t)(y0 + y) * (size_t)s.width + (size_t)(x0 + (flip ? cw - 1 - x : x));
                size_t dst = (size_t)y * (size_t)cw + (size_t)x;
                if (image)
                    for (int c = 0; c < 3; c++)
                        image[((size_t)r * 3 + (size_t)c) * plane + dst] = s.image[c * sp + src];
                if (labels)
                    labels[(size_t)r * plane + dst] = s.labels ? s.labels[src] : 255;
                if (depth)
                    depth[(size_t)r * plane + dst] = s.depth ? s.depth[src] : 0.0f;
                if (noise)
                    noise[(size_t)r * plane + dst] = s.noise ? s.noise[src] : NAN;
            }
        }
        doubt_sample_release(&s);
    }
    return DOUBT_OK;
}
