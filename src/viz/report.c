/* The HTML report: reads each prediction, writes its files beside the page and the manifest
 * the page's script works from (report_page.c writes the page, report_data.c the floats). */
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/json.h"
#include "io/png.h"
#include "maps.h"
#include "panel.h"
#include "report_data.h"
#include "report_overlay.h"
#include "report_page.h"
#include "report_read.h"
#include "summary.h"

#define THUMB_H 96

/* The maps the viewer knows, in its order: the classes (seg), then predict's heatmaps. */
#define VIEWER_MAPS (1 + DOUBT_MAP_COUNT)
static const char *viewer_map(int m) { return m ? doubt_maps[m - 1].name : DOUBT_MAP_FILE_CLASSES; }

doubt_report_opts doubt_report_defaults(void)
{
    doubt_report_opts o;
    memset(&o, 0, sizeof o);
    o.ndirs = 1;
    return o;
}

static doubt_status copy_file(const char *from, const char *to, doubt_error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: %s", from, strerror(errno));
    doubt_atomic_file af;
    doubt_status st = doubt_atomic_open(&af, to, err);
    if (st) {
        fclose(in);
        return st;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, af.f) != n)
            break;
    const int bad_in = ferror(in), bad_out = ferror(af.f);
    fclose(in);
    if (bad_in || bad_out) {
        doubt_atomic_abort(&af);
        return doubt_fail(err, DOUBT_ERR_IO, "copy %s to %s failed", from, to);
    }
    return doubt_atomic_commit(&af, err);
}

/* ---- the report ------------------------------------------------------------------------ */

typedef struct {
    const doubt_report_opts *o;
    char files[DOUBT_PATH_MAX]; /* STEM_files */
    char rel[DOUBT_PATH_MAX];   /* its name as the page refers to it */
    doubt_summary sum[2];
    cJSON *ranges[2];           /* per folder: {map: {lo, hi, scale, units, colormap}} */
    void (*on_error)(void *, const char *);
    void *user;
    int *failed;
} report;

static void problem(report *r, const char *msg)
{
    (*r->failed)++;
    if (r->on_error)
        r->on_error(r->user, msg);
}

/* path = STEM_files/SUB/I.TAIL, where SUB is e.g. "img/0". */
static doubt_status out_path(char *path, const report *r, const char *sub, int i,
                             const char *tail, doubt_error *err)
{
    char rel[128];
    if (snprintf(rel, sizeof rel, "%s/%d%s", sub, i, tail) >= (int)sizeof rel)
        return doubt_fail(err, DOUBT_ERR_ARG, "report file name too long: %s", tail);
    return doubt_path_join(path, r->files, rel, err);
}

/* The heatmap's fixed range, once per folder, from the first image that has the heatmap. */
static doubt_status note_range(report *r, int s, const char *map, const char *png,
                               doubt_error *err)
{
    if (cJSON_GetObjectItemCaseSensitive(r->ranges[s], map))
        return DOUBT_OK;
    static const char *const keys[][2] = {{"doubt.range", NULL},
                                          {"doubt.scale", "scale"},
                                          {"doubt.units", "units"},
                                          {"doubt.colormap", "colormap"},
                                          {"doubt.invalid_label", "invalid_label"}};
    cJSON *m = cJSON_CreateObject();
    if (!m)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char text[256];
        int found = 0;
        doubt_status st = doubt_png_read_text(png, keys[k][0], text, sizeof text, &found, err);
        if (st) {
            cJSON_Delete(m);
            return st;
        }
        if (!found)
            continue;
        if (keys[k][1])
            cJSON_AddStringToObject(m, keys[k][1], text);
        else {
            char *colon = strchr(text, ':');
            if (colon) {
                cJSON_AddNumberToObject(m, "lo", strtod(text, NULL));
                cJSON_AddNumberToObject(m, "hi", strtod(colon + 1, NULL));
            }
        }
    }
    cJSON_AddItemToObject(r->ranges[s], map, m);
    return DOUBT_OK;
}

static doubt_status write_thumb(const report *r, int s, int i, const uint8_t *photo,
                                const char *seg_png, doubt_error *err)
{
    uint8_t *rgb = NULL, *small = NULL;
    int w, h;
    doubt_status st = doubt_image_read_rgb8(seg_png, 0, &rgb, &w, &h, err);
    if (st)
        return st;
    if (photo)
        doubt_panel_blend(rgb, photo, (int64_t)w * h, 1.0f - DOUBT_INSPECT_OVERLAY_ALPHA);
    const int th = h > THUMB_H ? THUMB_H : h;
    int tw = doubt_panel_scaled_width(w, h, th);
    char path[DOUBT_PATH_MAX];
    if (!(st = doubt_panel_resize(rgb, w, h, tw, th, &small, err)) &&
        !(st = out_path(path, r, s ? "img/1" : "img/0", i, ".thumb.png", err)))
        st = doubt_png_write_rgb8(path, small, tw, th, NULL, 0, err);
    free(rgb);
    free(small);
    return st;
}

static double mean_finite(const float *v, int64_t n)
{
    double sum = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            sum += v[i];
            k++;
        }
    return k ? sum / (double)k : NAN;
}

/* One image of folder s: its files and its manifest entry. A failure of the image itself is
 * returned with ok = 0 in the entry; only running out of memory or an unwritable report
 * folder is an error of the report. */
static doubt_status side_image(report *r, int s, int i, const char *name, const uint8_t *photo,
                               int pw, int ph, cJSON *entry, doubt_report_prediction *pp,
                               doubt_error *err)
{
    const char *dir = r->o->dirs[s];
    doubt_report_prediction p = *pp; /* written back at the end: the caller frees it */
    doubt_error e = {{0}};
    char path[DOUBT_PATH_MAX], to[DOUBT_PATH_MAX], suffix[64];
    doubt_status st = doubt_report_read(dir, name, &p, &e);
    if (!st && photo && (pw != p.w || ph != p.h))
        st = doubt_fail(&e, DOUBT_ERR_FORMAT, "the photo of %s is %dx%d but %s/%s.seg.png is "
                        "%dx%d", name, pw, ph, dir, name, p.w, p.h);
    cJSON *heat = cJSON_AddArrayToObject(entry, "heat");
    for (int m = 0; !st && m < VIEWER_MAPS; m++) {
        snprintf(suffix, sizeof suffix, ".%s.png", viewer_map(m));
        if ((st = doubt_path_join_suffix(path, dir, name, suffix, &e)) || !doubt_is_regular_file(path))
            continue;
        if ((st = out_path(to, r, s ? "img/1" : "img/0", i, suffix, &e)) ||
            (st = copy_file(path, to, &e)) ||
            (m > 0 && (st = note_range(r, s, viewer_map(m), path, &e))))
            break;
        cJSON_AddItemToArray(heat, cJSON_CreateString(viewer_map(m)));
    }
    if (!st && !(st = doubt_path_join_suffix(path, dir, name, "." DOUBT_MAP_FILE_CLASSES ".png",
                                             &e)))
        st = write_thumb(r, s, i, photo, path, &e);
    if (st == DOUBT_ERR_NOMEM) {
        st = doubt_fail(err, st, "%s", e.msg);
        goto fatal;
    }
    if (st) {
        cJSON_AddFalseToObject(entry, "ok");
        cJSON_AddStringToObject(entry, "error", e.msg);
        problem(r, e.msg);
        *pp = p;
        return DOUBT_OK;
    }
    doubt_report_plane planes[DOUBT_RP_N];
    int np = 0;
    cJSON *floats = cJSON_AddArrayToObject(entry, "floats");
    cJSON *stats = cJSON_AddObjectToObject(entry, "stats");
    const int64_t n = (int64_t)p.w * p.h;
    for (int k = 0; k < DOUBT_RP_N; k++) {
        if (k != DOUBT_RP_CLS && !p.plane[k])
            continue;
        const doubt_report_type type = k == DOUBT_RP_CLS ? DOUBT_REPORT_U8 : DOUBT_REPORT_F16;
        const char *key = doubt_report_plane_key(k);
        planes[np++] = (doubt_report_plane){key, type, p.cls, p.plane[k]};
        cJSON_AddItemToArray(floats, cJSON_CreateString(key));
        if (k >= DOUBT_RP_DEPTH)
            doubt_json_add_number(stats, key, mean_finite(p.plane[k], n));
    }
    int64_t none = 0;
    for (int64_t j = 0; j < n; j++)
        none += isnan(p.plane[DOUBT_RP_DEPTH][j]);
    doubt_json_add_number(stats, "no_depth", (double)none / (double)n);
    const int row = doubt_summary_find(&r->sum[s], name);
    for (int c = 0; row >= 0 && c < r->sum[s].ncols; c++) { /* predict's float32 means win */
        cJSON_DeleteItemFromObjectCaseSensitive(stats, r->sum[s].col[c]);
        doubt_json_add_number(stats, r->sum[s].col[c], r->sum[s].v[row][c]);
    }
    cJSON_AddBoolToObject(entry, "ok", 1);
    cJSON_AddNumberToObject(entry, "w", p.w);
    cJSON_AddNumberToObject(entry, "h", p.h);
    cJSON_AddStringToObject(entry, "depth_source", p.depth_from_png ? "depth.png" : "npy");
    const int T = DOUBT_REPORT_TILE, ntx = (p.w + T - 1) / T, nty = (p.h + T - 1) / T;
    for (int t = 0; !st && t < ntx * nty; t++) {
        const int tx = t % ntx * T, ty = t / ntx * T;
        const doubt_report_rect rect = {tx, ty, p.w - tx < T ? p.w - tx : T,
                                        p.h - ty < T ? p.h - ty : T};
        snprintf(suffix, sizeof suffix, "_%d.js", t);
        if (!(st = out_path(path, r, s ? "data/1" : "data/0", i, suffix, err)))
            st = doubt_report_data_write(path, s, name, t, p.w, rect, planes, np, err);
    }
    int any = 0;
    if (!st && !(st = out_path(path, r, s ? "img/1" : "img/0", i, ".nodepth.png", err)))
        st = doubt_report_nodepth_write(path, p.plane[DOUBT_RP_DEPTH], p.w, p.h, &any, err);
    cJSON_AddBoolToObject(entry, "nodepth", any);
    p.ok = !st;
fatal:
    *pp = p;
    return st;
}

/* B - A of every map both folders have as floats, and of the classes. */
static doubt_status write_diffs(report *r, int i, const doubt_report_prediction p[2],
                                cJSON *entry, doubt_error *err)
{
    if (p[0].w != p[1].w || p[0].h != p[1].h)
        return DOUBT_OK; /* problem enough: the viewer shows both, no difference */
    cJSON *list = cJSON_AddArrayToObject(entry, "diff");
    char path[DOUBT_PATH_MAX], suffix[64];
    doubt_status st = out_path(path, r, "img/1", i, ".diff.seg.png", err);
    if (!st)
        st = doubt_report_classdiff_write(path, p[0].cls, p[1].cls, p[0].w, p[0].h, err);
    if (!st)
        cJSON_AddItemToArray(list, cJSON_CreateString(viewer_map(0)));
    for (int m = 1; !st && m < VIEWER_MAPS; m++) {
        const int k = m - 1 + DOUBT_RP_DEPTH; /* after seg: the planes from depth_mean on */
        const cJSON *rg = cJSON_GetObjectItemCaseSensitive(r->ranges[0], viewer_map(m));
        if (!rg)
            rg = cJSON_GetObjectItemCaseSensitive(r->ranges[1], viewer_map(m));
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(rg, "lo");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(rg, "hi");
        if (!p[0].plane[k] || !p[1].plane[k] || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) ||
            !(hi->valuedouble > lo->valuedouble))
            continue;
        snprintf(suffix, sizeof suffix, ".diff.%s.png", viewer_map(m));
        if (!(st = out_path(path, r, "img/1", i, suffix, err)))
            st = doubt_report_diff_write(path, p[0].plane[k], p[1].plane[k], p[0].w, p[0].h,
                                         (float)(hi->valuedouble - lo->valuedouble) / 2, err);
        if (!st)
            cJSON_AddItemToArray(list, cJSON_CreateString(viewer_map(m)));
    }
    return st;
}

/* The photo: copied when a browser shows its format, else re-encoded; decoded for the
 * thumbnail. A missing photo is not a failure (the page shows the segmentation instead). */
static doubt_status photo_of(report *r, int i, const char *name, uint8_t **rgb, int *w, int *h,
                             cJSON *img, doubt_error *err)
{
    char path[DOUBT_PATH_MAX], to[DOUBT_PATH_MAX];
    doubt_error e = {{0}};
    if (!r->o->images || doubt_inspect_find_input(r->o->images, name, path, &e))
        return DOUBT_OK;
    doubt_status st = doubt_image_read_rgb8(path, 0, rgb, w, h, &e);
    if (st == DOUBT_ERR_NOMEM)
        return doubt_fail(err, st, "%s", e.msg);
    if (st) {
        problem(r, e.msg);
        return DOUBT_OK;
    }
    const char *dot = strrchr(path, '.');
    char ext[8];
    snprintf(ext, sizeof ext, "%s", dot);
    for (char *c = ext; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    const int same = !strcmp(ext, ".png") || !strcmp(ext, ".jpg") || !strcmp(ext, ".jpeg") ||
                     !strcmp(ext, ".bmp");
    if ((st = out_path(to, r, "img/photo", i, same ? ext : ".png", err)))
        return st;
    st = same ? copy_file(path, to, err) : doubt_png_write_rgb8(to, *rgb, *w, *h, NULL, 0, err);
    if (!st) {
        char rel[64];
        snprintf(rel, sizeof rel, "%d%s", i, same ? ext : ".png");
        cJSON_AddStringToObject(img, "photo", rel);
    }
    return st;
}

/* The sorted union of the folders' names; *names owns copies. */
static doubt_status all_names(const doubt_report_opts *o, char ***names, int *count,
                              doubt_error *err)
{
    char **v[2] = {NULL, NULL};
    int n[2] = {0, 0};
    doubt_status st = DOUBT_OK;
    for (int s = 0; !st && s < o->ndirs; s++)
        st = doubt_inspect_list(o->dirs[s], &v[s], &n[s], err);
    char **u = st ? NULL : malloc((size_t)(n[0] + n[1]) * sizeof *u);
    if (!st && !u)
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int s = 0; !st && s < o->ndirs; s++) {
        memcpy(u + k, v[s], (size_t)n[s] * sizeof *u);
        k += n[s];
        free(v[s]);
        v[s] = NULL;
        n[s] = 0;
    }
    if (st) {
        for (int s = 0; s < 2; s++)
            doubt_inspect_list_free(v[s], n[s]);
        return st;
    }
    *names = u;
    *count = doubt_inspect_sort_unique(u, k);
    return DOUBT_OK;
}

static doubt_status add_eval(report *r, cJSON *root, doubt_error *err)
{
    const doubt_report_opts *o = r->o;
    if (o->eval_json) {
        FILE *f = fopen(o->eval_json, "rb");
        if (!f)
            return doubt_fail(err, DOUBT_ERR_IO, "%s: %s", o->eval_json, strerror(errno));
        char *text = NULL;
        size_t len = 0, cap = 0, got;
        char buf[65536];
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
            if (len + got + 1 > cap) {
                cap = 2 * (len + got + 1);
                char *t = realloc(text, cap);
                if (!t) {
                    free(text);
                    fclose(f);
                    return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory reading %s",
                                      o->eval_json);
                }
                text = t;
            }
            memcpy(text + len, buf, got);
            len += got;
        }
        fclose(f);
        cJSON *ev = text ? (text[len] = '\0', cJSON_Parse(text)) : NULL;
        free(text);
        if (!cJSON_IsObject(ev)) {
            cJSON_Delete(ev);
            return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: not a JSON object (doubt eval --json)",
                              o->eval_json);
        }
        cJSON_DeleteItemFromObjectCaseSensitive(ev, "per_image"); /* the table has them */
        cJSON_AddItemToObject(root, "eval", ev);
    }
    if (!o->eval_plots)
        return DOUBT_OK;
    static const char *const plots[] = {"reliability.png", "sparsification_depth.png",
                                        "sparsification_seg.png", "uncertainty_error.png",
                                        "uncertainty_error_seg.png"};
    cJSON *list = cJSON_AddArrayToObject(root, "eval_plots");
    for (size_t k = 0; k < sizeof plots / sizeof plots[0]; k++) {
        char from[DOUBT_PATH_MAX], to[DOUBT_PATH_MAX];
        doubt_status st = doubt_path_join(from, o->eval_plots, plots[k], err);
        if (!st && !doubt_is_regular_file(from))
            continue;
        char ev[DOUBT_PATH_MAX];
        if (!st && !(st = doubt_path_join(ev, r->files, "eval", err)) &&
            !(st = doubt_path_join(to, ev, plots[k], err)))
            st = copy_file(from, to, err);
        if (st)
            return st;
        cJSON_AddItemToArray(list, cJSON_CreateString(plots[k]));
    }
    return DOUBT_OK;
}

static doubt_status make_dirs(report *r, const char *html, doubt_error *err)
{
    const char *slash = strrchr(html, '/');
    const char *base = slash ? slash + 1 : html;
    size_t stem = strlen(base);
    if (stem > 5 && !strcmp(base + stem - 5, ".html"))
        stem -= 5;
    if (snprintf(r->rel, sizeof r->rel, "%.*s_files", (int)stem, base) >= (int)sizeof r->rel ||
        snprintf(r->files, sizeof r->files, "%.*s%s", slash ? (int)(slash - html + 1) : 0, html,
                 r->rel) >= (int)sizeof r->files)
        return doubt_fail(err, DOUBT_ERR_ARG, "report path too long: %s", html);
    static const char *const sub[] = {"img/photo", "img/0", "img/1", "data/0", "data/1", "eval"};
    for (size_t k = 0; k < sizeof sub / sizeof sub[0]; k++) {
        char path[DOUBT_PATH_MAX];
        doubt_status st = doubt_path_join(path, r->files, sub[k], err);
        if (!st)
            st = doubt_mkdir_p(path, err);
        if (st)
            return st;
    }
    return DOUBT_OK;
}

doubt_status doubt_report_write(const doubt_report_opts *o, const char *html,
                                void (*on_error)(void *user, const char *msg), void *user,
                                int *failed, doubt_error *err)
{
    *failed = 0;
    if (!o || o->ndirs < 1 || o->ndirs > 2 || !html)
        return doubt_fail(err, DOUBT_ERR_ARG, "report: one or two prediction folders and a page");
    report r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.on_error = on_error;
    r.user = user;
    r.failed = failed;
    char **names = NULL;
    int n = 0;
    cJSON *root = cJSON_CreateObject();
    doubt_status st = root ? all_names(o, &names, &n, err)
                           : doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory");
    for (int s = 0; !st && s < o->ndirs; s++)
        if (o->summaries[s])
            st = doubt_summary_read(o->summaries[s], &r.sum[s], on_error, user, failed, err);
    if (!st)
        st = make_dirs(&r, html, err);
    if (st)
        goto done;
    cJSON_AddStringToObject(root, "version", DOUBT_VERSION);
    cJSON_AddStringToObject(root, "files", r.rel);
    cJSON_AddNumberToObject(root, "tile", DOUBT_REPORT_TILE);
    cJSON *sides = cJSON_AddArrayToObject(root, "sides");
    for (int s = 0; s < o->ndirs; s++) {
        cJSON *sd = cJSON_CreateObject();
        cJSON_AddItemToArray(sides, sd);
        cJSON_AddStringToObject(sd, "dir", o->dirs[s]);
        r.ranges[s] = cJSON_AddObjectToObject(sd, "ranges");
    }
    cJSON *images = cJSON_AddArrayToObject(root, "images");
    for (int i = 0; !st && i < n; i++) {
        cJSON *img = cJSON_CreateObject();
        cJSON_AddItemToArray(images, img);
        cJSON_AddStringToObject(img, "name", names[i]);
        uint8_t *photo = NULL;
        int pw = 0, ph = 0;
        st = photo_of(&r, i, names[i], &photo, &pw, &ph, img, err);
        cJSON *per = cJSON_AddArrayToObject(img, "sides");
        doubt_report_prediction preds[2];
        memset(preds, 0, sizeof preds);
        for (int s = 0; !st && s < o->ndirs; s++) {
            cJSON *entry = cJSON_CreateObject();
            cJSON_AddItemToArray(per, entry);
            char seg[DOUBT_PATH_MAX];
            if (!(st = doubt_path_join_suffix(seg, o->dirs[s], names[i],
                                              "." DOUBT_MAP_FILE_CLASSES ".png", err)) &&
                !doubt_is_regular_file(seg) &&
                o->ndirs == 2) { /* in the other folder only: not shown, not a failure */
                cJSON_AddFalseToObject(entry, "ok");
                cJSON_AddStringToObject(entry, "error", "not in this folder");
                continue;
            }
            if (!st)
                st = side_image(&r, s, i, names[i], photo, pw, ph, entry, &preds[s], err);
        }
        if (!st && preds[0].ok && preds[1].ok)
            st = write_diffs(&r, i, preds, cJSON_GetArrayItem(per, 1), err);
        for (int s = 0; s < 2; s++)
            doubt_report_prediction_free(&preds[s]);
        free(photo);
    }
    if (!st)
        st = add_eval(&r, root, err);
    if (!st)
        st = doubt_report_page_write(html, root, err);
done:
    cJSON_Delete(root);
    for (int s = 0; s < 2; s++)
        doubt_summary_free(&r.sum[s]);
    doubt_inspect_list_free(names, n);
    return st;
}
