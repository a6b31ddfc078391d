/* Panels of a prediction folder (the HTML report is report.c). */
#include "inspect.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/png.h"
#include "maps.h"
#include "panel.h"

/* The length of the suffix that makes file one of predict's PNGs (NAME.seg.png, NAME.depth.png
 * or a heatmap NAME.<map>.png), 0 when it is none. */
static size_t prediction_suffix(const char *file)
{
    static const char *const fixed[] = {DOUBT_MAP_FILE_CLASSES, DOUBT_MAP_FILE_DEPTH};
    const size_t len = strlen(file);
    for (int k = 0; k < 2 + DOUBT_MAP_COUNT; k++) {
        char suffix[64];
        const size_t sl = (size_t)snprintf(suffix, sizeof suffix, ".%s.png",
                                           k < 2 ? fixed[k] : doubt_maps[k - 2].name);
        if (len > sl && !strcmp(file + len - sl, suffix))
            return sl;
    }
    return 0;
}

doubt_inspect_opts doubt_inspect_defaults(void)
{
    const doubt_map_info *depth = &doubt_maps[DOUBT_MAP_DEPTH_COLOR];
    return (doubt_inspect_opts){.images = NULL, .depth_lo = depth->lo, .depth_hi = depth->hi};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int doubt_inspect_sort_unique(char **names, int count)
{
    qsort(names, (size_t)count, sizeof *names, cmp_str);
    int kept = 0;
    for (int i = 0; i < count; i++) {
        if (kept && !strcmp(names[kept - 1], names[i]))
            free(names[i]);
        else
            names[kept++] = names[i];
    }
    return kept;
}

void doubt_inspect_list_free(char **names, int count)
{
    for (int i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

doubt_status doubt_inspect_list(const char *dir, char ***names, int *count, doubt_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0;
    doubt_status st = DOUBT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* temporaries of an interrupted writer */
        const size_t len = strlen(e->d_name), sl = prediction_suffix(e->d_name);
        if (!sl)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(v, (size_t)cap * sizeof *v);
            if (!t) {
                st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            v = t;
        }
        if (!(v[n] = malloc(len - sl + 1))) {
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        memcpy(v[n], e->d_name, len - sl);
        v[n++][len - sl] = '\0';
    }
    closedir(d);
    if (!st && n == 0)
        st = doubt_fail(err, DOUBT_ERR_FORMAT,
                        "%s holds no predictions (no NAME.seg.png, NAME.depth.png, ...)", dir);
    if (st) {
        doubt_inspect_list_free(v, n);
        return st;
    }
    *names = v;
    *count = doubt_inspect_sort_unique(v, n); /* one entry per NAME, however many files */
    return DOUBT_OK;
}

doubt_status doubt_inspect_find_input(const char *images, const char *name, char *path,
                                      doubt_error *err)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga",
                                      ".PNG", ".JPG", ".JPEG", ".BMP", ".TGA"};
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        doubt_status st = doubt_path_join_suffix(path, images, name, ext[k], err);
        if (st)
            return st;
        if (doubt_is_regular_file(path))
            return DOUBT_OK;
    }
    return doubt_fail(err, DOUBT_ERR_IO, "no input image %s/%s.{png,jpg,jpeg,bmp,tga}", images,
                      name);
}

/* The images of one panel; all owned. heat[m] is map m's heatmap, for every map but the depth
 * itself, which is the depth tile. */
typedef struct {
    uint8_t *input, *seg, *depth, *heat[DOUBT_MAP_COUNT];
    int iw, ih, sw, sh, dw, dh, hw[DOUBT_MAP_COUNT], hh[DOUBT_MAP_COUNT];
} panel_images;

static int heatmap_tile(int m) { return doubt_maps[m].kind != DOUBT_MAP_KIND_DEPTH; }

static void panel_images_free(panel_images *p)
{
    free(p->input);
    free(p->seg);
    free(p->depth);
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        free(p->heat[m]);
}

static doubt_status read_rgb(const char *dir, const char *name, const char *suffix, uint8_t **rgb,
                             int *w, int *h, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = doubt_path_join_suffix(path, dir, name, suffix, err);
    if (st)
        return st;
    if (!doubt_is_regular_file(path))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    return doubt_image_read_rgb8(path, 0, rgb, w, h, err);
}

/* The depth tile: predict's own coloured depth when it wrote one, else depth.png coloured
 * here on the fixed range. Either way depth.png is read for the mean. */
static doubt_status load_depth(const char *dir, const char *name, const doubt_inspect_opts *o,
                               panel_images *p, double *mean_depth, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = doubt_path_join_suffix(path, dir, name, "." DOUBT_MAP_FILE_DEPTH ".png", err);
    if (st)
        return st;
    if (!doubt_is_regular_file(path))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    float *depth = NULL;
    int w, h;
    if ((st = doubt_image_read_depth(path, 0, DOUBT_DEPTH_SCALE_DEFAULT, &depth, &w, &h, err)))
        return st;
    double sum = 0;
    int64_t valid = 0;
    for (int64_t i = 0; i < (int64_t)w * h; i++)
        if (depth[i] > 0) {
            sum += depth[i];
            valid++;
        }
    if (mean_depth)
        *mean_depth = valid ? sum / (double)valid : NAN;
    const doubt_map_info *dm = &doubt_maps[DOUBT_MAP_DEPTH_COLOR];
    char color[DOUBT_PATH_MAX], suffix[64];
    snprintf(suffix, sizeof suffix, ".%s.png", dm->name);
    st = doubt_path_join_suffix(color, dir, name, suffix, err);
    if (!st && doubt_is_regular_file(color))
        st = doubt_image_read_rgb8(color, 0, &p->depth, &p->dw, &p->dh, err);
    else if (!st) {
        doubt_heatmap_opts ho = doubt_heatmap_defaults();
        ho.lo = o->depth_lo;
        ho.hi = o->depth_hi;
        ho.cmap = dm->cmap;
        ho.units = dm->units;
        for (int64_t i = 0; i < (int64_t)w * h; i++)
            depth[i] = depth[i] > 0 ? depth[i] : NAN; /* 0 = no depth: the invalid colour */
        doubt_heatmap_layout lay;
        st = doubt_heatmap_render(depth, NULL, w, h, &ho, &p->depth, &lay, err);
        p->dw = lay.width;
        p->dh = lay.height;
    }
    free(depth);
    return st;
}

doubt_status doubt_inspect_panel(const char *dir, const char *name, const doubt_inspect_opts *o,
                                 const char *out, const char *thumb, double *mean_depth,
                                 doubt_error *err)
{
    panel_images p;
    memset(&p, 0, sizeof p);
    uint8_t *canvas = NULL, *overlay = NULL;
    char path[DOUBT_PATH_MAX];
    doubt_status st =
        read_rgb(dir, name, "." DOUBT_MAP_FILE_CLASSES ".png", &p.seg, &p.sw, &p.sh, err);
    if (!st && o->images && !(st = doubt_inspect_find_input(o->images, name, path, err)))
        st = doubt_image_read_rgb8(path, 0, &p.input, &p.iw, &p.ih, err);
    if (!st && p.input && (p.iw != p.sw || p.ih != p.sh))
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s is %dx%d but %s/%s.seg.png is %dx%d", path, p.iw,
                        p.ih, dir, name, p.sw, p.sh);
    if (!st)
        st = load_depth(dir, name, o, &p, mean_depth, err);
    for (int m = 0; !st && m < DOUBT_MAP_COUNT; m++) {
        if (!heatmap_tile(m))
            continue;
        char suffix[64];
        snprintf(suffix, sizeof suffix, ".%s.png", doubt_maps[m].name);
        st = read_rgb(dir, name, suffix, &p.heat[m], &p.hw[m], &p.hh[m], err);
    }
    if (st)
        goto done;
    size_t bytes = (size_t)p.sw * p.sh * 3;
    if (!(overlay = malloc(bytes))) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for %s", name);
        goto done;
    }
    if (p.input) {
        memcpy(overlay, p.input, bytes);
        doubt_panel_blend(overlay, p.seg, (int64_t)p.sw * p.sh, DOUBT_INSPECT_OVERLAY_ALPHA);
    } else
        memcpy(overlay, p.seg, bytes);
    doubt_panel_tile tiles[2 + DOUBT_MAP_COUNT];
    int n = 0;
    if (p.input)
        tiles[n++] = (doubt_panel_tile){p.input, p.iw, p.ih, "Input"};
    tiles[n++] = (doubt_panel_tile){overlay, p.sw, p.sh, p.input ? "Segmentation" : "Seg classes"};
    tiles[n++] = (doubt_panel_tile){p.depth, p.dw, p.dh, doubt_maps[DOUBT_MAP_DEPTH_COLOR].title};
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        if (heatmap_tile(m))
            tiles[n++] = (doubt_panel_tile){p.heat[m], p.hw[m], p.hh[m], doubt_maps[m].title};
    /* The heatmaps keep their own height (the colorbar labels stay at their drawn size);
     * smaller images are scaled up to it. */
    int cw, ch;
    if ((st = doubt_panel_compose(tiles, n, 0, &canvas, &cw, &ch, err)))
        goto done;
    doubt_png_text text[] = {{"doubt.panel", name}};
    if ((st = doubt_png_write_rgb8(out, canvas, cw, ch, text, 1, err)))
        goto done;
    if (thumb)
        st = doubt_png_write_rgb8(thumb, overlay, p.sw, p.sh, NULL, 0, err);
done:
    free(canvas);
    free(overlay);
    panel_images_free(&p);
    return st;
}
