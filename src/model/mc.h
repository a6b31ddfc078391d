/* Monte Carlo dropout inference (Gal & Ghahramani 2016) with the learned aleatoric heads
 * (Kendall & Gal 2017): T stochastic passes per image, summarised per pixel with running
 * statistics; no per-sample map is kept.
 *
 *   doubt_mc *mc;
 *   doubt_mc_create(ctx, weights, &(doubt_mc_desc){.samples = 20, .seed = 0}, &mc);
 *   doubt_mc_run(ctx, mc, image, width, height, &maps);   // image: [3, H, W] in [0, 1]
 *   ... maps->depth_epistemic[y * width + x] ...
 *
 * Per pixel, over samples t with depth μ_t, depth log-variance s_t, softmax p_t and
 * segmentation log-variance r_t (for a network that predicts log or inverse depth, μ_t and
 * exp(s_t) below are each sample's mean and variance in metres, mc.c's sample_in_metres):
 *   depth_mean = mean_t μ_t;  depth_epistemic = Var_t μ_t (population, 1/T);
 *   depth_aleatoric = mean_t exp(s_t);  depth_total = their sum;
 *   seg_prob = p̄ = mean_t p_t;  seg_class = argmax p̄;  seg_entropy = H[p̄];
 *   seg_aleatoric = mean_t H[p_t];  seg_mutual_info = H[p̄] - mean_t H[p_t];
 *   seg_logit_var = mean_t exp(r_t).  Entropies in nats. Log-variances are clamped at 80
 *   before exp, so a wild network gives huge but finite variances for any T (they are
 *   kept as running means); a NaN output stays NaN in every map it reaches, and
 *   nan_pixels counts the pixels it spoiled.
 * With deterministic set, one pass with dropout off (the standard-dropout prediction):
 * the epistemic and mutual-information maps are then 0. A network (or ensemble member)
 * without dropout runs that one pass and counts it as each of its T samples, which they
 * would all be.
 * With mask_no_depth set, the four depth maps are NaN (undefined) where seg_class is one of
 * the network's no_depth_classes (netdesc.h): a sky pixel has no depth to doubt. Without it
 * every pixel keeps the network's raw output, as evaluation against ground truth wants.
 *
 * Speed: what depends on no dropout node of the graph runs once per image at batch 1 (net.h,
 * the cache network); its outputs are repeated into a batch of `chunk` stacked samples that
 * runs the rest. Sample t uses dropout stream t, so the maps do not depend on the chunk size
 * or thread count. Images of any size are padded (edge pixels repeated) to a multiple of the
 * graph's grid (2^(L-1) for unet, 2^L for segnet) and the maps cropped back; the networks of
 * the last padded size are kept for the next image.
 *
 * Tiling (tile > 0) bounds the networks' memory for large images: the padded image is cut
 * into tile × tile windows on the grid that overlap by at least 2·margin; each pixel
 * keeps the statistics of the tile in which it lies deepest (at least `margin` from any
 * edge the image does not have), and dropout draws the masks the whole image would
 * (doubt_net_set_dropout_window). The maps then differ from the untiled ones only by what
 * the network sees beyond `margin`, which vanishes once margin exceeds its receptive field.
 * Only the maps and the image scale with its size.
 *
 * Adaptive sampling (adaptive set; `--samples auto[:MAX]`): samples is then the cap MAX and
 * an image stops sampling once its running estimates have converged, by batch means
 * (converge.h): samples come in groups of 4 consecutive ones; each finished group gives the
 * image's mean depth epistemic variance (the within-group variance of μ per pixel,
 * Bessel-corrected) and its mean mutual information (the within-group H[p̄_g] - mean H[p_t])
 * over every pixel of the image (depth masking comes after, in the maps only); after at
 * least 3 groups the run stops when, for both, the standard error of the mean of the group
 * values is below `converge` × their mean (a mean of exactly 0 counts as converged), else at
 * MAX. Its maps are exactly those of a fixed run with the T it took (maps->samples): the
 * same dropout streams 0..T-1, and with chunk > 1 the samples of a chunk past T are dropped.
 * A network without dropout takes 1 pass (its epistemic maps are 0); deterministic and
 * moment propagation take their one pass as always; a NaN output never converges, so it
 * runs to MAX. Ensembles and tiling are
 * refused at creation: members or tiles stopping at different T would weigh the mixture
 * unequally or give the maps a different T per region.
 *
 * Deep ensembles (doubt_mc_create_ensemble): M weights files as one uniform mixture. Each
 * member runs its own T samples (its own networks; dropout streams t = 0..T-1 as above) and
 * every member's sample t enters the same running statistics as sample m·T + t, so the maps
 * above are taken over all M·T samples pooled:
 *   depth_mean = mean over members of each member's MC mean;
 *   depth_epistemic = Var over the M·T samples of μ = mean_m Var_t μ_{m,t} (the members'
 *     MC variances) + Var_m mean_t μ_{m,t} (the spread of their means): the law of total
 *     variance, so the members' disagreement adds to each member's own doubt;
 *   depth_aleatoric, seg_logit_var = means over members and samples; seg_prob = p̄ over
 *     members × samples, seg_entropy = H[p̄], seg_aleatoric = mean_{m,t} H[p_{m,t}],
 *     seg_mutual_info their difference.
 * With deterministic set, each member runs once with dropout off: a classic deep ensemble
 * (Lakshminarayanan et al. 2017), whose epistemic maps are the variance across members.
 * Moment propagation (method DOUBT_MC_PROPAGATE): no samples; one pass gives every output
 * channel a mean μ and a variance v (propagate.h), from which the same maps are made:
 *   depth (metric): depth_mean = μ_m, depth_epistemic = v_m, depth_aleatoric = E[e^s] =
 *     e^(μ_s + v_s/2) (s Gaussian: a log-normal mean); log depth: with that aleatoric
 *     variance a of the log, the log-normal moments of e^(m + a/2) over m ~ N(μ_m, v_m):
 *     mean e^(μ_m + a/2 + v_m/2), epistemic (e^(v_m) − 1)·e^(2μ_m + a + v_m), aleatoric
 *     (e^a − 1)·e^(2μ_m + 2v_m + a); inverse depth: the delta method at q = max(μ_m, 1e-3):
 *     mean 1/q, epistemic v_m/q⁴, aleatoric a/q⁴;
 *   segmentation: the logits as independent Gaussians N(μ_c, v_c) summarised by
 *     DOUBT_MC_LOGIT_DRAWS fixed draws (antithetic pairs of one standard-normal table drawn
 *     from the seed, the same for every pixel, so the maps are smooth, not speckled):
 *     seg_prob = mean softmax, seg_entropy = H[p̄], seg_aleatoric = mean H, mutual information
 *     their difference (0 where no logit has variance); seg_logit_var = e^(μ_r + v_r/2).
 * Tiles work as for sampling; ensembles and `deterministic` are refused with it.
 *
 * Members must share the network description but for the dropout rates (arch, in_channels,
 * classes, widths, convs, depth, no_depth_classes): otherwise creation fails naming both
 * files and the field. doubt_mc_create is the ensemble of one member: the same code, the
 * same maps. Memory: the networks of the current padded size are kept for every member, M
 * sets, so peak memory is M times one member's; the maps are shared.
 */
#ifndef DOUBT_MODEL_MC_H
#define DOUBT_MODEL_MC_H

#include "core/isa.h"
#include "model/net.h"
#include "model/propagate.h"
#include "model/safetensors.h"

typedef enum {
    DOUBT_MC_SAMPLE,   /* T dropout samples (the default) */
    DOUBT_MC_PROPAGATE /* one moment-propagation pass (propagate.h) instead of samples */
} doubt_mc_method;

typedef struct {
    int samples;       /* T >= 1 */
    int deterministic; /* 1: one pass, dropout off */
    int chunk;         /* samples per stacked batch; 0 = 1 (least memory) */
    uint64_t seed;     /* dropout seed */
    int tile;          /* 0: the whole image at once; else the tile side in pixels */
    int tile_margin;   /* context around each tile's kept part; 0 = the default below.
                        * Both are rounded up to the grid; tile >= 2·margin + grid */
    int mask_no_depth; /* 1: depth maps NaN on pixels predicted as a no-depth class */
    int uncached;      /* 1: every sample runs the whole network (what caching saves, for
                        * benchmarks: the maps are the same up to rounding) */
    doubt_mc_method method;
    doubt_precision precision; /* DOUBT_PRECISION_F32 (0), the only path built so far;
                                * creation refuses bf16 and int8 with doubt_precision_check's
                                * reason (core/isa.h): what the CPU lacks, or the path */
    int adaptive;      /* 1: samples is the cap; stop once converged (above) */
    double converge;   /* adaptive: the tolerance, >= 0 (0: never before the cap) */
} doubt_mc_desc;

#define DOUBT_MC_DEFAULT_TILE_MARGIN 96
/* what `--samples auto` means: a cap of 100 samples and a tolerance of 5 % */
#define DOUBT_MC_DEFAULT_AUTO_SAMPLES 100
#define DOUBT_MC_DEFAULT_CONVERGE 0.05

/* Draws that summarise each pixel's Gaussian logits under moment propagation. */
#define DOUBT_MC_LOGIT_DRAWS 32

typedef struct {
    int width, height, classes;
    float *depth_mean, *depth_epistemic, *depth_aleatoric, *depth_total; /* [H, W] */
    float *seg_prob;                                                     /* [C, H, W] */
    uint8_t *seg_class;                                                  /* [H, W] */
    float *seg_entropy, *seg_aleatoric, *seg_mutual_info, *seg_logit_var; /* [H, W] */
    int64_t nan_pixels; /* pixels where the network gave NaN: their maps are NaN too */
    int samples;        /* T each member took: desc.samples, 1 when deterministic, or where
                         * adaptive sampling stopped */
} doubt_mc_maps;

typedef struct doubt_mc doubt_mc;

/* "sample" or "propagate", as the command line and the JSON name them; and back (0: unknown). */
const char *doubt_mc_method_name(doubt_mc_method method);
int doubt_mc_method_parse(const char *name, doubt_mc_method *out);

/* weights: a loaded safetensors file with a "network" description (kept by the engine only
 * while it builds networks: it must outlive the engine). */
doubt_status doubt_mc_create(doubt_ctx *ctx, const doubt_safetensors *weights,
                             const doubt_mc_desc *desc, doubt_mc **out);
/* An ensemble of `members` >= 1 weights files (above); each must outlive the engine, the
 * array need not. */
doubt_status doubt_mc_create_ensemble(doubt_ctx *ctx, const doubt_safetensors *const *weights,
                                      int members, const doubt_mc_desc *desc, doubt_mc **out);
void doubt_mc_destroy(doubt_mc *mc);
/* The description the members share (the first member's, with its dropout rates). */
const doubt_netdesc *doubt_mc_network(const doubt_mc *mc);

/* Runs T samples (of every member) on one image; maps stay owned by the engine and valid
 * until the next run. */
doubt_status doubt_mc_run(doubt_ctx *ctx, doubt_mc *mc, const float *image, int width,
                          int height, const doubt_mc_maps **maps);

#endif
