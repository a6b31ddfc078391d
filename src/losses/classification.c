/* Softmax cross-entropy and the attenuated (noisy-logit) classification loss. */
#include <math.h>
#include <stdlib.h>

#include "chunks.h"
#include "exp.h"
#include "losses.h"
#include "noise.h"

/* Pixels of one attenuated-loss tile: the noise of a tile is drawn with one bulk fill per
 * (sample, class), since consecutive w are consecutive RNG indices. */
#define ATTN_TILE 64

static doubt_status check_shape(const char *name, int64_t n, int64_t c, int64_t h, int64_t w,
                                doubt_error *err)
{
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: shape n=%lld c=%lld h=%lld w=%lld, need all > 0",
                          name, (long long)n, (long long)c, (long long)h, (long long)w);
    if (c >= DOUBT_LABEL_IGNORE)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "%s: %lld classes, at most %d (uint8 labels, %d = ignore)", name,
                          (long long)c, DOUBT_LABEL_IGNORE - 1, DOUBT_LABEL_IGNORE);
    return DOUBT_OK;
}

/* Checks every label in n, h, w order and counts the pixels of each class, so the first
 * bad pixel is the one named whatever the thread count. */
static doubt_status count_labels(const char *name, int64_t n, int64_t c, int64_t h, int64_t w,
                                 const uint8_t *labels, int64_t hist[DOUBT_LABEL_IGNORE],
                                 doubt_error *err)
{
    for (int k = 0; k < DOUBT_LABEL_IGNORE; k++)
        hist[k] = 0;
    const int64_t pixels = n * h * w;
    for (int64_t i = 0; i < pixels; i++) {
        const uint8_t y = labels[i];
        if (y == DOUBT_LABEL_IGNORE)
            continue;
        if (y >= c)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "%s: label %u at pixel n=%lld h=%lld w=%lld, but there are %lld "
                              "classes (and %d = ignore)",
                              name, (unsigned)y, (long long)(i / (h * w)), (long long)(i / w % h),
                              (long long)(i % w), (long long)c, DOUBT_LABEL_IGNORE);
        hist[y]++;
    }
    return DOUBT_OK;
}

doubt_status doubt_losses_cross_entropy(int64_t n, int64_t c, int64_t h, int64_t w,
                                        const float *logits, const uint8_t *labels,
                                        const float *class_weights, float *loss, float *grad_logits,
                                        doubt_error *err)
{
    static const char name[] = "cross_entropy";
    if (!logits || !labels || !loss)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: %s is NULL", name,
                          !logits   ? "logits"
                          : !labels ? "labels"
                                    : "loss");
    doubt_status st = check_shape(name, n, c, h, w, err);
    if (st != DOUBT_OK)
        return st;
    if (class_weights)
        for (int64_t k = 0; k < c; k++)
            if (!(class_weights[k] >= 0) || isinf(class_weights[k]))
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "%s: class weight %lld is %g, need finite >= 0", name,
                                  (long long)k, (double)class_weights[k]);
    int64_t hist[DOUBT_LABEL_IGNORE];
    st = count_labels(name, n, c, h, w, labels, hist, err);
    if (st != DOUBT_OK)
        return st;
    double weight_sum = 0; /* from integer counts in class order: deterministic */
    for (int64_t k = 0; k < c; k++)
        weight_sum += (double)hist[k] * (class_weights ? (double)class_weights[k] : 1.0);
    const double inv = weight_sum > 0 ? 1.0 / weight_sum : 0.0;

    const int64_t hw = h * w, rows = n * h;
    double partial[DOUBT_LOSSES_CHUNKS];
    const int chunks = losses_chunk_count(rows);
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < chunks; ch++) {
        double acc = 0, e[DOUBT_LABEL_IGNORE];
        const int64_t end = losses_chunk_start(rows, chunks, ch + 1);
        for (int64_t r = losses_chunk_start(rows, chunks, ch); r < end; r++) {
            const int64_t ni = r / h, hi = r % h;
            for (int64_t wi = 0; wi < w; wi++) {
                const uint8_t y = labels[r * w + wi];
                const float *f = logits + ni * c * hw + hi * w + wi;
                float *g = grad_logits ? grad_logits + ni * c * hw + hi * w + wi : NULL;
                if (y == DOUBT_LABEL_IGNORE) {
                    for (int64_t k = 0; g && k < c; k++)
                        g[k * hw] = 0;
                    continue;
                }
                double m = -INFINITY, sum = 0;
                for (int64_t k = 0; k < c; k++)
                    m = fmax(m, (double)f[k * hw]);
                for (int64_t k = 0; k < c; k++)
                    sum += e[k] = exp((double)f[k * hw] - m);
                const double wt = class_weights ? (double)class_weights[y] : 1.0;
                acc += wt * (m + log(sum) - (double)f[y * hw]);
                for (int64_t k = 0; g && k < c; k++)
                    g[k * hw] = (float)(wt * inv * (e[k] / sum - (k == y)));
            }
        }
        partial[ch] = acc;
    }
    const double total = losses_sum_partials(partial, chunks) * inv;
    *loss = (float)total;
    if (!isfinite(*loss))
        return doubt_fail(err, DOUBT_ERR_NUMERIC,
                          "%s: value %g is not finite (NaN or Inf in logits?)", name, total);
    return DOUBT_OK;
}

typedef struct {
    int64_t n, c, h, w;
    int samples;
    const float *logits, *log_var;
    const uint8_t *labels;
    doubt_rng_key key;
    float *grad_logits, *grad_log_var;
    double inv; /* 1 / valid pixels */
} attn_job;

/* Scratch of one thread: noise of a tile, then per pixel the sample softmaxes and weights. */
typedef struct {
    float *eps; /* [T][C][ATTN_TILE] */
    double *p;  /* [T][C] */
    double *lw; /* [T]: log p_t[y], then the sample weights w_t */
    double *mx; /* [T]: max_k of each noisy sample */
} attn_scratch;

/* Loss sum (not yet divided) of one pixel; writes its gradients. eps points at the pixel's
 * noise, stride ATTN_TILE between (t, k). */
DOUBT_LANES static double attn_pixel(const attn_job *job, attn_scratch *sc, const float *eps,
                                      int64_t ni, int64_t hi, int64_t wi)
{
    const int64_t C = job->c, T = job->samples, hw = job->h * job->w;
    const int64_t pix = (ni * job->h + hi) * job->w + wi;
    const int y = job->labels[pix];
    const float *f = job->logits + ni * C * hw + hi * job->w + wi;
    float *gf = job->grad_logits ? job->grad_logits + ni * C * hw + hi * job->w + wi : NULL;
    if (y == DOUBT_LABEL_IGNORE) {
        for (int64_t k = 0; gf && k < C; k++)
            gf[k * hw] = 0;
        if (job->grad_log_var)
            job->grad_log_var[pix] = 0;
        return 0;
    }
    const double sigma = exp(0.5 * (double)job->log_var[pix]);
    double *p = sc->p, *lw = sc->lw, *mx = sc->mx;
    for (int64_t t = 0; t < T; t++) {
        double *pt = p + t * C, m = -INFINITY;
        for (int64_t k = 0; k < C; k++) {
            pt[k] = (double)f[k * hw] + sigma * (double)eps[(t * C + k) * ATTN_TILE];
            m = pt[k] > m ? pt[k] : m; /* fmax(m, pt[k]): m is never NaN */
        }
        mx[t] = m;
        lw[t] = pt[y] - m;
    }
    /* the exponentials of all samples in one pass of straight loops, which vectorise */
    for (int64_t t = 0; t < T; t++)
        for (int64_t k = 0; k < C; k++)
            p[t * C + k] = losses_exp_nonpositive(p[t * C + k] - mx[t]);
    double top = -INFINITY; /* max_t log p_t[y] */
    for (int64_t t = 0; t < T; t++) {
        double *pt = p + t * C, sum = 0;
        for (int64_t k = 0; k < C; k++)
            sum += pt[k];
        for (int64_t k = 0; k < C; k++)
            pt[k] /= sum;
        lw[t] = lw[t] - log(sum);
        top = lw[t] > top ? lw[t] : top;
    }
    for (int64_t t = 0; t < T; t++)
        lw[t] = losses_exp_nonpositive(lw[t] - top);
    double wsum = 0;
    for (int64_t t = 0; t < T; t++)
        wsum += lw[t];
    const double loss = log((double)T) - (top + log(wsum));
    for (int64_t t = 0; t < T; t++)
        lw[t] /= wsum;

    const double inv = job->inv;
    for (int64_t k = 0; gf && k < C; k++) {
        double g = 0;
        for (int64_t t = 0; t < T; t++)
            g += lw[t] * p[t * C + k];
        gf[k * hw] = (float)((g - (k == y)) * inv);
    }
    if (job->grad_log_var) {
        double g = 0;
        for (int64_t t = 0; t < T; t++) {
            const double *pt = p + t * C;
            const float *et = eps + t * C * ATTN_TILE;
            double d = -(double)et[y * ATTN_TILE];
            for (int64_t k = 0; k < C; k++)
                d += pt[k] * (double)et[k * ATTN_TILE];
            g += lw[t] * d;
        }
        job->grad_log_var[pix] = (float)(0.5 * sigma * g * inv);
    }
    return loss;
}

static double attn_rows(const attn_job *job, attn_scratch *sc, int64_t r0, int64_t r1)
{
    const int64_t C = job->c, T = job->samples, H = job->h, W = job->w;
    double acc = 0;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t ni = r / H, hi = r % H;
        for (int64_t w0 = 0; w0 < W; w0 += ATTN_TILE) {
            const int64_t len = W - w0 < ATTN_TILE ? W - w0 : ATTN_TILE;
            for (int64_t t = 0; t < T; t++)
                for (int64_t k = 0; k < C; k++) {
                    const uint64_t first = (uint64_t)((((ni * T + t) * C + k) * H + hi) * W + w0);
                    losses_normal_fill(job->key, first, len, sc->eps + (t * C + k) * ATTN_TILE);
                }
            for (int64_t j = 0; j < len; j++)
                acc += attn_pixel(job, sc, sc->eps + j, ni, hi, w0 + j);
        }
    }
    return acc;
}

doubt_status doubt_losses_attenuated_ce(int64_t n, int64_t c, int64_t h, int64_t w, int samples,
                                        const float *logits, const float *log_var,
                                        const uint8_t *labels, doubt_rng_key key, float *loss,
                                        float *grad_logits, float *grad_log_var, doubt_error *err)
{
    static const char name[] = "attenuated_ce";
    if (!logits || !log_var || !labels || !loss)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: %s is NULL", name,
                          !logits    ? "logits"
                          : !log_var ? "log_var"
                          : !labels  ? "labels"
                                     : "loss");
    doubt_status st = check_shape(name, n, c, h, w, err);
    if (st != DOUBT_OK)
        return st;
    if (samples < 1)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: %d samples, need >= 1", name, samples);
    int64_t hist[DOUBT_LABEL_IGNORE], valid = 0;
    st = count_labels(name, n, c, h, w, labels, hist, err);
    if (st != DOUBT_OK)
        return st;
    for (int64_t k = 0; k < c; k++)
        valid += hist[k];

    const attn_job job = {.n = n,
                          .c = c,
                          .h = h,
                          .w = w,
                          .samples = samples,
                          .logits = logits,
                          .log_var = log_var,
                          .labels = labels,
                          .key = key,
                          .grad_logits = grad_logits,
                          .grad_log_var = grad_log_var,
                          .inv = valid ? 1.0 / (double)valid : 0.0};
    const int64_t rows = n * h;
    const int chunks = losses_chunk_count(rows);
    double partial[DOUBT_LOSSES_CHUNKS];
    int failed = 0;
#pragma omp parallel
    {
        attn_scratch sc = {malloc((size_t)(samples * c * ATTN_TILE) * sizeof(float)),
                           malloc((size_t)(samples * c) * sizeof(double)),
                           malloc((size_t)samples * sizeof(double)),
                           malloc((size_t)samples * sizeof(double))};
        const int ok = sc.eps && sc.p && sc.lw && sc.mx;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++)
            partial[ch] = ok ? attn_rows(&job, &sc, losses_chunk_start(rows, chunks, ch),
                                         losses_chunk_start(rows, chunks, ch + 1))
                             : 0;
        free(sc.eps);
        free(sc.p);
        free(sc.lw);
        free(sc.mx);
    }
    if (failed)
        return doubt_fail(err, DOUBT_ERR_NOMEM,
                          "%s: no memory for the scratch of %d samples x %lld classes", name,
                          samples, (long long)c);
    const double total = losses_sum_partials(partial, chunks) * job.inv;
    *loss = (float)total;
    if (!isfinite(*loss))
        return doubt_fail(err, DOUBT_ERR_NUMERIC,
                          "%s: value %g is not finite (NaN or Inf in logits or log_var?)", name,
                          total);
    return DOUBT_OK;
}
