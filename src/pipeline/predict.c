#include "predict.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/png.h"
#include "io/sha256.h"
#include "model/mc.h"
#include "model/safetensors.h"
#include "viz/heatmap.h"
#include "viz/maps.h"
#include "viz/palette.h"

/* ---- maps and options ------------------------------------------------------------------ */

doubt_predict_opts doubt_predict_defaults(void)
{
    doubt_predict_opts o;
    memset(&o, 0, sizeof o);
    o.samples = 20;
    o.converge = DOUBT_MC_DEFAULT_CONVERGE;
    o.depth_scale = DOUBT_DEPTH_SCALE_DEFAULT;
    o.maps = DOUBT_PREDICT_ALL_MAPS;
    return o;
}

static void map_names(char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int m = 0; m < DOUBT_MAP_COUNT && at < cap; m++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", m ? ", " : "", doubt_maps[m].name);
}

doubt_status doubt_predict_parse_maps(const char *list, unsigned *maps, doubt_error *err)
{
    char names[256];
    if (!strcmp(list, "all")) {
        *maps = DOUBT_PREDICT_ALL_MAPS;
        return DOUBT_OK;
    }
    unsigned bits = 0;
    if (strcmp(list, "none")) {
        for (const char *s = list;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            int m = doubt_map_find(s, len);
            if (m < 0) {
                map_names(names, sizeof names);
                return doubt_fail(err, DOUBT_ERR_ARG, "--maps: unknown map '%.*s' (maps: %s)",
                                  (int)len, s, names);
            }
            bits |= 1u << m;
            if (!comma)
                break;
            s = comma + 1;
        }
    }
    *maps = bits;
    return DOUBT_OK;
}

doubt_status doubt_predict_parse_range(const char *arg, doubt_predict_opts *o, doubt_error *err)
{
    const char *eq = strchr(arg, '=');
    char names[256];
    int m = eq ? doubt_map_find(arg, (size_t)(eq - arg)) : -1;
    if (m < 0) {
        map_names(names, sizeof names);
        return doubt_fail(err, DOUBT_ERR_ARG, "--range '%s': want NAME=LO:HI with NAME one of %s",
                          arg, names);
    }
    char *end;
    errno = 0;
    float lo = strtof(eq + 1, &end);
    int ok = !errno && end != eq + 1 && *end == ':';
    if (ok) {
        const char *h = end + 1;
        float hi = strtof(h, &end);
        ok = !errno && end != h && !*end && isfinite(lo) && isfinite(hi) && lo < hi;
        if (ok && doubt_maps[m].log_scale && !(lo > 0))
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "--range '%s': %s is drawn on a log scale, LO must be > 0", arg,
                              doubt_maps[m].name);
        if (ok) {
            o->lo[m] = lo;
            o->hi[m] = hi;
        }
    }
    if (!ok)
        return doubt_fail(err, DOUBT_ERR_ARG, "--range '%s': want LO:HI, finite, LO < HI", arg);
    return DOUBT_OK;
}

/* ---- the predictor --------------------------------------------------------------------- */

struct doubt_predictor {
    doubt_ctx *ctx;
    int members;                 /* weights files: 1, or an ensemble's (mc.h) */
    doubt_safetensors **weights; /* [members], in the order given */
    char (*sha256)[65];          /* [members] */
    const char **paths, **hashes; /* [members]: each member's file and SHA-256, for JSON */
    char *sha256_text;           /* the hashes joined by commas, for the tEXt chunks */
    doubt_mc *mc;
    doubt_predict_opts o; /* ranges resolved: lo < hi for every map */
    int classes;
    uint8_t (*palette)[3];
    char samples_text[96], seed_text[32], scale_text[32];
    doubt_png_text texts[5];
    int ntexts;
    float *sorted; /* scratch for percentiles */
    uint16_t *depth16;
    uint8_t *valid;
    size_t cap; /* pixels the scratch buffers hold */
};

/* The weights' own palette: __metadata__ "palette" = "[[r,g,b], ...]", one per class. */
static doubt_status metadata_palette(const doubt_safetensors *w, int classes, uint8_t (*pal)[3],
                                     int *found, doubt_error *err)
{
    *found = 0;
    const char *text = doubt_safetensors_meta(w, "palette");
    if (!text)
        return DOUBT_OK;
    cJSON *root = cJSON_Parse(text);
    int ok = cJSON_IsArray(root) && cJSON_GetArraySize(root) == classes;
    for (int c = 0; ok && c < classes; c++) {
        const cJSON *rgb = cJSON_GetArrayItem(root, c);
        ok = cJSON_IsArray(rgb) && cJSON_GetArraySize(rgb) == 3;
        for (int k = 0; ok && k < 3; k++) {
            const cJSON *x = cJSON_GetArrayItem(rgb, k);
            ok = cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= 255 &&
                 x->valuedouble == (double)x->valueint;
            if (ok)
                pal[c][k] = (uint8_t)x->valueint;
        }
    }
    cJSON_Delete(root);
    if (!ok)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: __metadata__ palette is not %d [r, g, b] triples in 0..255",
                          w->path, classes);
    *found = 1;
    return DOUBT_OK;
}

void doubt_predict_destroy(doubt_predictor *p)
{
    if (!p)
        return;
    doubt_mc_destroy(p->mc);
    for (int m = 0; p->weights && m < p->members; m++)
        doubt_safetensors_destroy(p->weights[m]);
    free(p->weights);
    free(p->sha256);
    free(p->paths);
    free(p->hashes);
    free(p->sha256_text);
    free(p->palette);
    free(p->sorted);
    free(p->depth16);
    free(p->valid);
    free(p);
}

/* Reads and hashes member m's weights file. */
static doubt_status load_member(doubt_predictor *p, int m, const char *path, doubt_error *err)
{
    doubt_status st = doubt_safetensors_read(path, &p->weights[m], err);
    if (st)
        return st;
    p->paths[m] = p->weights[m]->path; /* the caller's list need not outlive the predictor */
    p->hashes[m] = p->sha256[m];
    return doubt_sha256_file(path, p->sha256[m], err);
}

/* The members' hashes joined by commas: 64 digits and a comma or the final NUL each. */
static char *joined_hashes(const doubt_predictor *p)
{
    const size_t cap = (size_t)p->members * sizeof *p->sha256;
    char *text = malloc(cap);
    size_t at = 0;
    for (int m = 0; text && m < p->members; m++)
        at += (size_t)snprintf(text + at, cap - at, "%s%s", m ? "," : "", p->sha256[m]);
    return text;
}

/* Every member loaded and the MC engine made from them. */
static doubt_status load_members(doubt_predictor *p, const char *const *weights_paths,
                                 doubt_error *err)
{
    const int n = p->members;
    p->weights = calloc((size_t)n, sizeof *p->weights);
    p->sha256 = calloc((size_t)n, sizeof *p->sha256);
    p->paths = calloc((size_t)n, sizeof *p->paths);
    p->hashes = calloc((size_t)n, sizeof *p->hashes);
    if (!p->weights || !p->sha256 || !p->paths || !p->hashes)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory");
    doubt_status st = DOUBT_OK;
    for (int m = 0; m < n && !st; m++)
        st = load_member(p, m, weights_paths[m], err);
    if (!st && !(p->sha256_text = joined_hashes(p)))
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory");
    if (st)
        return st;
    const doubt_predict_opts *o = &p->o;
    doubt_mc_desc d = {.samples = o->samples,
                       .adaptive = o->adaptive,
                       .converge = o->converge,
                       .deterministic = o->deterministic,
                       .chunk = o->chunk,
                       .seed = o->seed,
                       .tile = o->tile,
                       .tile_margin = o->tile_margin,
                       .mask_no_depth = 1,
                       .method = o->method,
                       .precision = o->precision};
    st = doubt_mc_create_ensemble(p->ctx, (const doubt_safetensors *const *)p->weights, n, &d,
                                  &p->mc);
    return st ? doubt_fail(err, st, "%s", p->ctx->err.msg) : DOUBT_OK;
}

doubt_status doubt_predict_create(doubt_ctx *ctx, const char *weights_path,
                                  const doubt_predict_opts *o, doubt_predictor **out,
                                  doubt_error *err)
{
    return doubt_predict_create_ensemble(ctx, &weights_path, 1, o, out, err);
}

doubt_status doubt_predict_create_ensemble(doubt_ctx *ctx, const char *const *weights_paths,
                                           int members, const doubt_predict_opts *o,
                                           doubt_predictor **out, doubt_error *err)
{
    *out = NULL;
    if (!o || members < 1 || o->samples < 1 || o->chunk < 0 || !(o->depth_scale > 0) ||
        !isfinite(o->depth_scale) || o->max_pixels < 0 || o->tile < 0 || o->tile_margin < 0)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "predict: needs weights, samples >= 1, chunk >= 0, tile sizes >= 0 "
                          "and a positive depth scale");
    doubt_predictor *p = calloc(1, sizeof *p);
    if (!p)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory");
    p->ctx = ctx;
    p->o = *o;
    p->members = members;
    if (p->o.tile && !p->o.tile_margin)
        p->o.tile_margin = DOUBT_MC_DEFAULT_TILE_MARGIN;
    doubt_status st = load_members(p, weights_paths, err);
    if (!st) {
        p->classes = doubt_mc_network(p->mc)->classes;
        p->palette = calloc((size_t)p->classes, sizeof *p->palette);
        if (!p->palette)
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "predict: out of memory");
    }
    int found = 0;
    if (!st)
        st = metadata_palette(p->weights[0], p->classes, p->palette, &found, err);
    if (!st && !found)
        doubt_palette_default(p->palette, p->classes);
    if (st) {
        doubt_predict_destroy(p);
        return st;
    }
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        if (!(p->o.lo[m] < p->o.hi[m]))
            doubt_map_default_range((doubt_map)m, p->classes, &p->o.lo[m],
                                            &p->o.hi[m]);
    if (p->o.deterministic || p->o.method == DOUBT_MC_PROPAGATE) {
        p->o.samples = 1;
        p->o.adaptive = 0;
    }
    char members_text[48] = "";
    if (members > 1)
        snprintf(members_text, sizeof members_text, " per member, %d members", members);
    if (p->o.adaptive)
        snprintf(p->samples_text, sizeof p->samples_text, "auto (at most %d, converge %g)",
                 p->o.samples, p->o.converge);
    else
        snprintf(p->samples_text, sizeof p->samples_text, "%d%s%s%s", p->o.samples,
                 p->o.deterministic ? " (deterministic)" : "",
                 p->o.method == DOUBT_MC_PROPAGATE ? " (moment propagation)" : "",
                 members_text);
    snprintf(p->seed_text, sizeof p->seed_text, "%llu", (unsigned long long)p->o.seed);
    snprintf(p->scale_text, sizeof p->scale_text, "%.9g", (double)p->o.depth_scale);
    p->texts[p->ntexts++] = (doubt_png_text){"doubt.version", DOUBT_VERSION};
    p->texts[p->ntexts++] = (doubt_png_text){"doubt.weights_sha256", p->sha256_text};
    p->texts[p->ntexts++] = (doubt_png_text){"doubt.samples", p->samples_text};
    p->texts[p->ntexts++] = (doubt_png_text){"doubt.seed", p->seed_text};
    *out = p;
    return DOUBT_OK;
}

const char *doubt_predict_weights_sha256(const doubt_predictor *p) { return p->sha256_text; }

int doubt_predict_classes(const doubt_predictor *p) { return p->classes; }

/* ---- outputs --------------------------------------------------------------------------- */

/* Map m has values: not an epistemic map of one deterministic pass, identically zero (a
 * deterministic ensemble's are the spread across its members). */
static int map_defined(const doubt_predictor *p, int m)
{
    return !(p->o.deterministic && p->members == 1 && doubt_maps[m].epistemic);
}

static int heatmap_wanted(const doubt_predictor *p, int m)
{
    return (p->o.maps >> m & 1u) && map_defined(p, m);
}

static int npy_wanted(const doubt_predictor *p, int m)
{
    return p->o.npy && map_defined(p, m);
}

static doubt_status output_path(char *out, const char *outdir, const char *name,
                                const char *what, const char *ext, doubt_error *err)
{
    char file[DOUBT_PATH_MAX];
    if ((size_t)snprintf(file, sizeof file, "%s.%s.%s", name, what, ext) >= sizeof file)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: output name too long", name);
    return doubt_path_join(out, outdir, file, err);
}

static int exists(const char *outdir, const char *name, const char *what, const char *ext)
{
    char path[DOUBT_PATH_MAX];
    struct stat sb;
    return !output_path(path, outdir, name, what, ext, NULL) && !stat(path, &sb) &&
           S_ISREG(sb.st_mode);
}

int doubt_predict_done(const doubt_predictor *p, const char *outdir, const char *name)
{
    if (!exists(outdir, name, DOUBT_MAP_FILE_CLASSES, "png") ||
        !exists(outdir, name, DOUBT_MAP_FILE_DEPTH, "png") ||
        (p->o.npy && !exists(outdir, name, DOUBT_MAP_FILE_PROBS, "npy")))
        return 0;
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        if ((heatmap_wanted(p, m) && !exists(outdir, name, doubt_maps[m].name, "png")) ||
            (npy_wanted(p, m) && !exists(outdir, name, doubt_maps[m].values, "npy")))
            return 0;
    return 1;
}

static const float *map_data(const doubt_mc_maps *m, int which)
{
    switch (which) {
    case DOUBT_MAP_DEPTH_COLOR: return m->depth_mean;
    case DOUBT_MAP_DEPTH_EPISTEMIC: return m->depth_epistemic;
    case DOUBT_MAP_DEPTH_ALEATORIC: return m->depth_aleatoric;
    case DOUBT_MAP_DEPTH_TOTAL: return m->depth_total;
    case DOUBT_MAP_SEG_ENTROPY: return m->seg_entropy;
    case DOUBT_MAP_SEG_ALEATORIC: return m->seg_aleatoric;
    case DOUBT_MAP_SEG_MUTUAL_INFO: return m->seg_mutual_info;
    default: return m->seg_logit_var;
    }
}

static doubt_status write_npy(const char *outdir, const char *name, const char *what,
                              const float *v, int nd, const int64_t *shape, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = output_path(path, outdir, name, what, "npy", err);
    return st ? st : doubt_npy_write_f32(path, v, nd, shape, err);
}

static doubt_status write_outputs(doubt_predictor *p, const doubt_mc_maps *mm, const char *name,
                                  const char *outdir, doubt_error *err)
{
    const int w = mm->width, h = mm->height;
    const size_t n = (size_t)w * h;
    char path[DOUBT_PATH_MAX];
    doubt_status st = DOUBT_OK;
    const int64_t shape[3] = {mm->classes, h, w};
    for (int m = 0; m < DOUBT_MAP_COUNT && !st; m++) {
        /* the class probabilities lead the segmentation maps, in predict.h's order */
        if (p->o.npy && m == DOUBT_MAP_SEG_ENTROPY)
            st = write_npy(outdir, name, DOUBT_MAP_FILE_PROBS, mm->seg_prob, 3, shape, err);
        if (!st && npy_wanted(p, m))
            st = write_npy(outdir, name, doubt_maps[m].values, map_data(mm, m), 2, shape + 1,
                           err);
    }
    /* depth_color leaves out what depth.png records as "no depth" (NaN: a no-depth class). */
    for (size_t i = 0; i < n; i++)
        p->valid[i] = mm->depth_mean[i] > 0;
    for (int m = 0; m < DOUBT_MAP_COUNT && !st; m++) {
        if (!heatmap_wanted(p, m))
            continue;
        doubt_heatmap_opts ho = doubt_heatmap_defaults();
        ho.lo = p->o.lo[m];
        ho.hi = p->o.hi[m];
        ho.cmap = doubt_maps[m].cmap;
        ho.map_name = doubt_maps[m].name;
        ho.units = doubt_maps[m].units;
        ho.log_scale = doubt_maps[m].log_scale;
        if (doubt_maps[m].kind != DOUBT_MAP_KIND_SEG_UNCERTAINTY &&
            doubt_mc_network(p->mc)->no_depth_count)
            ho.invalid_label = "no depth";
        ho.texts = p->texts;
        ho.ntexts = p->ntexts;
        st = output_path(path, outdir, name, doubt_maps[m].name, "png", err);
        if (!st)
            st = doubt_heatmap_write(path, map_data(mm, m),
                                     m == DOUBT_MAP_DEPTH_COLOR ? p->valid : NULL, w, h, &ho,
                                     err);
    }
    doubt_png_text texts[8];
    memcpy(texts, p->texts, (size_t)p->ntexts * sizeof *texts);
    if (!st) {
        const double scale = p->o.depth_scale;
        for (size_t i = 0; i < n; i++) {
            const double v = mm->depth_mean[i] * scale;
            /* A positive depth never becomes 0, which would read back as "no depth". */
            p->depth16[i] = v > 0 ? (uint16_t)(v >= 65535 ? 65535 : v < 1 ? 1 : lround(v)) : 0;
        }
        texts[p->ntexts] = (doubt_png_text){"doubt.map", doubt_maps[DOUBT_MAP_DEPTH_COLOR].values};
        texts[p->ntexts + 1] = (doubt_png_text){"doubt.depth_scale", p->scale_text};
        st = output_path(path, outdir, name, DOUBT_MAP_FILE_DEPTH, "png", err);
        if (!st)
            st = doubt_png_write_gray16(path, p->depth16, w, h, texts, p->ntexts + 2, err);
    }
    if (!st) {
        texts[p->ntexts] = (doubt_png_text){"doubt.map", "seg_class"};
        st = output_path(path, outdir, name, DOUBT_MAP_FILE_CLASSES, "png", err);
        if (!st)
            st = doubt_png_write_palette(path, mm->seg_class, w, h,
                                         (const uint8_t(*)[3])p->palette, p->classes, texts,
                                         p->ntexts + 1, err);
    }
    return st;
}

/* ---- the summary ----------------------------------------------------------------------- */

static int by_value(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics, as numpy.percentile does by default. */
static double percentile(const float *sorted, size_t k, double q)
{
    const double pos = q * (double)(k - 1);
    const size_t i = (size_t)pos;
    const double f = pos - (double)i;
    return i + 1 < k ? sorted[i] + f * ((double)sorted[i + 1] - sorted[i]) : sorted[i];
}

static cJSON *map_stats(doubt_predictor *p, const float *v, size_t n, double threshold)
{
    size_t k = 0, above = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            p->sorted[k++] = v[i];
            sum += v[i];
            above += v[i] > threshold;
        }
    qsort(p->sorted, k, sizeof *p->sorted, by_value);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const double nan = NAN;
    cJSON_AddItemToObject(o, "mean", doubt_json_number(k ? sum / (double)k : nan));
    cJSON_AddItemToObject(o, "p50", doubt_json_number(k ? percentile(p->sorted, k, 0.50) : nan));
    cJSON_AddItemToObject(o, "p90", doubt_json_number(k ? percentile(p->sorted, k, 0.90) : nan));
    cJSON_AddItemToObject(o, "p99", doubt_json_number(k ? percentile(p->sorted, k, 0.99) : nan));
    cJSON_AddItemToObject(o, "threshold", doubt_json_number(threshold));
    cJSON_AddItemToObject(o, "above", doubt_json_number(k ? (double)above / (double)k : nan));
    cJSON_AddItemToObject(o, "defined", doubt_json_number(n ? (double)k / (double)n : nan));
    return o;
}

static char *summary(doubt_predictor *p, const doubt_mc_maps *mm, const char *path,
                     const char *name, double seconds)
{
    const size_t n = (size_t)mm->width * mm->height;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "input", path);
    cJSON_AddNumberToObject(o, "width", mm->width);
    cJSON_AddNumberToObject(o, "height", mm->height);
    cJSON_AddNumberToObject(o, "classes", mm->classes);
    cJSON *maps = cJSON_AddObjectToObject(o, "maps");
    /* each map's values, "threshold" three quarters up its heatmap's range */
    for (int m = 0; m < DOUBT_MAP_COUNT; m++) {
        if (!map_defined(p, m))
            continue;
        const double lo = p->o.lo[m], hi = p->o.hi[m];
        const double thr =
            doubt_maps[m].log_scale ? lo * pow(hi / lo, 0.75) : lo + 0.75 * (hi - lo);
        cJSON_AddItemToObject(maps, doubt_maps[m].values, map_stats(p, map_data(mm, m), n, thr));
    }
    cJSON *hist = cJSON_AddArrayToObject(o, "class_fraction");
    size_t *count = calloc((size_t)mm->classes, sizeof *count);
    if (count) {
        for (size_t i = 0; i < n; i++)
            count[mm->seg_class[i]]++;
        for (int c = 0; c < mm->classes; c++)
            cJSON_AddItemToArray(hist, doubt_json_number((double)count[c] / (double)n));
        free(count);
    }
    cJSON_AddNumberToObject(o, "nan_pixels", (double)mm->nan_pixels);
    cJSON_AddNumberToObject(o, "samples", mm->samples);
    cJSON *automatic = p->o.adaptive ? cJSON_CreateObject() : cJSON_CreateNull();
    if (p->o.adaptive) {
        cJSON_AddNumberToObject(automatic, "max", p->o.samples);
        doubt_json_add_number(automatic, "converge", p->o.converge);
    }
    cJSON_AddItemToObject(o, "samples_auto", automatic);
    cJSON_AddBoolToObject(o, "deterministic", p->o.deterministic);
    cJSON_AddStringToObject(o, "method", doubt_mc_method_name(p->o.method));
    cJSON_AddNumberToObject(o, "seed", (double)p->o.seed);
    cJSON_AddItemToObject(o, "tile",
                          p->o.tile ? cJSON_CreateNumber(p->o.tile) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "tile_margin", p->o.tile ? cJSON_CreateNumber(p->o.tile_margin)
                                                      : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "depth_scale", p->o.depth_scale);
    cJSON_AddItemToObject(o, "time_s", doubt_json_number(seconds));
    doubt_json_add_one_or_many(o, "weights", p->paths, p->members);
    doubt_json_add_one_or_many(o, "weights_sha256", p->hashes, p->members);
    cJSON_AddStringToObject(o, "version", DOUBT_VERSION);
    char *text = count ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    char *copy = text ? strdup(text) : NULL;
    cJSON_free(text);
    return copy;
}

doubt_status doubt_predict_image(doubt_predictor *p, const char *path, const char *name,
                                 const char *outdir, char **json, doubt_error *err)
{
    *json = NULL;
    const double start = doubt_clock_seconds();
    float *chw = NULL;
    int w = 0, h = 0;
    doubt_status st = doubt_image_read(path, p->o.max_pixels, &chw, &w, &h, err);
    if (st)
        return st;
    const size_t n = (size_t)w * h;
    if (n > p->cap) {
        free(p->sorted);
        free(p->depth16);
        free(p->valid);
        p->sorted = malloc(n * sizeof *p->sorted);
        p->depth16 = malloc(n * sizeof *p->depth16);
        p->valid = malloc(n);
        p->cap = p->sorted && p->depth16 && p->valid ? n : 0;
        if (!p->cap)
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for %dx%d maps", path, w, h);
    }
    const doubt_mc_maps *mm = NULL;
    if (!st && (st = doubt_mc_run(p->ctx, p->mc, chw, w, h, &mm)))
        doubt_fail(err, st, "%s: inference failed: %s", path, p->ctx->err.msg);
    free(chw);
    if (!st)
        st = write_outputs(p, mm, name, outdir, err);
    if (!st && !(*json = summary(p, mm, path, name, doubt_clock_seconds() - start)))
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for the summary", path);
    return st;
}
