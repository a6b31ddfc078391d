/* The `doubt predict` pipeline for one image at a time: read, Monte Carlo inference (mc.h),
 * write the per-image outputs, summarise as one JSON line.
 *
 *     doubt_predict_list list;                                   // inputs.h
 *     doubt_predict_list_inputs((const char *[]){"photos/"}, 1, &list, &err);
 *     doubt_predict_opts o = doubt_predict_defaults();           // T = 20, seed 0, all maps
 *     doubt_predictor *p;
 *     st = doubt_predict_create(ctx, "w.safetensors", &o, &p, &err);
 *     for (int i = 0; i < list.count; i++) {
 *         const doubt_predict_input *in = &list.items[i];
 *         if (in->kind != DOUBT_PREDICT_IMAGE) { ... report in->note ...; continue; }
 *         char *json;
 *         if (doubt_predict_image(p, in->path, in->name, "out", &json, &err)) ... err.msg ...
 *         else { puts(json); free(json); }
 *     }
 *     doubt_predict_destroy(p);  doubt_predict_list_free(&list);
 *
 * Outputs in OUTDIR for input NAME (the file's base name without its extension):
 *   NAME.seg.png      8-bit palette PNG, index = class (argmax of the mean softmax);
 *                     palette from the weights' __metadata__ "palette" ([[r,g,b], ...], one
 *                     per class), else doubt_palette_default's (viz/palette.h: synth's
 *                     colours for 8 classes, else generated hues)
 *   NAME.depth.png    16-bit gray, round(depth_mean * depth_scale) clamped to [1, 65535]
 *                     where depth_mean > 0, 0 where it is <= 0 (or NaN)
 *   NAME.<map>.png    heatmaps on a fixed range with a colorbar (heatmap.h), one per map
 *                     of viz/maps.h selected in opts.maps (its name, colormap, units and
 *                     default range are there); the depth ones grey ("no depth" beside the
 *                     colorbar) where depth is undefined
 *   NAME.<map>.npy    with opts.npy: depth_mean, depth_epistemic, depth_aleatoric,
 *                     depth_total, seg_prob [C, H, W], seg_entropy, seg_aleatoric,
 *                     seg_mutual_info, seg_logit_var (float32): every heatmap's values
 * Depth is undefined on pixels predicted as one of the network's no_depth_classes
 * (netdesc.h): NaN in the depth .npy files, grey in the depth heatmaps, 0 in NAME.depth.png.
 * With opts.deterministic (one pass, dropout off) the epistemic parts of one weights file
 * are identically zero and are not written: no depth_epistemic / seg_mutual_info heatmap,
 * .npy or statistics. A deterministic ensemble writes them: the spread across its members.
 * Every file is written atomically, so "all outputs exist" (doubt_predict_done) means the
 * image is finished. Outputs depend only on the image, weights and options: no timestamps;
 * the tEXt chunks carry the version, the weights' SHA-256, T (with opts.adaptive the cap and
 * tolerance: the T each image took is in its JSON line) and the seed.
 *
 * The JSON line: {"name", "input", "width", "height", "classes", "maps": {MAP: {"mean",
 * "p50", "p90", "p99", "threshold", "above", "defined"}}, "class_fraction": [C],
 * "nan_pixels" (pixels where the network gave NaN, NaN in their maps too), "samples" (the
 * T this image took: with opts.adaptive where its estimates converged, mc.h),
 * "samples_auto" ({"max", "converge"}: the cap and tolerance of adaptive sampling; null for
 * a fixed T), "deterministic", "seed", "tile", "tile_margin" (null when not tiling),
 * "depth_scale", "time_s", "weights", "weights_sha256", "version"}. "weights" and
 * "weights_sha256" are strings for one weights file, as they always were, and for an ensemble (several files,
 * mc.h) arrays of every member's path and hash in the order given; "samples" is T per
 * member. The tEXt chunks then carry the members' hashes joined by commas.
 * Percentiles interpolate linearly between order statistics (NumPy's default); "above" is
 * the fraction of pixels greater than "threshold", three quarters up the map's heatmap range
 * (lo + 0.75 (hi - lo); lo (hi/lo)^0.75 on a log scale; depth_mean uses depth_color's).
 * Every statistic is over the map's defined (finite) pixels, "above" too, and "defined" is
 * their fraction of the image (below 1 for the depth maps of an image with sky); a
 * statistic with no defined pixel is null. The seg_logit_var heatmap is on a log scale.
 */
#ifndef DOUBT_PIPELINE_PREDICT_H
#define DOUBT_PIPELINE_PREDICT_H

#include <stdint.h>

#include "core/ctx.h"
#include "core/isa.h"
#include "core/status.h"
#include "model/mc.h"
#include "viz/maps.h"

/* Bit (1u << m) of opts.maps for each map m of viz/maps.h. */
#define DOUBT_PREDICT_ALL_MAPS ((1u << DOUBT_MAP_COUNT) - 1)

typedef struct {
    int samples;          /* T >= 1; the cap when adaptive */
    int adaptive;         /* stop each image once converged (model/mc.h): one weights file,
                           * no tiles */
    double converge;      /* adaptive: the tolerance (default DOUBT_MC_DEFAULT_CONVERGE) */
    int chunk;            /* samples per stacked batch; 0 = automatic */
    int deterministic;    /* one pass, dropout off */
    uint64_t seed;        /* dropout seed */
    doubt_precision precision; /* mc.h: f32 (the default) is the only path so far */
    float depth_scale;    /* NAME.depth.png value per metre, > 0 */
    unsigned maps;        /* bit (1u << m): write heatmap m */
    int npy;              /* write the .npy float maps */
    float lo[DOUBT_MAP_COUNT], hi[DOUBT_MAP_COUNT]; /* lo == hi: the default range */
    int64_t max_pixels;   /* larger images are refused; 0 = DOUBT_IMAGE_MAX_PIXELS_DEFAULT */
    int tile, tile_margin; /* overlapping tiles for large images (mc.h); tile 0 = off */
    doubt_mc_method method; /* samples (default) or one moment-propagation pass (mc.h) */
} doubt_predict_opts;

doubt_predict_opts doubt_predict_defaults(void);

/* "depth_epistemic,seg_entropy" -> bit set; "all" -> every map; "none" -> 0. */
doubt_status doubt_predict_parse_maps(const char *list, unsigned *maps, doubt_error *err);
/* "depth_epistemic=0:0.5" -> o->lo/hi of that map; needs finite lo < hi. */
doubt_status doubt_predict_parse_range(const char *arg, doubt_predict_opts *o, doubt_error *err);

typedef struct doubt_predictor doubt_predictor;

/* Reads and hashes the weights and prepares the MC engine. ctx must outlive the predictor. */
doubt_status doubt_predict_create(doubt_ctx *ctx, const char *weights_path,
                                  const doubt_predict_opts *o, doubt_predictor **out,
                                  doubt_error *err);
/* The same for a deep ensemble of `members` >= 1 weights files (mc.h); the class palette is
 * the first member's. A file that cannot be read, or whose network differs from the first
 * one's but for dropout, fails naming it. */
doubt_status doubt_predict_create_ensemble(doubt_ctx *ctx, const char *const *weights_paths,
                                           int members, const doubt_predict_opts *o,
                                           doubt_predictor **out, doubt_error *err);
void doubt_predict_destroy(doubt_predictor *p);
/* The weights' SHA-256 in hex; an ensemble's, every member's joined by commas. */
const char *doubt_predict_weights_sha256(const doubt_predictor *p);
int doubt_predict_classes(const doubt_predictor *p);

/* 1 when every file the options ask for already exists for NAME in outdir. */
int doubt_predict_done(const doubt_predictor *p, const char *outdir, const char *name);

/* One image: outputs into outdir (which must exist), *json = its summary line without a
 * newline (caller frees with free()). On failure nothing is returned in *json and err
 * names the file and the reason; outputs already written for it stay (each is complete).
 * DOUBT_ERR_STORAGE means outdir refuses writes (full, size limit, read-only): later images
 * would fail the same way. */
doubt_status doubt_predict_image(doubt_predictor *p, const char *path, const char *name,
                                 const char *outdir, char **json, doubt_error *err);

#endif
