#include "mc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/converge.h"
#include "model/weights.h"

/* exp(80) ~ 5.5e34: huge but finite. The learned variances are kept as running means, never
 * as sums, so no T can overflow them (float sums of exp(80) did past T = 6142). */
#define MAX_LOG_VAR 80.0f
/* Bounds of log and inverse depth before they turn into metres: e^±30 m and 1/1000 m⁻¹
 * are far beyond any scene; the variance of one sample stays below 1e30 m² so sums of T of
 * them stay finite. */
#define MAX_LOG_DEPTH 30.0
#define MIN_INVERSE_DEPTH 1e-3
#define MAX_SAMPLE_VAR 1e30

/* v capped at hi, or raised to lo; unlike fmin/fmax a NaN stays NaN, so a broken output
 * shows as NaN in the maps instead of as the bound. */
static double at_most(double v, double hi)
{
    return v > hi ? hi : v;
}

static double at_least(double v, double lo)
{
    return v < lo ? lo : v;
}

/* One sample's depth mean and variance in metres from the head's (m, s) (netdesc.h):
 *   log:     v = e^s, mean = e^(m + v/2), variance = (e^v - 1)·e^(2m + v)  (log-normal)
 *   inverse: q = max(m, 1e-3), mean = 1/q, variance = e^s / q^4  (first-order delta method:
 *            1/q has no finite moments under a Gaussian q, so the exact ones do not exist) */
static void sample_in_metres(doubt_depth_param kind, double m, double s, double *mean,
                             double *var)
{
    const double v = exp(at_most(s, MAX_LOG_VAR));
    if (kind == DOUBT_DEPTH_LOG) {
        m = at_least(at_most(m, MAX_LOG_DEPTH), -MAX_LOG_DEPTH);
        *mean = exp(at_most(m + v / 2, 2 * MAX_LOG_DEPTH));
        *var = at_most(expm1(at_most(v, 2 * MAX_LOG_DEPTH)) *
                           exp(at_most(2 * m + v, 2 * MAX_LOG_DEPTH)),
                       MAX_SAMPLE_VAR);
    } else {
        const double q = at_least(m, MIN_INVERSE_DEPTH);
        *mean = 1 / q;
        *var = at_most(v / (q * q * q * q), MAX_SAMPLE_VAR);
    }
}

/* The rng layer of moment propagation's logit draws: far from every dropout site's. */
#define LOGIT_DRAWS_LAYER 0x10617u

/* The networks for one padded input size (net.h): the cache runs what depends on no dropout
 * once per image, the samples network the rest for `chunk` stacked samples. */
typedef struct {
    int width, height; /* padded */
    doubt_net *cache;   /* batch 1; also the deterministic pass */
    doubt_net *samples; /* batch = chunk; uncached: the whole network */
    doubt_propagate *moments; /* moment propagation instead of samples */
} shape_nets;

/* One weights file of the ensemble, with its own description (its dropout rates). */
typedef struct {
    const doubt_safetensors *weights;
    doubt_netdesc net;
    shape_nets shape;
} mc_member;

/* Adaptive sampling's state (converge.h): the current group's per-pixel statistics, written
 * by its first sample and added to by the others, and every finished group's image values. */
typedef struct {
    double *mean, *m2; /* [H, W]: Welford over the group's depth means μ, in metres */
    float *prob;       /* [C, H, W]: the sum of the group's softmaxes */
    float *entropy;    /* [H, W]: the sum of their entropies H[p_t] */
    double *rows;      /* [2 · rows_cap]: per-row sums, added in order so that the values do
                        * not depend on the thread count */
    size_t rows_cap;
    double *epistemic, *mutual_info; /* [most groups]: the finished groups' values */
    int finished;
} sample_groups;

/* A rectangle of pixels in image coordinates. */
typedef struct {
    int x, y, w, h;
} pixel_rect;

struct doubt_mc {
    doubt_mc_desc desc;
    int grid; /* the graph's: padded sizes and tile origins are multiples of it */
    int members;
    /* each member's networks are those of the last padded size only: every size's networks
     * hold their own activations, so keeping several would multiply peak memory */
    mc_member *member;
    doubt_netdesc net; /* what the members share: the first member's description */
    float *padded; /* [3, Hp, Wp] */
    size_t padded_cap;
    float *tile; /* [3, tile, tile]: the tile being run, when tiling */
    size_t tile_cap;
    float *stacked; /* uncached: the window repeated for every stacked sample */
    size_t stacked_cap;
    doubt_mc_maps maps;
    size_t maps_cap; /* pixels the map buffers hold */
    double *depth_m2; /* Welford's running sum of squared deviations */
    sample_groups groups; /* desc.adaptive only */
    float *logit_draws; /* moment propagation: [DOUBT_MC_LOGIT_DRAWS, classes] standard normals */
    uint8_t no_depth[256]; /* by class: 1 = depth maps undefined there (when masking) */
};

const char *doubt_mc_method_name(doubt_mc_method method)
{
    return method == DOUBT_MC_PROPAGATE ? "propagate" : "sample";
}

int doubt_mc_method_parse(const char *name, doubt_mc_method *out)
{
    if (!strcmp(name, "sample"))
        *out = DOUBT_MC_SAMPLE;
    else if (!strcmp(name, "propagate"))
        *out = DOUBT_MC_PROPAGATE;
    else
        return 0;
    return 1;
}

static int round_up(int v, int step)
{
    return (v + step - 1) / step * step;
}

/* A weights file the engine can run: a description, the tensors it names, RGB input. */
static doubt_status check_member(doubt_ctx *ctx, const doubt_safetensors *weights)
{
    if (!weights)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "MC inference: needs weights");
    if (!weights->has_network)
        return doubt_fail(&ctx->err, DOUBT_ERR_FORMAT,
                          "%s: no network description in __metadata__", weights->path);
    doubt_status st = doubt_safetensors_check(weights, &weights->network, false, &ctx->err);
    if (st != DOUBT_OK)
        return st;
    doubt_error inner;
    if (doubt_netdesc_check_image_input(&weights->network, &inner) != DOUBT_OK)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: %s", weights->path, inner.msg);
    return DOUBT_OK;
}

/* The description's fields ensemble members must share: all but the dropout rates. */
enum {
    FIELD_ARCH,
    FIELD_IN_CHANNELS,
    FIELD_CLASSES,
    FIELD_WIDTHS,
    FIELD_CONVS,
    FIELD_DEPTH,
    FIELD_NO_DEPTH,
    SHARED_FIELDS
};
static const char *const shared_fields[SHARED_FIELDS] = {
    "arch", "in_channels", "classes", "widths", "convs", "depth", "no_depth_classes"};

/* A shared field as text, so one comparison and one message serve every field. */
static void field_text(const doubt_netdesc *d, int field, char *buf, size_t cap)
{
    switch (field) {
    case FIELD_ARCH: snprintf(buf, cap, "%s", d->arch); return;
    case FIELD_IN_CHANNELS: snprintf(buf, cap, "%d", d->in_channels); return;
    case FIELD_CLASSES: snprintf(buf, cap, "%d", d->classes); return;
    case FIELD_DEPTH: snprintf(buf, cap, "%s", doubt_depth_param_name(d->depth)); return;
    default: break;
    }
    const int n = field == FIELD_NO_DEPTH ? d->no_depth_count : d->levels;
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && at < cap; i++) {
        const int v = field == FIELD_WIDTHS  ? d->widths[i]
                      : field == FIELD_CONVS ? d->convs[i]
                                             : d->no_depth_classes[i];
        at += (size_t)snprintf(buf + at, cap - at, "%s%d", i ? "," : "", v);
    }
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

/* Refuses a member whose network differs from the first member's but for dropout. */
static doubt_status check_same_network(doubt_ctx *ctx, const doubt_safetensors *first,
                                       const doubt_safetensors *other)
{
    /* room for the longest field, 254 no-depth classes of up to 4 characters */
    char a[DOUBT_NETDESC_JSON_MAX], b[DOUBT_NETDESC_JSON_MAX];
    for (int f = 0; f < SHARED_FIELDS; f++) {
        field_text(&first->network, f, a, sizeof a);
        field_text(&other->network, f, b, sizeof b);
        if (strcmp(a, b))
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "ensemble: %s and %s differ in %s (%s and %s); members may "
                              "differ only in their dropout rates",
                              first->path, other->path, shared_fields[f], a, b);
    }
    return DOUBT_OK;
}

/* The options as the runs use them: defaults filled in, tiles rounded to the grid. */
static doubt_status settle_desc(doubt_ctx *ctx, doubt_mc *mc)
{
    doubt_mc_desc *d = &mc->desc;
    if (d->method == DOUBT_MC_PROPAGATE && (d->deterministic || mc->members > 1))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "moment propagation: runs one network with its dropout on; it does "
                          "not combine with %s",
                          d->deterministic ? "the deterministic pass" : "an ensemble");
    if (d->deterministic || d->method == DOUBT_MC_PROPAGATE) { /* one pass, whatever the
                                                                * count or its cap */
        d->samples = 1;
        d->adaptive = 0;
    }
    /* one sample per pass by default: stacking 2 is ~13% faster at 256x256 but every
     * stacked sample adds a full set of activations (bench/README.md) */
    if (d->chunk == 0)
        d->chunk = 1;
    if (d->chunk > d->samples)
        d->chunk = d->samples;
    if (d->tile == 0)
        return DOUBT_OK;
    if (d->tile_margin == 0)
        d->tile_margin = DOUBT_MC_DEFAULT_TILE_MARGIN;
    d->tile = round_up(d->tile, mc->grid);
    d->tile_margin = round_up(d->tile_margin, mc->grid);
    if (d->tile < 2 * d->tile_margin + mc->grid)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: tile %d too small for margin %d: needs >= %d", d->tile,
                          d->tile_margin, 2 * d->tile_margin + mc->grid);
    return DOUBT_OK;
}

/* What adaptive sampling can run: one member's samples over the whole image, a cap above its
 * first check. */
static doubt_status check_adaptive(doubt_ctx *ctx, const doubt_mc *mc)
{
    const doubt_mc_desc *d = &mc->desc;
    if (mc->members > 1)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: adaptive sampling takes one weights file, not an "
                          "ensemble of %d: members stopping at different T would weigh the "
                          "mixture unequally",
                          mc->members);
    if (d->tile > 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: adaptive sampling does not tile: tiles stopping at "
                          "different T would give the maps a different T per region");
    if (d->samples < DOUBT_CONVERGE_MIN_SAMPLES)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: adaptive sampling needs a cap of at least %d samples "
                          "(%d groups of %d before the first check), not %d",
                          DOUBT_CONVERGE_MIN_SAMPLES, DOUBT_CONVERGE_MIN_GROUPS,
                          DOUBT_CONVERGE_GROUP, d->samples);
    if (!(d->converge >= 0))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: convergence tolerance %g must be >= 0",
                          d->converge);
    return DOUBT_OK;
}

/* Half the draws from the seed's normal stream, the other half their negatives: the draws'
 * mean is exactly 0, so a logit's mean is kept exactly. */
static doubt_status make_logit_draws(doubt_ctx *ctx, doubt_mc *mc)
{
    const int classes = mc->net.classes, half = DOUBT_MC_LOGIT_DRAWS / 2;
    mc->logit_draws = malloc((size_t)DOUBT_MC_LOGIT_DRAWS * classes * sizeof(float));
    if (!mc->logit_draws)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
    const doubt_rng_key key = {.seed = mc->desc.seed, .stream = 0, .layer = LOGIT_DRAWS_LAYER};
    doubt_rng_normal_fill(key, 0, (int64_t)half * classes, mc->logit_draws);
    for (int k = 0; k < half * classes; k++)
        mc->logit_draws[half * classes + k] = -mc->logit_draws[k];
    return DOUBT_OK;
}

doubt_status doubt_mc_create_ensemble(doubt_ctx *ctx, const doubt_safetensors *const *weights,
                                      int members, const doubt_mc_desc *desc, doubt_mc **out)
{
    *out = NULL;
    if (!weights || members < 1 || !desc ||
        (desc->samples < 1 && desc->method != DOUBT_MC_PROPAGATE) || desc->chunk < 0 ||
        desc->tile < 0 || desc->tile_margin < 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "MC inference: needs weights, samples >= 1 (unless propagating) and no "
                          "negative sizes");
    char why[256];
    if (!doubt_precision_check(desc->precision, why, sizeof why))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "MC inference: %s", why);
    doubt_status st = DOUBT_OK;
    for (int m = 0; m < members && st == DOUBT_OK; m++) {
        st = check_member(ctx, weights[m]);
        if (st == DOUBT_OK && m > 0)
            st = check_same_network(ctx, weights[0], weights[m]);
    }
    if (st != DOUBT_OK)
        return st;
    doubt_mc *mc = calloc(1, sizeof *mc);
    mc_member *member = calloc((size_t)members, sizeof *member);
    if (!mc || !member) {
        free(mc);
        free(member);
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
    }
    mc->member = member;
    mc->members = members;
    for (int m = 0; m < members; m++) {
        member[m].weights = weights[m];
        member[m].net = weights[m]->network;
    }
    mc->desc = *desc;
    mc->net = weights[0]->network;
    mc->grid = doubt_arch_grid(&mc->net);
    if (!mc->grid) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
        goto done;
    }
    DOUBT_TRY(settle_desc(ctx, mc));
    if (mc->desc.adaptive) {
        DOUBT_TRY(check_adaptive(ctx, mc));
        const int most = (mc->desc.samples + DOUBT_CONVERGE_GROUP - 1) / DOUBT_CONVERGE_GROUP;
        mc->groups.epistemic = malloc(2 * (size_t)most * sizeof(double));
        if (!mc->groups.epistemic) {
            st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
            goto done;
        }
        mc->groups.mutual_info = mc->groups.epistemic + most;
    }
    if (mc->desc.mask_no_depth)
        for (int i = 0; i < mc->net.no_depth_count; i++)
            mc->no_depth[mc->net.no_depth_classes[i]] = 1;
    if (mc->desc.method == DOUBT_MC_PROPAGATE)
        DOUBT_TRY(make_logit_draws(ctx, mc));
    *out = mc;
done:
    if (st != DOUBT_OK)
        doubt_mc_destroy(mc);
    return st;
}

doubt_status doubt_mc_create(doubt_ctx *ctx, const doubt_safetensors *weights,
                             const doubt_mc_desc *desc, doubt_mc **out)
{
    return doubt_mc_create_ensemble(ctx, &weights, 1, desc, out);
}

static void release_shape(shape_nets *s)
{
    doubt_propagate_destroy(s->moments);
    doubt_net_destroy(s->samples);
    doubt_net_destroy(s->cache);
    memset(s, 0, sizeof *s);
}

static void release_shapes(doubt_mc *mc)
{
    for (int m = 0; m < mc->members; m++)
        release_shape(&mc->member[m].shape);
}

static void release_groups(sample_groups *g)
{
    free(g->mean);
    free(g->m2);
    free(g->prob);
    free(g->entropy);
    g->mean = g->m2 = NULL;
    g->prob = g->entropy = NULL;
}

static void release_maps(doubt_mc_maps *m)
{
    void *buffers[] = {m->depth_mean,  m->depth_epistemic, m->depth_aleatoric,
                       m->depth_total, m->seg_prob,        m->seg_class,
                       m->seg_entropy, m->seg_aleatoric,   m->seg_mutual_info,
                       m->seg_logit_var};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    memset(m, 0, sizeof *m);
}

void doubt_mc_destroy(doubt_mc *mc)
{
    if (!mc)
        return;
    release_shapes(mc);
    free(mc->member);
    release_maps(&mc->maps);
    free(mc->depth_m2);
    release_groups(&mc->groups);
    free(mc->groups.rows);
    free(mc->groups.epistemic);
    free(mc->logit_draws);
    free(mc->padded);
    free(mc->tile);
    free(mc->stacked);
    free(mc);
}

const doubt_netdesc *doubt_mc_network(const doubt_mc *mc)
{
    return &mc->net;
}

static doubt_status build_shape(doubt_ctx *ctx, const doubt_mc *mc, mc_member *member,
                                int width, int height)
{
    doubt_status st = DOUBT_OK;
    shape_nets *s = &member->shape;
    s->width = width;
    s->height = height;
    DOUBT_TRY(doubt_net_create_cache(ctx, &member->net, height, width, &s->cache));
    DOUBT_TRY(doubt_weights_load(ctx, s->cache, member->weights));
    if (mc->desc.method == DOUBT_MC_PROPAGATE) {
        /* the pass reads the network's parameters once; its activations are not needed */
        DOUBT_TRY(doubt_propagate_create(ctx, s->cache, &s->moments));
        doubt_net_destroy(s->cache);
        s->cache = NULL;
        return DOUBT_OK;
    }
    /* a member without dropout has nothing to sample: its every sample is the cache's pass */
    if (mc->desc.deterministic || !doubt_netdesc_has_dropout(&member->net))
        return DOUBT_OK;
    if (mc->desc.uncached)
        DOUBT_TRY(doubt_net_create(ctx, &member->net, mc->desc.chunk, height, width,
                                   DOUBT_MODE_INFER, &s->samples));
    else
        DOUBT_TRY(doubt_net_create_samples(ctx, s->cache, mc->desc.chunk, &s->samples));
    if (s->samples) {
        DOUBT_TRY(doubt_weights_load(ctx, s->samples, member->weights));
        doubt_net_set_dropout_seed(s->samples, mc->desc.seed);
    }
done:
    return st;
}

/* Every member's networks for a padded size: those of the last run when the size is the
 * same. */
static doubt_status nets_for(doubt_ctx *ctx, doubt_mc *mc, int width, int height)
{
    const shape_nets *last = &mc->member[0].shape;
    if ((last->cache || last->moments) && last->width == width && last->height == height)
        return DOUBT_OK;
    release_shapes(mc);
    for (int m = 0; m < mc->members; m++) {
        doubt_status st = build_shape(ctx, mc, &mc->member[m], width, height);
        if (st != DOUBT_OK) {
            release_shapes(mc);
            return st;
        }
    }
    return DOUBT_OK;
}

/* Makes *buf hold at least `floats` floats; its contents are not kept. */
static doubt_status reserve(doubt_ctx *ctx, float **buf, size_t *cap, size_t floats)
{
    if (floats <= *cap)
        return DOUBT_OK;
    free(*buf);
    *buf = malloc(floats * sizeof(float));
    *cap = *buf ? floats : 0;
    return *buf ? DOUBT_OK : doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
}

static doubt_status ensure_buffers(doubt_ctx *ctx, doubt_mc *mc, int width, int height,
                                   int padded_w, int padded_h)
{
    doubt_status st = reserve(ctx, &mc->padded, &mc->padded_cap, (size_t)3 * padded_w * padded_h);
    if (st != DOUBT_OK)
        return st;
    const size_t pixels = (size_t)width * height;
    doubt_mc_maps *m = &mc->maps;
    if (pixels > mc->maps_cap) {
        release_maps(m);
        free(mc->depth_m2);
        release_groups(&mc->groups);
        mc->maps_cap = 0;
        float **planes[] = {&m->depth_mean,  &m->depth_epistemic, &m->depth_aleatoric,
                            &m->depth_total, &m->seg_entropy,     &m->seg_aleatoric,
                            &m->seg_mutual_info, &m->seg_logit_var};
        int ok = 1;
        for (size_t i = 0; i < sizeof planes / sizeof planes[0]; i++)
            ok &= (*planes[i] = malloc(pixels * sizeof(float))) != NULL;
        m->seg_prob = malloc(pixels * (size_t)mc->net.classes * sizeof(float));
        m->seg_class = malloc(pixels);
        mc->depth_m2 = malloc(pixels * sizeof(double));
        if (mc->desc.adaptive) {
            sample_groups *g = &mc->groups;
            g->mean = malloc(pixels * sizeof(double));
            g->m2 = malloc(pixels * sizeof(double));
            g->prob = malloc(pixels * (size_t)mc->net.classes * sizeof(float));
            g->entropy = malloc(pixels * sizeof(float));
            ok &= g->mean && g->m2 && g->prob && g->entropy;
        }
        if (!ok || !m->seg_prob || !m->seg_class || !mc->depth_m2)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
        mc->maps_cap = pixels;
    }
    sample_groups *g = &mc->groups;
    if (mc->desc.adaptive && (size_t)height > g->rows_cap) {
        free(g->rows);
        g->rows = malloc(2 * (size_t)height * sizeof(double));
        g->rows_cap = g->rows ? (size_t)height : 0;
        if (!g->rows)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
    }
    m->width = width;
    m->height = height;
    m->classes = mc->net.classes;
    return DOUBT_OK;
}

/* Copies image into the padded buffer, repeating the last row and column. */
static void pad_image(const float *image, int width, int height, float *out, int pw, int ph)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ph; y++) {
            const float *src = image + ((size_t)c * height + (y < height ? y : height - 1)) * width;
            float *dst = out + ((size_t)c * ph + y) * pw;
            memcpy(dst, src, (size_t)width * sizeof(float));
            for (int x = width; x < pw; x++)
                dst[x] = src[width - 1];
        }
}

static void reset_maps(doubt_mc *mc)
{
    doubt_mc_maps *m = &mc->maps;
    const size_t pixels = (size_t)m->width * m->height;
    memset(m->depth_mean, 0, pixels * sizeof(float));
    memset(mc->depth_m2, 0, pixels * sizeof(double));
    memset(m->depth_aleatoric, 0, pixels * sizeof(float));
    memset(m->seg_prob, 0, pixels * (size_t)m->classes * sizeof(float));
    memset(m->seg_aleatoric, 0, pixels * sizeof(float));
    memset(m->seg_logit_var, 0, pixels * sizeof(float));
    m->samples = mc->desc.samples;
    mc->groups.finished = 0;
}

/* Folds sample number t (0-based, counted over every member's samples) of output row `out`
 * ([C+3, tile.h, tile.w], the network's output for the image window `tile`) into the maps at
 * the pixels of `keep`. */
static void accumulate(doubt_mc *mc, const float *out, pixel_rect tile, pixel_rect keep, int t)
{
    doubt_mc_maps *m = &mc->maps;
    const int classes = m->classes, width = m->width;
    const size_t plane = (size_t)tile.w * tile.h, pixels = (size_t)m->height * width;
    const double n = t + 1;
    sample_groups *g = mc->desc.adaptive ? &mc->groups : NULL;
    const int k = t % DOUBT_CONVERGE_GROUP; /* the sample's place in its group */
#pragma omp parallel for schedule(static)
    for (int y = keep.y; y < keep.y + keep.h; y++)
        for (int x = keep.x; x < keep.x + keep.w; x++) {
            const size_t p = (size_t)y * width + x;
            const size_t q = (size_t)(y - tile.y) * tile.w + (x - tile.x);
            /* depth: Welford update of mean and sum of squared deviations, in metres */
            double mu = out[(size_t)(classes + 1) * plane + q];
            const float s = out[(size_t)(classes + 2) * plane + q];
            double var;
            if (mc->net.depth == DOUBT_DEPTH_METRIC)
                var = exp(at_most(s, MAX_LOG_VAR));
            else
                sample_in_metres(mc->net.depth, mu, s, &mu, &var);
            m->depth_aleatoric[p] += (float)((var - m->depth_aleatoric[p]) / n);
            const double delta = mu - m->depth_mean[p];
            const double mean = m->depth_mean[p] + delta / n;
            mc->depth_m2[p] += delta * (mu - mean);
            m->depth_mean[p] = (float)mean;
            if (g) {
                const double group_delta = k ? mu - g->mean[p] : 0;
                g->mean[p] = k ? g->mean[p] + group_delta / (k + 1) : mu;
                g->m2[p] = k ? g->m2[p] + group_delta * (mu - g->mean[p]) : 0;
            }
            const double logit_var = exp(at_most(out[(size_t)classes * plane + q], MAX_LOG_VAR));
            m->seg_logit_var[p] += (float)((logit_var - m->seg_logit_var[p]) / n);
            /* softmax and its entropy, stably */
            float top = out[q];
            for (int c = 1; c < classes; c++)
                top = fmaxf(top, out[(size_t)c * plane + q]);
            double z = 0, weighted = 0, e[DOUBT_NETDESC_MAX_CLASSES];
            for (int c = 0; c < classes; c++) {
                double shifted = out[(size_t)c * plane + q] - top;
                e[c] = exp(shifted);
                z += e[c];
                weighted += e[c] * shifted;
            }
            const double log_z = log(z);
            for (int c = 0; c < classes; c++) {
                const size_t at = (size_t)c * pixels + p;
                const float prob = (float)(e[c] / z);
                m->seg_prob[at] += prob;
                if (g)
                    g->prob[at] = k ? g->prob[at] + prob : prob;
            }
            /* H[p] = log Z - Σ p·(x - top) */
            const float entropy = (float)(log_z - weighted / z);
            m->seg_aleatoric[p] += entropy;
            if (g)
                g->entropy[p] = k ? g->entropy[p] + entropy : entropy;
        }
}

/* 1 when pixel p's maps hold a NaN of the network's: NaN anywhere in its output reaches one
 * of these (the softmax's through the entropy), before the no-depth masking puts its own in. */
static int spoiled(const doubt_mc_maps *m, size_t p)
{
    return isnan(m->depth_total[p]) || isnan(m->seg_logit_var[p]) || isnan(m->seg_aleatoric[p]);
}

/* Pixel p's depth maps are undefined where its class has no depth (when masking). */
static void mask_no_depth(const doubt_mc *mc, doubt_mc_maps *m, size_t p)
{
    if (mc->no_depth[m->seg_class[p]])
        m->depth_mean[p] = m->depth_epistemic[p] = m->depth_aleatoric[p] = m->depth_total[p] =
            NAN;
}

static void finish_maps(doubt_mc *mc, int samples)
{
    doubt_mc_maps *m = &mc->maps;
    const int classes = m->classes;
    const size_t pixels = (size_t)m->width * m->height;
    const float inv = 1.0f / (float)samples;
    int64_t nan_pixels = 0;
#pragma omp parallel for schedule(static) reduction(+ : nan_pixels)
    for (size_t p = 0; p < pixels; p++) {
        m->depth_epistemic[p] = (float)(mc->depth_m2[p] / samples);
        m->depth_total[p] = m->depth_epistemic[p] + m->depth_aleatoric[p];
        m->seg_aleatoric[p] *= inv;
        nan_pixels += spoiled(m, p);
        double entropy = 0;
        float best = -1;
        int best_class = 0;
        for (int c = 0; c < classes; c++) {
            float *prob = &m->seg_prob[(size_t)c * pixels + p];
            *prob *= inv;
            if (*prob > 0)
                entropy -= *prob * log(*prob);
            if (*prob > best) {
                best = *prob;
                best_class = c;
            }
        }
        m->seg_class[p] = (uint8_t)best_class;
        mask_no_depth(mc, m, p);
        m->seg_entropy[p] = (float)entropy;
        /* mutual information is non-negative; rounding can make it -1e-8, and with one
         * sample it is 0 by definition, where the two entropies' roundings would leave
         * noise of 1e-8 that ranks images at random */
        const float mi = (float)entropy - m->seg_aleatoric[p];
        m->seg_mutual_info[p] = mi < 0.0f || samples == 1 ? 0.0f : mi;
    }
    m->nan_pixels = nan_pixels;
}

/* Closes the group the last sample completed: its image values over the pixels of `keep`
 * (the mean within-group variance of μ, Bessel-corrected, and the mean within-group mutual
 * information H[p̄_g] - mean H[p_t]), and 1 when both series have converged (converge.h). */
static int group_converged(doubt_mc *mc, pixel_rect keep)
{
    sample_groups *g = &mc->groups;
    const doubt_mc_maps *m = &mc->maps;
    const size_t pixels = (size_t)m->width * m->height;
    const double n = DOUBT_CONVERGE_GROUP;
#pragma omp parallel for schedule(static)
    for (int y = keep.y; y < keep.y + keep.h; y++) {
        double epistemic = 0, mutual_info = 0;
        for (int x = keep.x; x < keep.x + keep.w; x++) {
            const size_t p = (size_t)y * m->width + x;
            epistemic += g->m2[p] / (n - 1);
            double entropy = 0;
            for (int c = 0; c < m->classes; c++) {
                const double prob = g->prob[(size_t)c * pixels + p] / n;
                if (prob > 0)
                    entropy -= prob * log(prob);
            }
            mutual_info += entropy - g->entropy[p] / n;
        }
        g->rows[2 * (y - keep.y)] = epistemic;
        g->rows[2 * (y - keep.y) + 1] = mutual_info;
    }
    double epistemic = 0, mutual_info = 0;
    for (int r = 0; r < keep.h; r++) {
        epistemic += g->rows[2 * r];
        mutual_info += g->rows[2 * r + 1];
    }
    const double count = (double)keep.w * keep.h;
    g->epistemic[g->finished] = epistemic / count;
    g->mutual_info[g->finished] = mutual_info / count;
    g->finished++;
    const double tol = mc->desc.converge;
    return doubt_converged(g->epistemic, g->finished, tol) &&
           doubt_converged(g->mutual_info, g->finished, tol);
}

/* Depth maps (mc.h) of one pixel from the depth head's moments: mean and variance of the
 * depth m and of its log-variance s. */
static void depth_from_moments(doubt_depth_param kind, double mm, double vm, double ms, double vs,
                               float *mean, float *epistemic, float *aleatoric)
{
    const double a = exp(at_most(ms + vs / 2, MAX_LOG_VAR));
    double e, v, al;
    if (kind == DOUBT_DEPTH_METRIC) {
        e = mm;
        v = vm;
        al = a;
    } else if (kind == DOUBT_DEPTH_LOG) {
        mm = at_least(at_most(mm, MAX_LOG_DEPTH), -MAX_LOG_DEPTH);
        vm = at_most(vm, MAX_LOG_DEPTH);
        e = exp(at_most(mm + a / 2 + vm / 2, 2 * MAX_LOG_DEPTH));
        v = at_most(expm1(vm) * exp(at_most(2 * mm + a + vm, 2 * MAX_LOG_DEPTH)), MAX_SAMPLE_VAR);
        al = at_most(expm1(at_most(a, 2 * MAX_LOG_DEPTH)) *
                         exp(at_most(2 * mm + 2 * vm + a, 2 * MAX_LOG_DEPTH)),
                     MAX_SAMPLE_VAR);
    } else {
        const double q = at_least(mm, MIN_INVERSE_DEPTH), q4 = q * q * q * q;
        e = 1 / q;
        v = at_most(vm / q4, MAX_SAMPLE_VAR);
        al = at_most(a / q4, MAX_SAMPLE_VAR);
    }
    *mean = (float)e;
    *epistemic = (float)v;
    *aleatoric = (float)al;
}

/* Pixels of a row summarised together, so the loops over them vectorise. */
#define MOMENT_LANES 16

/* The segmentation maps of up to MOMENT_LANES pixels from their logits' moments: mean[c][l]
 * and std[c][l] for class c of lane l; writes the mean softmax, H[p̄] and the mean entropy
 * over the draws. */
static void summarise_logits(const float *draws, int classes, int lanes,
                             float mean[][MOMENT_LANES], float std[][MOMENT_LANES],
                             float prob[][MOMENT_LANES], float *entropy, float *expected)
{
    float e[DOUBT_NETDESC_MAX_CLASSES][MOMENT_LANES];
    float expected_sum[MOMENT_LANES] = {0};
    for (int c = 0; c < classes; c++)
        for (int l = 0; l < MOMENT_LANES; l++)
            prob[c][l] = 0;
    for (int k = 0; k < DOUBT_MC_LOGIT_DRAWS; k++) {
        const float *eps = draws + (size_t)k * classes;
        float top[MOMENT_LANES], sum[MOMENT_LANES] = {0}, weighted[MOMENT_LANES] = {0};
        for (int l = 0; l < MOMENT_LANES; l++)
            top[l] = -INFINITY;
        for (int c = 0; c < classes; c++)
#pragma omp simd
            for (int l = 0; l < MOMENT_LANES; l++) {
                e[c][l] = mean[c][l] + std[c][l] * eps[c];
                top[l] = e[c][l] > top[l] ? e[c][l] : top[l];
            }
        for (int c = 0; c < classes; c++)
#pragma omp simd
            for (int l = 0; l < MOMENT_LANES; l++) {
                const float shifted = e[c][l] - top[l];
                e[c][l] = doubt_exp_nonpositive(shifted);
                sum[l] += e[c][l];
                weighted[l] += e[c][l] * shifted;
            }
#pragma omp simd
        for (int l = 0; l < MOMENT_LANES; l++) {
            /* H[p] = log Z − Σ p·(z − top) */
            expected_sum[l] += doubt_log_positive(sum[l]) - weighted[l] / sum[l];
            sum[l] = 1.0f / sum[l];
        }
        for (int c = 0; c < classes; c++)
#pragma omp simd
            for (int l = 0; l < MOMENT_LANES; l++)
                prob[c][l] += e[c][l] * sum[l];
    }
    for (int l = 0; l < lanes; l++) {
        double h = 0;
        for (int c = 0; c < classes; c++) {
            prob[c][l] /= DOUBT_MC_LOGIT_DRAWS;
            if (prob[c][l] > 0)
                h -= prob[c][l] * log(prob[c][l]);
        }
        entropy[l] = (float)h;
        expected[l] = expected_sum[l] / DOUBT_MC_LOGIT_DRAWS;
    }
}

/* Writes the maps at the pixels of `keep` from the moments of the output of window `tile`
 * (mc.h, moment propagation). */
static void summarise_moments(doubt_mc *mc, const doubt_propagate *p, pixel_rect tile,
                              pixel_rect keep)
{
    doubt_mc_maps *m = &mc->maps;
    const int classes = m->classes, width = m->width;
    const size_t plane = (size_t)tile.w * tile.h, pixels = (size_t)m->width * m->height;
    const float *mu = p->mean, *var = p->var;
    const int chunks = (keep.w + MOMENT_LANES - 1) / MOMENT_LANES;
#pragma omp parallel for collapse(2) schedule(static)
    for (int y = keep.y; y < keep.y + keep.h; y++)
        for (int chunk = 0; chunk < chunks; chunk++) {
            const int x0 = keep.x + chunk * MOMENT_LANES;
            const int lanes = keep.x + keep.w - x0 < MOMENT_LANES ? keep.x + keep.w - x0
                                                                  : MOMENT_LANES;
            const size_t q0 = (size_t)(y - tile.y) * tile.w + (size_t)(x0 - tile.x);
            /* 3 · 254 · 16 floats, about 48 KB of each thread's stack */
            float mean[DOUBT_NETDESC_MAX_CLASSES][MOMENT_LANES];
            float std[DOUBT_NETDESC_MAX_CLASSES][MOMENT_LANES];
            float prob[DOUBT_NETDESC_MAX_CLASSES][MOMENT_LANES];
            float entropy[MOMENT_LANES], expected[MOMENT_LANES];
            int uncertain[MOMENT_LANES] = {0};
            for (int c = 0; c < classes; c++)
                for (int l = 0; l < MOMENT_LANES; l++) {
                    const size_t q = (size_t)c * plane + q0 + (size_t)(l < lanes ? l : 0);
                    mean[c][l] = mu[q];
                    std[c][l] = sqrtf(var[q]);
                    uncertain[l] |= std[c][l] > 0;
                }
            summarise_logits(mc->logit_draws, classes, lanes, mean, std, prob, entropy,
                             expected);
            for (int l = 0; l < lanes; l++) {
                const size_t px = (size_t)y * width + (size_t)(x0 + l), q = q0 + (size_t)l;
                int best_class = 0;
                for (int c = 0; c < classes; c++) {
                    m->seg_prob[(size_t)c * pixels + px] = prob[c][l];
                    if (prob[c][l] > prob[best_class][l])
                        best_class = c;
                }
                m->seg_class[px] = (uint8_t)best_class;
                m->seg_entropy[px] = entropy[l];
                m->seg_aleatoric[px] = expected[l];
                const float mi = entropy[l] - expected[l];
                m->seg_mutual_info[px] = uncertain[l] && mi > 0 ? mi : 0.0f;
                m->seg_logit_var[px] =
                    (float)exp(at_most(mu[(size_t)classes * plane + q] +
                                           var[(size_t)classes * plane + q] / 2.0,
                                       MAX_LOG_VAR));
                const size_t d = (size_t)(classes + 1) * plane + q, s = d + plane;
                depth_from_moments(mc->net.depth, mu[d], var[d], mu[s], var[s],
                                   &m->depth_mean[px], &m->depth_epistemic[px],
                                   &m->depth_aleatoric[px]);
                m->depth_total[px] = m->depth_epistemic[px] + m->depth_aleatoric[px];
            }
        }
}

/* Counts the NaN pixels and masks the no-depth classes' depth (as finish_maps does). */
static void finish_moment_maps(doubt_mc *mc)
{
    doubt_mc_maps *m = &mc->maps;
    const size_t pixels = (size_t)m->width * m->height;
    int64_t nan_pixels = 0;
#pragma omp parallel for schedule(static) reduction(+ : nan_pixels)
    for (size_t p = 0; p < pixels; p++) {
        nan_pixels += spoiled(m, p);
        mask_no_depth(mc, m, p);
    }
    m->nan_pixels = nan_pixels;
}

/* Runs one member's T samples of the padded image's window `tile` (its pixels in `input`,
 * plain [3, tile.h, tile.w]; mc->stacked holds them repeated when uncached) and folds them
 * into the maps at `keep` as samples first, first + 1, ... */
static doubt_status run_member_window(doubt_ctx *ctx, doubt_mc *mc, shape_nets *nets,
                                      const float *input, pixel_rect tile, pixel_rect keep,
                                      int pw, int ph, int first)
{
    doubt_status st = DOUBT_OK;
    if (nets->moments) {
        DOUBT_TRY(doubt_propagate_run(ctx, nets->moments, input));
        summarise_moments(mc, nets->moments, tile, keep);
        return DOUBT_OK;
    }
    if (!nets->samples) { /* deterministic, or a member without dropout: T equal samples */
        DOUBT_TRY(doubt_net_forward(ctx, nets->cache, input, 0, 0));
        if (mc->desc.adaptive) /* nothing to converge: one pass is all of them */
            mc->maps.samples = 1;
        for (int t = 0; t < mc->maps.samples; t++)
            accumulate(mc, doubt_net_output(nets->cache), tile, keep, first + t);
        return DOUBT_OK;
    }
    doubt_net *samples = nets->samples;
    const int chunk = mc->desc.chunk;
    const size_t row_floats = (size_t)(mc->net.classes + 3) * tile.w * tile.h;
    if (!mc->desc.uncached)
        DOUBT_TRY(doubt_net_forward_cached(ctx, nets->cache, input));
    DOUBT_TRY(doubt_net_set_dropout_window(ctx, samples, tile.x, tile.y, pw, ph));
    for (int t0 = 0; t0 < mc->desc.samples; t0 += chunk) {
        if (mc->desc.uncached)
            DOUBT_TRY(doubt_net_forward(ctx, samples, mc->stacked, 1, (uint64_t)t0));
        else
            DOUBT_TRY(doubt_net_forward_samples(ctx, samples, (uint64_t)t0));
        for (int r = 0; r < chunk && t0 + r < mc->desc.samples; r++) {
            const int t = t0 + r;
            accumulate(mc, doubt_net_output(samples) + (size_t)r * row_floats, tile, keep,
                       first + t);
            /* a converged run stops here: the chunk's later samples are dropped, so the maps
             * are those of a fixed run of t + 1 samples */
            if (mc->desc.adaptive && (t + 1) % DOUBT_CONVERGE_GROUP == 0 &&
                group_converged(mc, keep)) {
                mc->maps.samples = t + 1;
                return DOUBT_OK;
            }
        }
    }
done:
    return st;
}

/* Runs every member on the window `tile` (as run_member_window): member m's sample t is
 * sample m·T + t of the pooled statistics. */
static doubt_status run_window(doubt_ctx *ctx, doubt_mc *mc, const float *input,
                               pixel_rect tile, pixel_rect keep, int pw, int ph)
{
    doubt_status st = DOUBT_OK;
    if (mc->desc.uncached && !mc->desc.deterministic) {
        const int chunk = mc->desc.chunk;
        const size_t image_floats = (size_t)3 * tile.w * tile.h;
        DOUBT_TRY(reserve(ctx, &mc->stacked, &mc->stacked_cap, image_floats * (size_t)chunk));
        for (int r = 0; r < chunk; r++)
            memcpy(mc->stacked + (size_t)r * image_floats, input, image_floats * sizeof(float));
    }
    for (int m = 0; m < mc->members; m++)
        DOUBT_TRY(run_member_window(ctx, mc, &mc->member[m].shape, input, tile, keep, pw, ph,
                                    m * mc->maps.samples));
done:
    return st;
}

/* Tile origins along one axis of padded length `length` for tiles of `side`: a stride of
 * side - 2·margin, the last tile flush with the end. Writes the origins and, in keep_end,
 * where each tile's kept part ends (the middle of its overlap with the next). */
static int tile_origins(int length, int side, int margin, int *origins, int *keep_end)
{
    int n = 0;
    for (int o = 0;; o += side - 2 * margin) {
        origins[n++] = o + side < length ? o : length - side;
        if (o + side >= length)
            break;
    }
    for (int i = 0; i < n; i++)
        keep_end[i] = i + 1 < n ? (origins[i + 1] + origins[i] + side) / 2 : length;
    return n;
}

/* Copies the window `r` of the padded image ([3, ph, pw]) into out ([3, r.h, r.w]). */
static void cut_window(const float *padded, int pw, int ph, pixel_rect r, float *out)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < r.h; y++)
            memcpy(out + ((size_t)c * r.h + y) * r.w,
                   padded + ((size_t)c * ph + r.y + y) * pw + r.x, (size_t)r.w * sizeof(float));
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* Runs every tile of the padded image (pw × ph); the maps are width × height. */
static doubt_status run_tiles(doubt_ctx *ctx, doubt_mc *mc, int width, int height, int pw, int ph)
{
    doubt_status st = DOUBT_OK;
    const int tile_w = min_int(mc->desc.tile, pw), tile_h = min_int(mc->desc.tile, ph);
    const int margin = mc->desc.tile_margin;
    /* at most one tile per grid step along each axis */
    const size_t most = (size_t)(pw > ph ? pw : ph) / (size_t)mc->grid + 1;
    int *xs = malloc(4 * most * sizeof(int));
    if (!xs)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "MC inference: out of memory");
    int *x_end = xs + most, *ys = xs + 2 * most, *y_end = xs + 3 * most;
    const int nx = tile_origins(pw, tile_w, margin, xs, x_end);
    const int ny = tile_origins(ph, tile_h, margin, ys, y_end);
    DOUBT_TRY(reserve(ctx, &mc->tile, &mc->tile_cap, (size_t)3 * tile_w * tile_h));
    DOUBT_TRY(nets_for(ctx, mc, tile_w, tile_h));
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            const pixel_rect tile = {xs[i], ys[j], tile_w, tile_h};
            const int kx = i ? x_end[i - 1] : 0, ky = j ? y_end[j - 1] : 0;
            const pixel_rect keep = {kx, ky, min_int(x_end[i], width) - kx,
                                     min_int(y_end[j], height) - ky};
            if (keep.w <= 0 || keep.h <= 0)
                continue; /* only padding */
            cut_window(mc->padded, pw, ph, tile, mc->tile);
            DOUBT_TRY(run_window(ctx, mc, mc->tile, tile, keep, pw, ph));
        }
done:
    free(xs);
    return st;
}

doubt_status doubt_mc_run(doubt_ctx *ctx, doubt_mc *mc, const float *image, int width,
                          int height, const doubt_mc_maps **maps)
{
    doubt_status st = DOUBT_OK;
    *maps = NULL;
    if (!image || width <= 0 || height <= 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "MC inference: empty image");
    const int grid = mc->grid;
    const int pw = round_up(width, grid), ph = round_up(height, grid);
    DOUBT_TRY(ensure_buffers(ctx, mc, width, height, pw, ph));
    pad_image(image, width, height, mc->padded, pw, ph);
    reset_maps(mc);
    if (mc->desc.tile > 0 && (pw > mc->desc.tile || ph > mc->desc.tile)) {
        DOUBT_TRY(run_tiles(ctx, mc, width, height, pw, ph));
    } else {
        DOUBT_TRY(nets_for(ctx, mc, pw, ph));
        const pixel_rect whole = {0, 0, pw, ph}, image_px = {0, 0, width, height};
        DOUBT_TRY(run_window(ctx, mc, mc->padded, whole, image_px, pw, ph));
    }
    if (mc->desc.method == DOUBT_MC_PROPAGATE)
        finish_moment_maps(mc);
    else
        finish_maps(mc, mc->members * mc->maps.samples);
    *maps = &mc->maps;
done:
    return st;
}
