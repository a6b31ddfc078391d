/* Losses: gradients against central differences of independent double-precision references
 * written here (naive formulas, no log-sum-exp), identities between the losses, extreme
 * inputs, errors, thread-count determinism, and golden values from tools/losses_golden.py
 * (PyTorch autograd in float64, its own Philox). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "harness.h"
#include "losses/exp.h"
#include "losses/losses.h"
#include "losses/noise.h"
#include "model/optim.h"

/* The library rounds each gradient to float once; central differences of a double reference
 * with the steps below are good to ~1e-9, so 1e-5 leaves a wide margin above float rounding
 * while any wrong term (a missing factor ½, a wrong sign) shows up as O(1). */
#define GRAD_TOL 1e-5
#define GOLD_TOL 1e-5

/* Error of the last failing call, shown by L_OK. */
static doubt_error terr;
#define L_OK(call)                                                                                 \
    do {                                                                                           \
        doubt_status l_st_ = (call);                                                               \
        ck_assert_msg(l_st_ == DOUBT_OK, "%s -> %s: %s", #call, doubt_status_str(l_st_),           \
                      terr.msg);                                                                   \
    } while (0)

static float *to_f(const double *x, int64_t n)
{
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

/* Float inputs, and the same values in double for the reference. */
static double *fill_pair(float **out, int64_t n, uint32_t seed, float lo, float hi)
{
    float *f = malloc((size_t)n * sizeof *f);
    double *d = malloc((size_t)n * sizeof *d);
    th_fill(f, n, seed, lo, hi);
    for (int64_t i = 0; i < n; i++)
        d[i] = f[i];
    *out = f;
    return d;
}

static void random_labels(uint8_t *labels, int64_t n, int c, uint32_t seed, float ignore_frac)
{
    float *u = malloc((size_t)n * 2 * sizeof *u);
    th_fill(u, 2 * n, seed, 0, 1);
    for (int64_t i = 0; i < n; i++)
        labels[i] = u[n + i] < ignore_frac ? DOUBT_LABEL_IGNORE : (uint8_t)(u[i] * c) % c;
    free(u);
}

static int all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int all_zero(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0)
            return 0;
    return 1;
}

static double rel1(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1e-6);
}

/* ------------------------------------------------------------------------------------------
 * regression */

typedef struct {
    doubt_reg_kind kind;
    int64_t n;
    const float *target;
    const uint8_t *mask;
    double weight; /* data_weight */
} reg_case;

/* The data term d and the log term ρ of one pixel (losses.h's table), naively. */
static void reg_parts_ref(doubt_reg_kind kind, double r, double s, double *d, double *rho)
{
    switch (kind) {
    case DOUBT_REG_L1: *d = fabs(r), *rho = 0; break;
    case DOUBT_REG_L2: *d = r * r, *rho = 0; break;
    case DOUBT_REG_GAUSSIAN: *d = 0.5 * exp(-s) * r * r, *rho = 0.5 * s; break;
    case DOUBT_REG_LAPLACE: *d = exp(-s) * fabs(r), *rho = s; break;
    }
}

/* x = [pred (n), log_var (n)]; means of d and ρ over the valid pixels */
static void reg_means_ref(const double *x, const reg_case *rc, double *data, double *log_term)
{
    double sd = 0, sr = 0;
    int valid = 0;
    for (int64_t i = 0; i < rc->n; i++) {
        if (rc->mask ? !rc->mask[i] : rc->target[i] == 0)
            continue;
        valid++;
        double d = 0, rho = 0;
        reg_parts_ref(rc->kind, x[i] - rc->target[i], x[rc->n + i], &d, &rho);
        sd += d, sr += rho;
    }
    *data = valid ? sd / valid : 0;
    *log_term = valid ? sr / valid : 0;
}

/* weight·mean(d) + mean(ρ) */
static double reg_ref(const double *x, void *user)
{
    const reg_case *rc = user;
    double data, log_term;
    reg_means_ref(x, rc, &data, &log_term);
    return rc->weight * data + log_term;
}

START_TEST(regression_gradients)
{
    const int64_t n = 45;
    float *pred, *target, *log_var;
    double *x = malloc(2 * n * sizeof *x), *fd = malloc(2 * n * sizeof *fd);
    double *dp = fill_pair(&pred, n, 1, -3, 3);
    double *ds = fill_pair(&log_var, n, 2, -2, 2);
    free(fill_pair(&target, n, 3, -2, 2));
    uint8_t mask[45];
    for (int64_t i = 0; i < n; i++) {
        if (i % 7 == 3)
            target[i] = 0; /* invalid when no mask is given */
        if (fabs(pred[i] - target[i]) < 1e-2)
            pred[i] += 0.1f, dp[i] = pred[i]; /* away from the L1 kink */
        mask[i] = i % 5 != 1;
    }
    memcpy(x, dp, n * sizeof *x);
    memcpy(x + n, ds, n * sizeof *x);
    static const char *names[] = {"l1", "l2", "gaussian", "laplace"};
    /* 1: the plain loss; the others as a task precision exp(-s_k) would give */
    static const double weights[] = {1, 0.37, 3.2, 0};
    float gp[45], gs[45];
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++) {
        double worst = 0;
        for (int masked = 0; masked < 2; masked++)
            for (int wi = 0; wi < 4; wi++) {
                reg_case rc = {kind, n, target, masked ? mask : NULL, weights[wi]};
                doubt_reg_loss loss;
                doubt_error err = {{0}};
                for (int64_t i = 0; i < n; i++)
                    gp[i] = gs[i] = NAN;
                ck_assert_int_eq(doubt_losses_regression(kind, n, pred, log_var, target, rc.mask,
                                                         rc.weight, &loss, gp, gs, &err),
                                 DOUBT_OK);
                double data, log_term;
                reg_means_ref(x, &rc, &data, &log_term);
                ck_assert_double_ge(loss.data, 0);
                ck_assert_double_lt(rel1(loss.data, data), 1e-6);
                ck_assert_double_lt(fabs(loss.log_term - log_term), 1e-6 * fmax(1, fabs(log_term)));
                ck_assert_double_lt(fabs(loss.value - reg_ref(x, &rc)),
                                    1e-6 * fmax(1, fabs(reg_ref(x, &rc))));
                th_numeric_grad(reg_ref, x, 2 * n, 1e-6, &rc, fd);
                worst = fmax(worst, th_rel_err(gp, fd, n));
                if (kind >= DOUBT_REG_GAUSSIAN)
                    worst = fmax(worst, th_rel_err(gs, fd + n, n));
                else
                    for (int64_t i = 0; i < n; i++) /* L1/L2 leave grad_log_var alone */
                        ck_assert(isnan(gs[i]));
            }
        printf("losses: regression %-9s max relative gradient error vs central differences %.2e "
               "(data weights 1, 0.37, 3.2, 0)\n",
               names[kind], worst);
        ck_assert_msg(worst < GRAD_TOL, "%s: gradient error %g", names[kind], worst);
    }
    free(x), free(fd), free(dp), free(ds), free(pred), free(target), free(log_var);
}
END_TEST

START_TEST(regression_identities)
{
    const int64_t n = 64;
    float pred[64], target[64], s[64], gs[64], gp[64];
    th_fill(pred, n, 11, 0, 10);
    th_fill(target, n, 12, 1, 10);
    double mse = 0;
    for (int64_t i = 0; i < n; i++) {
        s[i] = 0;
        mse += ((double)pred[i] - target[i]) * ((double)pred[i] - target[i]);
    }
    mse /= n;
    doubt_reg_loss gauss, l2;
    L_OK(doubt_losses_regression(DOUBT_REG_GAUSSIAN, n, pred, s, target, NULL, 1, &gauss, NULL,
                                 NULL, &terr));
    L_OK(doubt_losses_regression(DOUBT_REG_L2, n, pred, NULL, target, NULL, 1, &l2, NULL, NULL,
                                 &terr));
    ck_assert_double_lt(rel1(gauss.value, 0.5 * mse), 1e-6); /* s = 0: ½·MSE */
    ck_assert(gauss.log_term == 0 && gauss.data == gauss.value);
    ck_assert_double_lt(rel1(l2.value, mse), 1e-6);
    ck_assert(l2.log_term == 0 && l2.data == l2.value);

    /* s = log r² zeroes ∂/∂s, gives ½ + ½·log r² per pixel, and any shift of s costs more */
    double best = 0;
    for (int64_t i = 0; i < n; i++) {
        const double r = (double)pred[i] - target[i];
        s[i] = (float)log(r * r);
        best += 0.5 + 0.5 * s[i];
    }
    best /= n;
    doubt_reg_loss at;
    L_OK(doubt_losses_regression(DOUBT_REG_GAUSSIAN, n, pred, s, target, NULL, 1, &at, gp, gs,
                                 &terr));
    ck_assert_double_lt(fabs(at.value - best), 1e-5 * fmax(1, fabs(best)));
    ck_assert_double_lt(fabs(at.data - 0.5), 1e-6); /* exp(-s)·r² = 1 everywhere */
    for (int64_t i = 0; i < n; i++)
        ck_assert_double_lt(fabs(gs[i]), 1e-6);
    for (int64_t i = 0; i < n; i++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            float moved[64];
            doubt_reg_loss other;
            memcpy(moved, s, sizeof moved);
            moved[i] += sign * 0.05f;
            L_OK(doubt_losses_regression(DOUBT_REG_GAUSSIAN, n, pred, moved, target, NULL, 1,
                                         &other, NULL, NULL, &terr));
            ck_assert_msg(other.value > at.value, "pixel %lld s%+d: %.9g <= %.9g", (long long)i,
                          sign, other.value, at.value);
        }
    }

    /* the data weight scales the data term and its gradients only: data and log_term do not
     * depend on it, value = weight·data + log_term, and with weight 0 ∂/∂s is the log term's */
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++) {
        doubt_reg_loss one, heavy, none;
        float gp1[64], gs1[64], gpw[64], gsw[64];
        L_OK(doubt_losses_regression(kind, n, pred, s, target, NULL, 1, &one, gp1, gs1, &terr));
        L_OK(doubt_losses_regression(kind, n, pred, s, target, NULL, 4, &heavy, gpw, gsw, &terr));
        L_OK(doubt_losses_regression(kind, n, pred, s, target, NULL, 0, &none, gp, gs, &terr));
        ck_assert(heavy.data == one.data && heavy.log_term == one.log_term);
        ck_assert(none.data == one.data && none.value == one.log_term);
        ck_assert_double_lt(fabs(heavy.value - (4.0 * one.data + one.log_term)),
                            1e-6 * fmax(1, fabs(heavy.value)));
        const double rho_slope = kind == DOUBT_REG_GAUSSIAN ? 0.5 : 1; /* ∂ρ/∂s */
        for (int64_t i = 0; i < n; i++) {
            ck_assert(gpw[i] == 4 * gp1[i] && gp[i] == 0); /* ×4 is exact in float */
            if (kind >= DOUBT_REG_GAUSSIAN) {
                ck_assert_double_lt(fabs(gs[i] - rho_slope / n), 1e-9);
                /* ∂/∂s = weight·∂d/∂s + ∂ρ/∂s */
                const double dd = (double)gs1[i] - rho_slope / n;
                ck_assert_double_lt(fabs(gsw[i] - (4 * dd + rho_slope / n)),
                                    1e-6 * (fabs(4 * dd) + rho_slope / n));
            }
        }
    }
}
END_TEST

START_TEST(regression_extremes)
{
    const int64_t n = 6;
    const float pred[6] = {1e4f, -1e4f, 0.5f, 3, -7, 1e4f};
    const float target[6] = {-1e4f, 1e4f, 0.5f, 2, 4, 0};
    const float s[6] = {-30, -30, 30, 30, -30, 0};
    float gp[6], gs[6];
    doubt_reg_loss loss;
    /* weights exp(-s_k) for s_k = ±30 too */
    const double weights[3] = {1, exp(30.0), exp(-30.0)};
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++)
        for (int wi = 0; wi < 3; wi++) {
            L_OK(doubt_losses_regression(kind, n, pred, s, target, NULL, weights[wi], &loss, gp,
                                         gs, &terr));
            ck_assert(isfinite(loss.value) && all_finite(gp, n) && all_finite(gs, n));
        }
    /* nothing valid: 0 and zero gradients, with and without a mask */
    const float zeros[6] = {0};
    const uint8_t none[6] = {0};
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++)
        for (int m = 0; m < 2; m++) {
            for (int i = 0; i < n; i++)
                gp[i] = gs[i] = NAN;
            L_OK(doubt_losses_regression(kind, n, pred, s, m ? target : zeros, m ? none : NULL, 2,
                                         &loss, gp, gs, &terr));
            ck_assert(loss.value == 0 && loss.data == 0 && loss.log_term == 0 && all_zero(gp, n));
            if (kind >= DOUBT_REG_GAUSSIAN)
                ck_assert(all_zero(gs, n));
        }
}
END_TEST

START_TEST(regression_errors)
{
    float x[4] = {1, 2, 3, 4};
    doubt_reg_loss loss;
    doubt_error err = {{0}};
    ck_assert_int_eq(
        doubt_losses_regression(DOUBT_REG_L1, 4, NULL, NULL, x, NULL, 1, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "pred is NULL"));
    ck_assert_int_eq(doubt_losses_regression(DOUBT_REG_GAUSSIAN, 4, x, NULL, x, NULL, 1, &loss,
                                             NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "gaussian loss: log_var is NULL"));
    ck_assert_int_eq(
        doubt_losses_regression(DOUBT_REG_L2, 0, x, NULL, x, NULL, 1, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "count 0"));
    ck_assert_int_eq(
        doubt_losses_regression((doubt_reg_kind)9, 4, x, x, x, NULL, 1, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_int_eq(
        doubt_losses_regression(DOUBT_REG_L2, 4, x, NULL, x, NULL, 1, NULL, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "loss is NULL"));
    static const double bad_weights[] = {-0.5, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(doubt_losses_regression(DOUBT_REG_LAPLACE, 4, x, x, x, NULL,
                                                 bad_weights[i], &loss, NULL, NULL, &err),
                         DOUBT_ERR_ARG);
        ck_assert_msg(strstr(err.msg, "laplace loss: data_weight") &&
                          strstr(err.msg, "need finite and >= 0"),
                      "%s", err.msg);
    }
    float bad[4] = {1, NAN, 3, 4};
    ck_assert_int_eq(
        doubt_losses_regression(DOUBT_REG_L2, 4, bad, NULL, x, NULL, 1, &loss, NULL, NULL, &err),
        DOUBT_ERR_NUMERIC);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * cross-entropy */

typedef struct {
    int64_t n, c, h, w;
    const uint8_t *labels;
    const float *weight;
} ce_case;

/* naive -w_y·log(exp f_y / Σ exp f_k), summed, / Σ w_y */
static double ce_ref(const double *f, void *user)
{
    const ce_case *cc = user;
    const int64_t hw = cc->h * cc->w;
    double sum = 0, wsum = 0;
    for (int64_t ni = 0; ni < cc->n; ni++)
        for (int64_t i = 0; i < hw; i++) {
            const int y = cc->labels[ni * hw + i];
            if (y == DOUBT_LABEL_IGNORE)
                continue;
            double z = 0;
            for (int64_t k = 0; k < cc->c; k++)
                z += exp(f[(ni * cc->c + k) * hw + i]);
            const double wt = cc->weight ? cc->weight[y] : 1;
            sum -= wt * log(exp(f[(ni * cc->c + y) * hw + i]) / z);
            wsum += wt;
        }
    return wsum > 0 ? sum / wsum : 0;
}

START_TEST(cross_entropy_gradients)
{
    const int64_t n = 2, c = 5, h = 3, w = 4, count = n * c * h * w;
    float *logits, weight[5] = {0.5f, 1, 2, 0.25f, 3}, *g = malloc(count * sizeof *g);
    double *x = fill_pair(&logits, count, 21, -4, 4), *fd = malloc(count * sizeof *fd);
    uint8_t labels[24];
    random_labels(labels, n * h * w, c, 22, 0.2f);
    double worst = 0;
    for (int weighted = 0; weighted < 2; weighted++) {
        ce_case cc = {n, c, h, w, labels, weighted ? weight : NULL};
        float loss;
        L_OK(doubt_losses_cross_entropy(n, c, h, w, logits, labels, cc.weight, &loss, g, &terr));
        ck_assert_double_lt(rel1(loss, ce_ref(x, &cc)), 1e-6);
        th_numeric_grad(ce_ref, x, count, 1e-5, &cc, fd);
        worst = fmax(worst, th_rel_err(g, fd, count));
    }
    printf("losses: cross_entropy     max relative gradient error vs central differences %.2e\n",
           worst);
    ck_assert_double_lt(worst, GRAD_TOL);
    free(logits), free(g), free(x), free(fd);
}
END_TEST

START_TEST(cross_entropy_extremes)
{
    /* one pixel per image: the label's logit is -1e4, another is +1e4 */
    const float logits[2 * 3] = {-1e4f, 1e4f, 0, 1e4f, -1e4f, 1e4f};
    const uint8_t labels[2] = {0, 1};
    float g[6], loss;
    L_OK(doubt_losses_cross_entropy(2, 3, 1, 1, logits, labels, NULL, &loss, g, &terr));
    ck_assert(isfinite(loss) && all_finite(g, 6));
    ck_assert_double_lt(rel1(loss, 2e4 + log(2.0) / 2), 1e-6);
    /* all ignored, or all weights of the present classes zero: 0 */
    const uint8_t ignored[2] = {255, 255};
    const float zero_w[3] = {0, 0, 1};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 6; k++)
            g[k] = NAN;
        L_OK(doubt_losses_cross_entropy(2, 3, 1, 1, logits, i ? labels : ignored, i ? zero_w : NULL,
                                        &loss, g, &terr));
        ck_assert(loss == 0 && all_zero(g, 6));
    }
}
END_TEST

START_TEST(cross_entropy_errors)
{
    enum { N = 2, C = 8, H = 3, W = 5 };
    float logits[N * C * H * W] = {0}, loss;
    uint8_t labels[N * H * W] = {0};
    doubt_error err = {{0}};
    labels[(1 * H + 2) * W + 3] = 9;
    labels[(1 * H + 2) * W + 4] = 200; /* later in n,h,w order: not the one named */
    ck_assert_int_eq(
        doubt_losses_cross_entropy(N, C, H, W, logits, labels, NULL, &loss, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "label 9 at pixel n=1 h=2 w=3"), "%s", err.msg);
    labels[(1 * H + 2) * W + 3] = 255;
    labels[(1 * H + 2) * W + 4] = 7;
    L_OK(doubt_losses_cross_entropy(N, C, H, W, logits, labels, NULL, &loss, NULL, &terr));
    ck_assert_int_eq(
        doubt_losses_cross_entropy(N, C, 0, W, logits, labels, NULL, &loss, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "h=0"));
    ck_assert_int_eq(doubt_losses_cross_entropy(N, C, H, W, NULL, labels, NULL, &loss, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "logits is NULL"));
    ck_assert_int_eq(
        doubt_losses_cross_entropy(N, 255, H, W, logits, labels, NULL, &loss, NULL, &err),
        DOUBT_ERR_ARG);
    float weight[C] = {1, 1, -1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(
        doubt_losses_cross_entropy(N, C, H, W, logits, labels, weight, &loss, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "class weight 2"));
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * attenuated classification */

typedef struct {
    int64_t n, c, h, w;
    int samples;
    const uint8_t *labels;
    double *eps; /* [N,T,C,H,W], drawn at the index losses.h documents */
} attn_case;

static void attn_draw(attn_case *ac, doubt_rng_key key)
{
    const int64_t total = ac->n * ac->samples * ac->c * ac->h * ac->w;
    ac->eps = malloc(total * sizeof *ac->eps);
    for (int64_t i = 0; i < total; i++)
        ac->eps[i] = doubt_rng_normal(key, (uint64_t)i);
}

/* x = [logits (N·C·H·W), log_var (N·H·W)]; naive -log(mean_t exp x̂_y / Σ_k exp x̂_k) */
static double attn_ref(const double *x, void *user)
{
    const attn_case *ac = user;
    const int64_t C = ac->c, T = ac->samples, hw = ac->h * ac->w;
    const double *s = x + ac->n * C * hw;
    double sum = 0;
    int valid = 0;
    for (int64_t ni = 0; ni < ac->n; ni++)
        for (int64_t i = 0; i < hw; i++) {
            const int y = ac->labels[ni * hw + i];
            if (y == DOUBT_LABEL_IGNORE)
                continue;
            valid++;
            double mean = 0;
            for (int64_t t = 0; t < T; t++) {
                double z = 0, num = 0;
                for (int64_t k = 0; k < C; k++) {
                    const double e = ac->eps[((ni * T + t) * C + k) * hw + i];
                    const double v = exp(x[(ni * C + k) * hw + i] + exp(0.5 * s[ni * hw + i]) * e);
                    z += v;
                    if (k == y)
                        num = v;
                }
                mean += num / z / T;
            }
            sum -= log(mean);
        }
    return valid ? sum / valid : 0;
}

START_TEST(attenuated_gradients)
{
    /* w = 70 spans two noise tiles of the implementation */
    const int64_t n = 2, c = 3, h = 2, w = 70, nf = n * c * h * w, ns = n * h * w;
    float *f, *s, *gf = malloc(nf * sizeof *gf), *gs = malloc(ns * sizeof *gs);
    double *df = fill_pair(&f, nf, 31, -3, 3), *ds = fill_pair(&s, ns, 32, -2, 2);
    double *x = malloc((nf + ns) * sizeof *x), *fd = malloc((nf + ns) * sizeof *fd);
    memcpy(x, df, nf * sizeof *x);
    memcpy(x + nf, ds, ns * sizeof *x);
    uint8_t *labels = malloc(ns);
    random_labels(labels, ns, c, 33, 0.15f);
    const doubt_rng_key key = {.seed = 99, .stream = 5, .layer = DOUBT_LOSSES_RNG_LAYER};
    double worst = 0;
    const int samples[] = {1, 4};
    for (int i = 0; i < 2; i++) {
        attn_case ac = {n, c, h, w, samples[i], labels, NULL};
        attn_draw(&ac, key);
        float loss;
        L_OK(doubt_losses_attenuated_ce(n, c, h, w, ac.samples, f, s, labels, key, &loss, gf, gs,
                                        &terr));
        ck_assert_double_lt(rel1(loss, attn_ref(x, &ac)), 1e-6);
        th_numeric_grad(attn_ref, x, nf + ns, 1e-5, &ac, fd);
        const double ef = th_rel_err(gf, fd, nf), es = th_rel_err(gs, fd + nf, ns);
        printf(
            "losses: attenuated T=%d     max relative gradient error: logits %.2e, log_var %.2e\n",
            ac.samples, ef, es);
        worst = fmax(worst, fmax(ef, es));
        free(ac.eps);
    }
    ck_assert_double_lt(worst, GRAD_TOL);
    free(f), free(s), free(gf), free(gs), free(df), free(ds), free(x), free(fd), free(labels);
}
END_TEST

/* σ → 0 (s = -30): the noise vanishes and the loss is the cross-entropy, ∂/∂s ≈ 0. */
START_TEST(attenuated_is_cross_entropy_without_noise)
{
    const int64_t n = 2, c = 6, h = 5, w = 9, nf = n * c * h * w, ns = n * h * w;
    float *f = malloc(nf * sizeof *f), *s = malloc(ns * sizeof *s);
    float *ga = malloc(nf * sizeof *ga), *gc = malloc(nf * sizeof *gc),
          *gs = malloc(ns * sizeof *gs);
    uint8_t *labels = malloc(ns);
    th_fill(f, nf, 41, -5, 5);
    random_labels(labels, ns, c, 42, 0.1f);
    for (int64_t i = 0; i < ns; i++)
        s[i] = -30;
    const doubt_rng_key key = {.seed = 1, .stream = 2, .layer = DOUBT_LOSSES_RNG_LAYER};
    float la, lc;
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, 8, f, s, labels, key, &la, ga, gs, &terr));
    L_OK(doubt_losses_cross_entropy(n, c, h, w, f, labels, NULL, &lc, gc, &terr));
    ck_assert_double_lt(rel1(la, lc), 1e-5);
    double gmax = 0, dmax = 0, smax = 0;
    for (int64_t i = 0; i < nf; i++) {
        gmax = fmax(gmax, fabs(gc[i]));
        dmax = fmax(dmax, fabs(ga[i] - gc[i]));
    }
    for (int64_t i = 0; i < ns; i++)
        smax = fmax(smax, fabs(gs[i]));
    ck_assert_double_lt(dmax, 1e-5 * gmax);
    ck_assert_double_lt(smax, 1e-7);
    free(f), free(s), free(ga), free(gc), free(gs), free(labels);
}
END_TEST

START_TEST(attenuated_extremes)
{
    const int64_t n = 1, c = 4, h = 3, w = 4, nf = n * c * h * w, ns = n * h * w;
    float f[48], s[12], gf[48], gs[12], loss;
    uint8_t labels[12];
    for (int64_t i = 0; i < nf; i++)
        f[i] = (i * 7 % 3 == 0) ? 1e4f : (i % 2 ? -1e4f : 0);
    static const float svals[3] = {-30, 30, 0};
    for (int64_t i = 0; i < ns; i++) {
        s[i] = svals[i % 3];
        labels[i] = (uint8_t)(i % c);
    }
    const doubt_rng_key key = {.seed = 3, .stream = 4, .layer = DOUBT_LOSSES_RNG_LAYER};
    for (int samples = 1; samples <= 16; samples *= 4) {
        L_OK(doubt_losses_attenuated_ce(n, c, h, w, samples, f, s, labels, key, &loss, gf, gs,
                                        &terr));
        ck_assert(isfinite(loss) && all_finite(gf, nf) && all_finite(gs, ns));
    }
    memset(labels, DOUBT_LABEL_IGNORE, sizeof labels);
    for (int64_t i = 0; i < nf; i++)
        gf[i] = NAN;
    for (int64_t i = 0; i < ns; i++)
        gs[i] = NAN;
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, 3, f, s, labels, key, &loss, gf, gs, &terr));
    ck_assert(loss == 0 && all_zero(gf, nf) && all_zero(gs, ns));
}
END_TEST

START_TEST(attenuated_noise_follows_key)
{
    const int64_t n = 1, c = 3, h = 4, w = 4, nf = n * c * h * w, ns = n * h * w;
    float f[48], s[16], a, b, again;
    uint8_t labels[16];
    th_fill(f, nf, 51, -2, 2);
    th_fill(s, ns, 52, 0, 1);
    random_labels(labels, ns, c, 53, 0);
    doubt_rng_key key = {.seed = 8, .stream = 100, .layer = DOUBT_LOSSES_RNG_LAYER};
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, 4, f, s, labels, key, &a, NULL, NULL, &terr));
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, 4, f, s, labels, key, &again, NULL, NULL, &terr));
    key.stream = 101;
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, 4, f, s, labels, key, &b, NULL, NULL, &terr));
    ck_assert(a == again);
    ck_assert(a != b);
}
END_TEST

/* The loss's lane noise is doubt_rng_normal's, bit for bit: at block-unaligned starts and
 * odd counts, across the 2^32-block boundary of the counter, and over a million draws. */
START_TEST(attenuated_noise_is_rng_normal)
{
    static const uint64_t firsts[] = {0, 1, 2, 3, 5, 63, 64, 65, 1000003, (1ull << 34) - 7};
    static const int64_t counts[] = {1, 2, 3, 4, 5, 63, 64, 65, 129, 1000};
    static const doubt_rng_key keys[] = {{.seed = 0, .stream = 0, .layer = 0},
                                         {.seed = 0x123456789abcdefull, .stream = 77,
                                          .layer = DOUBT_LOSSES_RNG_LAYER},
                                         {.seed = 5, .stream = 0xfedcba9876ull << 20, .layer = 9}};
    float got[1000];
    long checked = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                losses_normal_fill(keys[k], firsts[f], counts[c], got);
                for (int64_t i = 0; i < counts[c]; i++, checked++) {
                    const float want = doubt_rng_normal(keys[k], firsts[f] + (uint64_t)i);
                    ck_assert_msg(memcmp(&got[i], &want, sizeof want) == 0,
                                  "key %zu index %llu: lane noise %.9g, doubt_rng_normal %.9g", k,
                                  (unsigned long long)(firsts[f] + (uint64_t)i), (double)got[i],
                                  (double)want);
                }
            }
    enum { MANY = 1 << 20 };
    float *lanes = malloc(MANY * sizeof *lanes), *ref = malloc(MANY * sizeof *ref);
    ck_assert(lanes && ref);
    losses_normal_fill(keys[1], 12345, MANY, lanes);
    doubt_rng_normal_fill(keys[1], 12345, MANY, ref);
    long differ = 0;
    for (long i = 0; i < MANY; i++)
        differ += memcmp(&lanes[i], &ref[i], sizeof ref[i]) != 0;
    printf("  lane noise vs doubt_rng_normal: %ld + %d draws, %ld differ\n", checked, MANY, differ);
    ck_assert_int_eq(differ, 0);
    free(lanes);
    free(ref);
}
END_TEST

/* rng.c's Box-Muller with libm, written out as the reference for the lane code */
static void libm_box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    const double u1 = ((double)(a >> 8) + 1.0) * (1.0 / 16777216.0);
    const double u2 = (double)(b >> 8) * (1.0 / 16777216.0);
    const double r = sqrt(-2.0 * log(u1)), theta = 6.283185307179586 * u2;
    *z0 = (float)(r * cos(theta));
    *z1 = (float)(r * sin(theta));
}

/* Every pair the lane Box-Muller is sure of equals libm's, at the edges (u1 = 1 and 2^-24,
 * u2 = 0 and the quadrant points and the midpoints where the quadrant changes) and over
 * random words; and it is sure of nearly all (else the lanes would buy nothing). */
START_TEST(box_muller_lanes_match_libm)
{
    static const uint32_t u1s[] = {0, 1, 2, 3, 1u << 23, (1u << 24) - 2, (1u << 24) - 1};
    static const uint32_t u2s[] = {0,
                                   1,
                                   (1u << 21) - 1,
                                   1u << 21,
                                   (1u << 21) + 1,
                                   (1u << 22) - 1,
                                   1u << 22,
                                   (1u << 22) + 1,
                                   3u << 21,
                                   1u << 23,
                                   (1u << 23) + 1,
                                   3u << 22,
                                   (3u << 22) + 1,
                                   (7u << 21) - 1,
                                   7u << 21,
                                   (1u << 24) - 1};
    enum { EDGES = 7 * 16, RANDOM = 1 << 20 };
    uint32_t a[LOSSES_NOISE_PAIRS], b[LOSSES_NOISE_PAIRS];
    float z0[LOSSES_NOISE_PAIRS], z1[LOSSES_NOISE_PAIRS];
    int sure[LOSSES_NOISE_PAIRS];
    uint32_t state = 2463534242u;
    long unsure = 0;
    for (long start = 0; start < EDGES + RANDOM; start += LOSSES_NOISE_PAIRS) {
        for (int i = 0; i < LOSSES_NOISE_PAIRS; i++) {
            const long p = start + i;
            if (p < EDGES) {
                a[i] = u1s[p / 16] << 8 | (uint32_t)(p & 0xff);
                b[i] = u2s[p % 16] << 8 | (uint32_t)(p * 7 & 0xff);
            } else {
                state ^= state << 13, state ^= state >> 17, state ^= state << 5;
                a[i] = state;
                state ^= state << 13, state ^= state >> 17, state ^= state << 5;
                b[i] = state;
            }
        }
        losses_box_muller_lanes(a, b, LOSSES_NOISE_PAIRS, z0, z1, sure);
        for (int i = 0; i < LOSSES_NOISE_PAIRS; i++) {
            float w0, w1;
            libm_box_muller(a[i], b[i], &w0, &w1);
            if (!sure[i]) {
                unsure++;
                continue;
            }
            ck_assert_msg(memcmp(&z0[i], &w0, sizeof w0) == 0 && memcmp(&z1[i], &w1, sizeof w1) == 0,
                          "words %08x %08x: lanes (%.9g, %.9g), libm (%.9g, %.9g)", a[i], b[i],
                          (double)z0[i], (double)z1[i], (double)w0, (double)w1);
        }
    }
    printf("  lane Box-Muller: %d pairs, %ld left to libm\n", EDGES + RANDOM, unsure);
    ck_assert_msg(unsure < (EDGES + RANDOM) / 1000, "%ld pairs unsure", unsure);
}
END_TEST

/* The softmaxes' exp against libm's over [-708, 0] (every binade and a fine sweep), and
 * its edges: 1 at ±0, a tiny positive number below -708, NaN for NaN and -Inf. */
START_TEST(exp_nonpositive_matches_libm)
{
    double worst = 0, worst_x = 0;
    for (long i = 0; i <= 2000000; i++) {
        const double x = -708.0 * (double)i / 2000000.0;
        const double got = losses_exp_nonpositive(x), want = exp(x);
        const double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel, worst_x = x;
    }
    for (double x = -1e-300; x > -708; x *= 1.7) {
        const double rel = fabs(losses_exp_nonpositive(x) - exp(x)) / exp(x);
        if (rel > worst)
            worst = rel, worst_x = x;
    }
    printf("  exp_nonpositive vs libm: worst relative error %.3g (%.3g ulp) at x = %.17g\n",
           worst, worst / 2.220446049250313e-16, worst_x);
    ck_assert_msg(worst < 4 * 2.220446049250313e-16, "off by %g at %.17g", worst, worst_x);
    ck_assert(losses_exp_nonpositive(0.0) == 1.0 && losses_exp_nonpositive(-0.0) == 1.0);
    const double below[] = {-708.5, -745.2, -1e4, -1e300};
    for (size_t i = 0; i < sizeof below / sizeof below[0]; i++) {
        const double e = losses_exp_nonpositive(below[i]);
        ck_assert_msg(e >= 0 && e < 4e-308, "exp(%g) gave %g", below[i], e);
    }
    ck_assert(isnan(losses_exp_nonpositive(NAN)));
    ck_assert(isnan(losses_exp_nonpositive(-INFINITY)));
}
END_TEST

START_TEST(attenuated_errors)
{
    enum { N = 2, C = 8, H = 3, W = 5 };
    float f[N * C * H * W] = {0}, s[N * H * W] = {0}, loss;
    uint8_t labels[N * H * W] = {0};
    doubt_error err = {{0}};
    const doubt_rng_key key = {0};
    labels[(0 * H + 1) * W + 4] = 8;
    ck_assert_int_eq(
        doubt_losses_attenuated_ce(N, C, H, W, 2, f, s, labels, key, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "attenuated_ce: label 8 at pixel n=0 h=1 w=4"), "%s", err.msg);
    labels[(0 * H + 1) * W + 4] = 1;
    ck_assert_int_eq(
        doubt_losses_attenuated_ce(N, C, H, W, 0, f, s, labels, key, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "0 samples"));
    ck_assert_int_eq(
        doubt_losses_attenuated_ce(0, C, H, W, 2, f, s, labels, key, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_int_eq(
        doubt_losses_attenuated_ce(N, C, H, W, 2, f, NULL, labels, key, &loss, NULL, NULL, &err),
        DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "log_var is NULL"));
    ck_assert_int_eq(
        doubt_losses_attenuated_ce(N, C, H, W, 2, f, s, labels, key, NULL, NULL, NULL, &err),
        DOUBT_ERR_ARG);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * determinism: bit-identical results for 1, 2, 3 and 7 threads */

START_TEST(same_bits_any_thread_count)
{
    const int64_t n = 3, c = 5, h = 37, w = 71, nf = n * c * h * w, ns = n * h * w;
    float *f = malloc(nf * sizeof *f), *s = malloc(ns * sizeof *s), *y = malloc(ns * sizeof *y);
    uint8_t *labels = malloc(ns);
    th_fill(f, nf, 61, -6, 6);
    th_fill(s, ns, 62, -3, 3);
    th_fill(y, ns, 63, 0, 50);
    random_labels(labels, ns, c, 64, 0.1f);
    const doubt_rng_key key = {.seed = 5, .stream = 6, .layer = DOUBT_LOSSES_RNG_LAYER};
    float *ref = NULL;
    const int64_t len = 5 + 2 * nf + 3 * ns;
    static const int threads[] = {1, 2, 3, 7};
    for (int i = 0; i < 4; i++) {
        omp_set_num_threads(threads[i]);
        float *out = malloc(len * sizeof *out);
        float *ga = out + 5, *gc = ga + nf, *gs = gc + nf, *gp = gs + ns, *gv = gp + ns;
        doubt_reg_loss reg;
        L_OK(doubt_losses_attenuated_ce(n, c, h, w, 5, f, s, labels, key, &out[0], ga, gs, &terr));
        L_OK(doubt_losses_cross_entropy(n, c, h, w, f, labels, NULL, &out[1], gc, &terr));
        L_OK(doubt_losses_regression(DOUBT_REG_GAUSSIAN, ns, f, s, y, NULL, 2.5, &reg, gp, gv,
                                     &terr));
        out[2] = reg.data, out[3] = reg.log_term, out[4] = reg.value;
        if (ref) {
            ck_assert_msg(memcmp(out, ref, len * sizeof *out) == 0, "%d threads differ from 1",
                          threads[i]);
            free(out);
        } else {
            ref = out;
        }
    }
    omp_set_num_threads(omp_get_num_procs());
    free(ref), free(f), free(s), free(y), free(labels);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * multitask */

static const doubt_task_kind mt_kinds[5] = {DOUBT_TASK_REGRESSION, DOUBT_TASK_CLASSIFICATION,
                                            DOUBT_TASK_HETERO_GAUSSIAN, DOUBT_TASK_HETERO_LAPLACE,
                                            DOUBT_TASK_CLASSIFICATION};

/* w_k(s_k), written out per kind */
static double mt_weight_ref(doubt_task_kind kind, double s)
{
    switch (kind) {
    case DOUBT_TASK_REGRESSION: return 0.5 * exp(-s);
    case DOUBT_TASK_CLASSIFICATION: return exp(-s);
    case DOUBT_TASK_HETERO_GAUSSIAN: return exp(-s);
    case DOUBT_TASK_HETERO_LAPLACE: return exp(-0.5 * s);
    }
    return NAN;
}

/* x = [D (5), R (5), s (5)]: Σ w_k(s_k)·D_k + R_k + ½·s_k */
static double mt_ref(const double *x, void *user)
{
    (void)user;
    double total = 0;
    for (int k = 0; k < 5; k++)
        total += mt_weight_ref(mt_kinds[k], x[10 + k]) * x[k] + x[5 + k] + 0.5 * x[10 + k];
    return total;
}

START_TEST(multitask_gradients_and_identities)
{
    /* tasks 2 and 3 are heteroscedastic with a negative NLL D + R */
    const float D[5] = {0.7f, 2.3f, 0.4f, 1.1f, 0.05f}, R[5] = {0, 0, -2.5f, -3.25f, 0};
    const float s[5] = {0.3f, -1.2f, 2.5f, -0.4f, 1.7f};
    float total, scale[5], gs[5];
    double x[15], fd[15];
    for (int k = 0; k < 5; k++)
        x[k] = D[k], x[5 + k] = R[k], x[10 + k] = s[k];
    L_OK(doubt_losses_multitask(5, mt_kinds, D, R, s, &total, scale, gs, &terr));
    ck_assert_double_lt(rel1(total, mt_ref(x, NULL)), 1e-6);
    th_numeric_grad(mt_ref, x, 15, 1e-6, NULL, fd);
    const double worst = fmax(th_rel_err(scale, fd, 5), th_rel_err(gs, fd + 10, 5));
    printf("losses: multitask         max relative gradient error vs central differences %.2e\n",
           worst);
    ck_assert_double_lt(worst, GRAD_TOL);
    for (int k = 0; k < 5; k++) {
        ck_assert_double_lt(fabs(fd[5 + k] - 1), 1e-9); /* the log terms enter unweighted */
        /* the weight train.c passes to a task's regression loss is scale[k] */
        ck_assert(scale[k] == (float)doubt_losses_task_weight(mt_kinds[k], s[k]));
        ck_assert_double_lt(rel1(doubt_losses_task_weight(mt_kinds[k], s[k]),
                                 mt_weight_ref(mt_kinds[k], s[k])),
                            1e-15);
    }

    /* with s_k held fixed the total is the hand-weighted sum Σ w_k·D_k plus the constants
     * Σ R_k + ½Σ s_k */
    float w[5], fixed, fscale[5];
    double constant = 0;
    for (int k = 0; k < 5; k++) {
        w[k] = (float)mt_weight_ref(mt_kinds[k], s[k]);
        constant += R[k] + 0.5 * s[k];
    }
    L_OK(doubt_losses_multitask_fixed(5, w, D, &fixed, fscale, &terr));
    ck_assert_double_lt(fabs(total - (fixed + constant)), 1e-6 * fmax(1, fabs(total)));
    for (int k = 0; k < 5; k++) {
        ck_assert(fscale[k] == w[k]);
        ck_assert_double_lt(rel1(scale[k], w[k]), 1e-6);
    }
    const float zero[5] = {0};
    L_OK(doubt_losses_multitask(5, mt_kinds, D, NULL, zero, &total, NULL, NULL, &terr));
    ck_assert_double_lt(rel1(total, 0.5 * D[0] + D[1] + D[2] + D[3] + D[4]), 1e-6);
    float with_zeros;
    L_OK(doubt_losses_multitask(5, mt_kinds, D, zero, zero, &with_zeros, NULL, NULL, &terr));
    ck_assert(with_zeros == total); /* log_term NULL means all 0 */

    /* the minimum over s_k of w(s_k)·D + ½·s_k: where w·D = ½ (exp(-s) kinds) or 1 (Laplace),
     * whatever the sign of D + R */
    for (int k = 0; k < 5; k++) {
        const double a = mt_kinds[k] == DOUBT_TASK_HETERO_LAPLACE ? 0.5 : 1;
        const double c = mt_kinds[k] == DOUBT_TASK_REGRESSION ? 0.5 : 1;
        float best = (float)(log(2 * a * c * D[k]) / a), g, t;
        L_OK(doubt_losses_multitask(1, &mt_kinds[k], &D[k], &R[k], &best, &t, NULL, &g, &terr));
        ck_assert_double_lt(fabs(g), 1e-6);
        for (int sign = -1; sign <= 1; sign += 2) {
            const float moved = best + sign * 0.1f;
            float other;
            L_OK(doubt_losses_multitask(1, &mt_kinds[k], &D[k], &R[k], &moved, &other, NULL, NULL,
                                        &terr));
            ck_assert_msg(other > t, "task %d: s_k %+g: %.9g <= %.9g", k, sign * 0.1, other, t);
        }
    }

    const float extreme[5] = {-30, 30, -30, 30, -30};
    L_OK(doubt_losses_multitask(5, mt_kinds, D, R, extreme, &total, scale, gs, &terr));
    ck_assert(isfinite(total) && all_finite(scale, 5) && all_finite(gs, 5));

    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_losses_multitask(0, mt_kinds, D, R, s, &total, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_int_eq(doubt_losses_multitask(5, mt_kinds, D, R, NULL, &total, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "log_var is NULL"));
    ck_assert_int_eq(doubt_losses_multitask(5, mt_kinds, NULL, R, s, &total, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "data is NULL"));
    /* a whole NLL passed as the data term: refused, the bound below needs D >= 0 */
    const float nll[5] = {0.7f, 2.3f, -2.1f, 1.1f, 0.05f};
    ck_assert_int_eq(doubt_losses_multitask(5, mt_kinds, nll, NULL, s, &total, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "multitask: task 2 data term -2.1 < 0"), "%s", err.msg);
    const doubt_task_kind unknown[1] = {(doubt_task_kind)7};
    ck_assert_int_eq(doubt_losses_multitask(1, unknown, D, R, s, &total, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "task 0 has unknown kind 7"));
    ck_assert(isnan(doubt_losses_task_weight((doubt_task_kind)7, 0)));
    const float nan_data[1] = {NAN};
    ck_assert_int_eq(doubt_losses_multitask(1, mt_kinds, nan_data, NULL, s, &total, NULL, NULL,
                                            &err),
                     DOUBT_ERR_NUMERIC);
    ck_assert_int_eq(doubt_losses_multitask_fixed(5, NULL, D, &total, NULL, &err), DOUBT_ERR_ARG);

    ck_assert_int_eq(doubt_losses_task_of(DOUBT_REG_L1), DOUBT_TASK_REGRESSION);
    ck_assert_int_eq(doubt_losses_task_of(DOUBT_REG_L2), DOUBT_TASK_REGRESSION);
    ck_assert_int_eq(doubt_losses_task_of(DOUBT_REG_GAUSSIAN), DOUBT_TASK_HETERO_GAUSSIAN);
    ck_assert_int_eq(doubt_losses_task_of(DOUBT_REG_LAPLACE), DOUBT_TASK_HETERO_LAPLACE);
}
END_TEST

/* The whole learned objective of a segmentation + depth step, as train.c assembles it: the
 * depth regression with data_weight = w(s_depth), then doubt_losses_multitask on the data and
 * log terms. Checked against central differences of the objective written as the likelihood
 * it is (Gaussian with variance σ_k²·σ², Laplace with scale σ_k·b, softmax temperature σ_k²
 * for segmentation), in every input: pred, s, s_seg, s_depth and L_seg. */
typedef struct {
    doubt_reg_kind kind;
    int64_t n;
    const float *target;
} obj_case;

/* x = [pred (n), s (n), s_seg, s_depth, L_seg] */
static double obj_ref(const double *x, void *user)
{
    const obj_case *oc = user;
    const int64_t n = oc->n;
    const double s_seg = x[2 * n], s_d = x[2 * n + 1], seg = x[2 * n + 2];
    double sum_d = 0, sum_s = 0;
    int valid = 0;
    for (int64_t i = 0; i < n; i++) {
        if (oc->target[i] == 0)
            continue;
        valid++;
        const double r = x[i] - oc->target[i], s = x[n + i];
        switch (oc->kind) {
        case DOUBT_REG_L1: sum_d += fabs(r); break;
        case DOUBT_REG_L2: sum_d += r * r; break;
        case DOUBT_REG_GAUSSIAN: sum_d += exp(-s) * r * r, sum_s += s; break;
        case DOUBT_REG_LAPLACE: sum_d += exp(-s) * fabs(r), sum_s += s; break;
        }
    }
    double depth = 0;
    switch (oc->kind) {
    case DOUBT_REG_L1:
    case DOUBT_REG_L2: depth = 0.5 * exp(-s_d) * sum_d / valid; break;
    case DOUBT_REG_GAUSSIAN: depth = 0.5 * exp(-s_d) * sum_d / valid + 0.5 * sum_s / valid; break;
    case DOUBT_REG_LAPLACE: depth = exp(-0.5 * s_d) * sum_d / valid + sum_s / valid; break;
    }
    return exp(-s_seg) * seg + 0.5 * s_seg + depth + 0.5 * s_d;
}

START_TEST(objective_gradients)
{
    const int64_t n = 40, nx = 2 * n + 3;
    float *pred, *target, *log_var, lap_log_var[40];
    double *x = malloc(nx * sizeof *x), *fd = malloc(nx * sizeof *fd);
    double *dp = fill_pair(&pred, n, 71, 1, 5);
    free(fill_pair(&target, n, 72, -0.2f, 0.2f));
    double *ds = fill_pair(&log_var, n, 73, -5, -2);
    for (int64_t i = 0; i < n; i++)
        lap_log_var[i] = 0.5f * log_var[i]; /* log b near log |r| = ½·log r² */
    for (int64_t i = 0; i < n; i++) {
        /* near-exact depth (|r| <= 0.2, s near log r²): the depth NLL is negative */
        target[i] = i % 9 == 4 ? 0 : (float)(pred[i] + target[i]);
        if (fabs(pred[i] - target[i]) < 1e-2)
            target[i] += 0.05f; /* away from the L1 kink */
    }
    memcpy(x, dp, n * sizeof *x);
    const float task_log_var[2] = {0.4f, -1.3f}, seg = 0.8f;
    x[2 * n] = task_log_var[0], x[2 * n + 1] = task_log_var[1], x[2 * n + 2] = seg;
    static const char *names[] = {"l1", "l2", "gaussian", "laplace"};
    float gp[40], gs[40];
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++) {
        const doubt_task_kind kinds[2] = {DOUBT_TASK_CLASSIFICATION, doubt_losses_task_of(kind)};
        const float *s = kind == DOUBT_REG_LAPLACE ? lap_log_var : log_var;
        for (int64_t i = 0; i < n; i++)
            x[n + i] = s[i];
        doubt_reg_loss depth;
        L_OK(doubt_losses_regression(kind, n, pred, s, target, NULL,
                                     doubt_losses_task_weight(kinds[1], task_log_var[1]), &depth,
                                     gp, gs, &terr));
        const float data[2] = {seg, depth.data}, log_term[2] = {0, depth.log_term};
        float total, scale[2], gt[2];
        L_OK(doubt_losses_multitask(2, kinds, data, log_term, task_log_var, &total, scale, gt,
                                    &terr));
        obj_case oc = {kind, n, target};
        const double want = obj_ref(x, &oc);
        if (kind >= DOUBT_REG_GAUSSIAN)
            ck_assert_msg(depth.data + depth.log_term < 0, "%s NLL %g", names[kind],
                          depth.data + depth.log_term);
        ck_assert_double_lt(fabs(total - want), 1e-6 * fmax(1, fabs(want)));
        th_numeric_grad(obj_ref, x, nx, 1e-6, &oc, fd);
        double worst = fmax(th_rel_err(gp, fd, n), th_rel_err(gt, fd + 2 * n, 2));
        worst = fmax(worst, th_rel_err(&scale[0], fd + 2 * n + 2, 1));
        if (kind >= DOUBT_REG_GAUSSIAN)
            worst = fmax(worst, th_rel_err(gs, fd + n, n));
        printf("losses: objective %-9s max relative gradient error vs central differences %.2e "
               "(depth NLL %+.3f)\n",
               names[kind], worst, depth.data + depth.log_term);
        ck_assert_msg(worst < GRAD_TOL, "%s: gradient error %g", names[kind], worst);
    }
    free(x), free(fd), free(dp), free(ds), free(pred), free(target), free(log_var);
}
END_TEST

/* Near-exact depth, so the depth NLL is negative from the first step: the per-pixel s and
 * both task log-variances s_k are trained for 2000 steps with the project's Adam (lr 1e-2,
 * cosine decay), as train.c combines them. The learned objective must stay above its
 * analytic infimum at every step, with σ_k inside [e^-5, e^5], and settle at that infimum.
 * The infimum, with the residuals r held (ŷ is not trained: with ŷ free the per-pixel NLL
 * itself is unbounded as r -> 0, which no task weighting changes): for segmentation with a
 * fixed loss L, min_s exp(-s)·L + ½·s = ½ + ½·log 2L; for depth, with t_i = s_k + s_i
 * (Gaussian) or ½·s_k + s_i (Laplace) the objective is mean(½·exp(-t)·r² + ½·t) or
 * mean(exp(-t)·|r| + t), so the infimum is mean(½ + ½·log r²) or mean(1 + log |r|). Weighting
 * the whole NLL instead (the old ½·exp(-s_k)·NLL + ½·s_k) has ∂/∂s_k > ½ once the NLL is
 * negative, and s_k runs to -∞. */
START_TEST(objective_bounded_below_when_nll_negative)
{
    enum { N = 64, STEPS = 2000 };
    const float seg = 0.3f; /* a segmentation loss the step does not change */
    float pred[N], target[N], r[N];
    th_fill(target, N, 81, 1, 40);
    th_fill(r, N, 82, 0.01f, 0.1f);
    for (int i = 0; i < N; i++)
        pred[i] = target[i] + (i % 2 ? r[i] : -r[i]);
    static const doubt_reg_kind kinds[2] = {DOUBT_REG_GAUSSIAN, DOUBT_REG_LAPLACE};
    static const char *names[2] = {"gaussian", "laplace"};
    doubt_ctx *ctx = th_ctx(1);
    for (int ki = 0; ki < 2; ki++) {
        const doubt_reg_kind kind = kinds[ki];
        const doubt_task_kind tasks[2] = {DOUBT_TASK_CLASSIFICATION, doubt_losses_task_of(kind)};
        double lower = 0;
        for (int i = 0; i < N; i++) {
            const double ri = (double)pred[i] - (double)target[i];
            lower += (kind == DOUBT_REG_GAUSSIAN ? 0.5 + 0.5 * log(ri * ri) : 1 + log(fabs(ri)));
        }
        lower = lower / N + 0.5 + 0.5 * log(2.0 * seg);
        const int64_t n = N, two = 2;
        doubt_tensor s, gs, sk, gsk;
        TH_OK(ctx, doubt_tensor_init_plain(ctx, &s, 1, &n, DOUBT_TENSOR_OWNED, "depth.log_var"));
        TH_OK(ctx, doubt_tensor_init_plain(ctx, &gs, 1, &n, DOUBT_TENSOR_OWNED, "grad"));
        TH_OK(ctx, doubt_tensor_init_plain(ctx, &sk, 1, &two, DOUBT_TENSOR_OWNED, "task.log_var"));
        TH_OK(ctx, doubt_tensor_init_plain(ctx, &gsk, 1, &two, DOUBT_TENSOR_OWNED, "grad"));
        for (int i = 0; i < N; i++) /* σ (or b) larger than |r|, yet the NLL is negative */
            s.data[i] = kind == DOUBT_REG_GAUSSIAN ? -4.0f : -2.0f;
        sk.data[0] = sk.data[1] = 0;
        const doubt_optim_desc desc = {.kind = DOUBT_OPTIM_ADAM, .lr = 1e-2f, .total_steps = STEPS};
        doubt_optim *opt;
        TH_OK(ctx, doubt_optim_create(ctx, &desc, &opt));
        TH_OK(ctx, doubt_optim_add(ctx, opt, "depth.log_var", &s, &gs, 0));
        TH_OK(ctx, doubt_optim_add(ctx, opt, "task.log_var", &sk, &gsk, 0));
        doubt_reg_loss depth = {0};
        float total = NAN, first_nll = NAN;
        for (int step = 0; step < STEPS; step++) {
            L_OK(doubt_losses_regression(kind, N, pred, s.data, target, NULL,
                                         doubt_losses_task_weight(tasks[1], sk.data[1]), &depth,
                                         NULL, gs.data, &terr));
            const float data[2] = {seg, depth.data}, log_term[2] = {0, depth.log_term};
            L_OK(doubt_losses_multitask(2, tasks, data, log_term, sk.data, &total, NULL, gsk.data,
                                        &terr));
            if (step == 0) {
                first_nll = depth.data + depth.log_term;
                ck_assert_msg(first_nll < 0, "%s: the NLL starts at %g", names[ki], first_nll);
            }
            ck_assert_msg(total >= lower - 1e-5 && fabsf(sk.data[0]) <= 10 &&
                              fabsf(sk.data[1]) <= 10,
                          "%s, step %d: total %.9g (infimum %.9g), s_seg %g, s_depth %g "
                          "(sigma_depth %g), depth NLL %g",
                          names[ki], step, total, lower, sk.data[0], sk.data[1],
                          expf(0.5f * sk.data[1]), depth.data + depth.log_term);
            TH_OK(ctx, doubt_optim_check_grads(ctx, opt));
            doubt_optim_update(opt);
        }
        const float nll = depth.data + depth.log_term;
        printf("losses: bounded below %-8s %d Adam steps: depth NLL %+.3f -> %+.3f, sigma_seg "
               "%.4f, sigma_depth %.4f, total %.7f (infimum %.7f)\n",
               names[ki], STEPS, first_nll, nll, expf(0.5f * sk.data[0]), expf(0.5f * sk.data[1]),
               total, lower);
        ck_assert_msg(nll < 0, "%s: NLL %g", names[ki], nll);
        ck_assert_msg(total - lower < 1e-4, "%s: total %.9g, infimum %.9g", names[ki], total,
                      lower);
        /* at the end both task variances are stationary: exp(-s_seg)·L = ½ and w·D = ½ or 1 */
        ck_assert_msg(fabsf(gsk.data[0]) < 1e-3 && fabsf(gsk.data[1]) < 1e-3,
                      "%s: d/ds_k = %g, %g", names[ki], gsk.data[0], gsk.data[1]);
        ck_assert_double_lt(fabs(sk.data[0] - log(2.0 * seg)), 1e-2);
        doubt_optim_destroy(opt);
        doubt_tensor_release(&s), doubt_tensor_release(&gs);
        doubt_tensor_release(&sk), doubt_tensor_release(&gsk);
    }
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------------------------------
 * golden values (tools/losses_golden.py) */

typedef struct {
    char name[64];
    int64_t count;
    double *v;
} gold_array;

typedef struct {
    const char *file;
    int narrays, nparams;
    gold_array arrays[128];
    char pname[16][32];
    unsigned long long pval[16];
} golden;

static golden *gold_load(const char *file)
{
    /* meson runs the suites in tests/ (workdir in tests/meson.build); by hand they may run
     * from the repository root */
    FILE *fp = fopen(file, "r");
    if (!fp && !strncmp(file, "tests/", 6))
        fp = fopen(file + 6, "r");
    ck_assert_msg(fp, "cannot open %s from the repository root or tests/", file);
    golden *g = calloc(1, sizeof *g);
    g->file = file;
    char tok[64];
    while (fscanf(fp, "%63s", tok) == 1) {
        if (tok[0] == '#') {
            int ch;
            while ((ch = fgetc(fp)) != EOF && ch != '\n')
                ;
        } else if (!strcmp(tok, "param")) {
            ck_assert_int_lt(g->nparams, 16);
            ck_assert_int_eq(fscanf(fp, "%31s %llu", g->pname[g->nparams], &g->pval[g->nparams]),
                             2);
            g->nparams++;
        } else {
            ck_assert_msg(!strcmp(tok, "array"), "%s: unexpected token %s", file, tok);
            ck_assert_int_lt(g->narrays, 128);
            gold_array *a = &g->arrays[g->narrays++];
            long long count;
            ck_assert_int_eq(fscanf(fp, "%63s %lld", a->name, &count), 2);
            a->count = count;
            a->v = malloc(count * sizeof *a->v);
            for (int64_t i = 0; i < count; i++)
                ck_assert_msg(fscanf(fp, "%lf", &a->v[i]) == 1, "%s: %s short", file, a->name);
        }
    }
    fclose(fp);
    return g;
}

static const double *gold_array_get(const golden *g, const char *name, int64_t count)
{
    for (int i = 0; i < g->narrays; i++)
        if (!strcmp(g->arrays[i].name, name)) {
            ck_assert_msg(g->arrays[i].count == count, "%s: %s has %lld values, want %lld", g->file,
                          name, (long long)g->arrays[i].count, (long long)count);
            return g->arrays[i].v;
        }
    ck_abort_msg("%s: no array %s", g->file, name);
    return NULL;
}

static unsigned long long gold_param(const golden *g, const char *name)
{
    for (int i = 0; i < g->nparams; i++)
        if (!strcmp(g->pname[i], name))
            return g->pval[i];
    ck_abort_msg("%s: no param %s", g->file, name);
    return 0;
}

static void gold_free(golden *g)
{
    for (int i = 0; i < g->narrays; i++)
        free(g->arrays[i].v);
    free(g);
}

static uint8_t *to_u8(const double *x, int64_t n)
{
    uint8_t *u = malloc(n);
    for (int64_t i = 0; i < n; i++)
        u[i] = (uint8_t)x[i];
    return u;
}

/* Compares one result with its golden: the normalised error is checked, and the largest
 * absolute and normalised differences are collected for the report. */
typedef struct {
    double abs, rel;
} gold_diff;

static void gold_check(gold_diff *d, const char *what, const float *got, const double *want,
                       int64_t n)
{
    double a = 0;
    for (int64_t i = 0; i < n; i++)
        a = fmax(a, fabs((double)got[i] - want[i]));
    const double r = n == 1 ? rel1(got[0], want[0]) : th_rel_err(got, want, n);
    d->abs = fmax(d->abs, a);
    d->rel = fmax(d->rel, r);
    ck_assert_msg(r < GOLD_TOL, "%s: normalised difference %g to golden", what, r);
}

START_TEST(golden_regression)
{
    golden *g = gold_load("tests/golden/losses/regression.txt");
    const int64_t n = (int64_t)gold_param(g, "count");
    float *pred = to_f(gold_array_get(g, "pred", n), n),
          *s = to_f(gold_array_get(g, "log_var", n), n);
    float *y = to_f(gold_array_get(g, "target", n), n);
    uint8_t *mask = to_u8(gold_array_get(g, "mask", n), n);
    const double data_weight = (float)gold_array_get(g, "data_weight", 1)[0];
    float *gp = malloc(n * sizeof *gp), *gs = malloc(n * sizeof *gs);
    doubt_reg_loss loss;
    static const char *names[] = {"l1", "l2", "gaussian", "laplace"};
    gold_diff d = {0, 0};
    char key[64], name[32];
    for (int kind = DOUBT_REG_L1; kind <= DOUBT_REG_LAPLACE; kind++)
        for (int m = 0; m < 2; m++)
            for (int weighted = 0; weighted < 2; weighted++) {
                snprintf(name, sizeof name, "%s%s%s", names[kind], m ? "_mask" : "",
                         weighted ? "_w" : "");
                L_OK(doubt_losses_regression(kind, n, pred, s, y, m ? mask : NULL,
                                             weighted ? data_weight : 1, &loss, gp, gs, &terr));
                snprintf(key, sizeof key, "%s.loss", name);
                gold_check(&d, key, &loss.value, gold_array_get(g, key, 1), 1);
                snprintf(key, sizeof key, "%s.data", name);
                gold_check(&d, key, &loss.data, gold_array_get(g, key, 1), 1);
                snprintf(key, sizeof key, "%s.log_term", name);
                gold_check(&d, key, &loss.log_term, gold_array_get(g, key, 1), 1);
                snprintf(key, sizeof key, "%s.grad_pred", name);
                gold_check(&d, key, gp, gold_array_get(g, key, n), n);
                if (kind >= DOUBT_REG_GAUSSIAN) {
                    snprintf(key, sizeof key, "%s.grad_log_var", name);
                    gold_check(&d, key, gs, gold_array_get(g, key, n), n);
                }
            }
    printf("losses: golden regression      max |diff| %.2e, normalised %.2e\n", d.abs, d.rel);
    free(pred), free(s), free(y), free(mask), free(gp), free(gs);
    gold_free(g);
}
END_TEST

START_TEST(golden_cross_entropy)
{
    golden *g = gold_load("tests/golden/losses/cross_entropy.txt");
    const int64_t n = gold_param(g, "n"), c = gold_param(g, "c"), h = gold_param(g, "h"),
                  w = gold_param(g, "w"), nf = n * c * h * w;
    float *f = to_f(gold_array_get(g, "logits", nf), nf);
    float *weight = to_f(gold_array_get(g, "weight", c), c);
    uint8_t *labels = to_u8(gold_array_get(g, "labels", n * h * w), n * h * w);
    float *gf = malloc(nf * sizeof *gf), loss;
    gold_diff d = {0, 0};
    L_OK(doubt_losses_cross_entropy(n, c, h, w, f, labels, NULL, &loss, gf, &terr));
    gold_check(&d, "plain.loss", &loss, gold_array_get(g, "plain.loss", 1), 1);
    gold_check(&d, "plain.grad_logits", gf, gold_array_get(g, "plain.grad_logits", nf), nf);
    L_OK(doubt_losses_cross_entropy(n, c, h, w, f, labels, weight, &loss, gf, &terr));
    gold_check(&d, "weighted.loss", &loss, gold_array_get(g, "weighted.loss", 1), 1);
    gold_check(&d, "weighted.grad_logits", gf, gold_array_get(g, "weighted.grad_logits", nf), nf);
    printf("losses: golden cross_entropy   max |diff| %.2e, normalised %.2e\n", d.abs, d.rel);
    free(f), free(weight), free(labels), free(gf);
    gold_free(g);
}
END_TEST

static void golden_attenuated(const char *file)
{
    golden *g = gold_load(file);
    const int64_t n = gold_param(g, "n"), c = gold_param(g, "c"), h = gold_param(g, "h"),
                  w = gold_param(g, "w"), nf = n * c * h * w, ns = n * h * w;
    const int samples = (int)gold_param(g, "samples");
    const doubt_rng_key key = {.seed = gold_param(g, "seed"),
                               .stream = gold_param(g, "stream"),
                               .layer = (uint32_t)gold_param(g, "layer")};
    /* the script's own Philox + Box-Muller must give the library's draws, bit for bit */
    const int64_t checks = samples * nf < 64 ? samples * nf : 64;
    const double *eps = gold_array_get(g, "eps_check", checks);
    for (int64_t i = 0; i < checks; i++)
        ck_assert_msg(doubt_rng_normal(key, (uint64_t)i) == (float)eps[i],
                      "%s: eps %lld: %.9g != %.9g", file, (long long)i,
                      doubt_rng_normal(key, (uint64_t)i), eps[i]);
    float *f = to_f(gold_array_get(g, "logits", nf), nf),
          *s = to_f(gold_array_get(g, "log_var", ns), ns);
    uint8_t *labels = to_u8(gold_array_get(g, "labels", ns), ns);
    float *gf = malloc(nf * sizeof *gf), *gs = malloc(ns * sizeof *gs), loss;
    gold_diff d = {0, 0};
    L_OK(doubt_losses_attenuated_ce(n, c, h, w, samples, f, s, labels, key, &loss, gf, gs, &terr));
    gold_check(&d, "loss", &loss, gold_array_get(g, "loss", 1), 1);
    gold_check(&d, "grad_logits", gf, gold_array_get(g, "grad_logits", nf), nf);
    gold_check(&d, "grad_log_var", gs, gold_array_get(g, "grad_log_var", ns), ns);
    printf("losses: golden attenuated T=%-2d max |diff| %.2e, normalised %.2e\n", samples, d.abs,
           d.rel);
    free(f), free(s), free(labels), free(gf), free(gs);
    gold_free(g);
}

START_TEST(golden_attenuated_t6)
{
    golden_attenuated("tests/golden/losses/attenuated.txt");
}
END_TEST

START_TEST(golden_attenuated_t1)
{
    golden_attenuated("tests/golden/losses/attenuated_t1.txt");
}
END_TEST

START_TEST(golden_multitask)
{
    golden *g = gold_load("tests/golden/losses/multitask.txt");
    enum { T = 6 };
    const double *kd = gold_array_get(g, "kinds", T);
    doubt_task_kind kinds[T];
    for (int k = 0; k < T; k++)
        kinds[k] = (doubt_task_kind)kd[k]; /* the script writes them in the enum's order */
    float *D = to_f(gold_array_get(g, "data", T), T);
    float *R = to_f(gold_array_get(g, "log_term", T), T);
    float *s = to_f(gold_array_get(g, "log_var", T), T);
    float *w = to_f(gold_array_get(g, "weight", T), T),
          *L = to_f(gold_array_get(g, "task_loss", T), T), total, scale[T], gs[T];
    gold_diff d = {0, 0};
    L_OK(doubt_losses_multitask(T, kinds, D, R, s, &total, scale, gs, &terr));
    gold_check(&d, "total", &total, gold_array_get(g, "total", 1), 1);
    gold_check(&d, "scale", scale, gold_array_get(g, "scale", T), T);
    gold_check(&d, "grad_log_var", gs, gold_array_get(g, "grad_log_var", T), T);
    L_OK(doubt_losses_multitask_fixed(T, w, L, &total, scale, &terr));
    gold_check(&d, "fixed.total", &total, gold_array_get(g, "fixed.total", 1), 1);
    gold_check(&d, "fixed.scale", scale, gold_array_get(g, "fixed.scale", T), T);
    printf("losses: golden multitask       max |diff| %.2e, normalised %.2e\n", d.abs, d.rel);
    free(D), free(R), free(s), free(w), free(L);
    gold_free(g);
}
END_TEST

/* The learned objective of a segmentation + depth step with a negative depth NLL, assembled
 * as train.c does (regression with data_weight w(s_depth), then multitask), against the
 * script's likelihood written out whole. */
START_TEST(golden_objective)
{
    golden *g = gold_load("tests/golden/losses/objective.txt");
    const int64_t n = (int64_t)gold_param(g, "count");
    float *pred = to_f(gold_array_get(g, "pred", n), n);
    float *y = to_f(gold_array_get(g, "target", n), n);
    float *sk = to_f(gold_array_get(g, "task_log_var", 2), 2);
    float *seg = to_f(gold_array_get(g, "seg", 1), 1);
    float *gp = malloc(n * sizeof *gp), *gs = malloc(n * sizeof *gs);
    static const char *names[] = {"gaussian", "laplace"};
    gold_diff d = {0, 0};
    char key[64];
    for (int i = 0; i < 2; i++) {
        const doubt_reg_kind kind = i ? DOUBT_REG_LAPLACE : DOUBT_REG_GAUSSIAN;
        const doubt_task_kind kinds[2] = {DOUBT_TASK_CLASSIFICATION, doubt_losses_task_of(kind)};
        snprintf(key, sizeof key, "%s.log_var", names[i]);
        float *s = to_f(gold_array_get(g, key, n), n);
        doubt_reg_loss depth;
        L_OK(doubt_losses_regression(kind, n, pred, s, y, NULL,
                                     doubt_losses_task_weight(kinds[1], sk[1]), &depth, gp, gs,
                                     &terr));
        const float data[2] = {seg[0], depth.data}, log_term[2] = {0, depth.log_term};
        float total, scale[2], gt[2];
        L_OK(doubt_losses_multitask(2, kinds, data, log_term, sk, &total, scale, gt, &terr));
        const float nll = depth.data + depth.log_term;
        snprintf(key, sizeof key, "%s.nll", names[i]);
        gold_check(&d, key, &nll, gold_array_get(g, key, 1), 1);
        ck_assert_msg(nll < 0, "%s: NLL %g", names[i], nll);
        snprintf(key, sizeof key, "%s.total", names[i]);
        gold_check(&d, key, &total, gold_array_get(g, key, 1), 1);
        snprintf(key, sizeof key, "%s.grad_pred", names[i]);
        gold_check(&d, key, gp, gold_array_get(g, key, n), n);
        snprintf(key, sizeof key, "%s.grad_log_var", names[i]);
        gold_check(&d, key, gs, gold_array_get(g, key, n), n);
        snprintf(key, sizeof key, "%s.grad_task_log_var", names[i]);
        gold_check(&d, key, gt, gold_array_get(g, key, 2), 2);
        snprintf(key, sizeof key, "%s.grad_seg", names[i]);
        gold_check(&d, key, &scale[0], gold_array_get(g, key, 1), 1);
        free(s);
    }
    printf("losses: golden objective       max |diff| %.2e, normalised %.2e\n", d.abs, d.rel);
    free(pred), free(y), free(sk), free(seg), free(gp), free(gs);
    gold_free(g);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("losses");
    TCase *reg = tcase_create("regression");
    tcase_add_test(reg, regression_gradients);
    tcase_add_test(reg, regression_identities);
    tcase_add_test(reg, regression_extremes);
    tcase_add_test(reg, regression_errors);
    suite_add_tcase(suite, reg);
    TCase *ce = tcase_create("cross_entropy");
    tcase_add_test(ce, cross_entropy_gradients);
    tcase_add_test(ce, cross_entropy_extremes);
    tcase_add_test(ce, cross_entropy_errors);
    suite_add_tcase(suite, ce);
    TCase *attn = tcase_create("attenuated");
    tcase_add_test(attn, attenuated_gradients);
    tcase_add_test(attn, attenuated_is_cross_entropy_without_noise);
    tcase_add_test(attn, attenuated_extremes);
    tcase_add_test(attn, attenuated_noise_follows_key);
    tcase_add_test(attn, attenuated_noise_is_rng_normal);
    tcase_add_test(attn, box_muller_lanes_match_libm);
    tcase_add_test(attn, exp_nonpositive_matches_libm);
    tcase_add_test(attn, attenuated_errors);
    suite_add_tcase(suite, attn);
    TCase *det = tcase_create("determinism");
    tcase_add_test(det, same_bits_any_thread_count);
    suite_add_tcase(suite, det);
    TCase *mt = tcase_create("multitask");
    tcase_add_test(mt, multitask_gradients_and_identities);
    tcase_add_test(mt, objective_gradients);
    tcase_add_test(mt, objective_bounded_below_when_nll_negative);
    suite_add_tcase(suite, mt);
    TCase *gold = tcase_create("golden");
    tcase_add_test(gold, golden_regression);
    tcase_add_test(gold, golden_cross_entropy);
    tcase_add_test(gold, golden_attenuated_t6);
    tcase_add_test(gold, golden_attenuated_t1);
    tcase_add_test(gold, golden_multitask);
    tcase_add_test(gold, golden_objective);
    suite_add_tcase(suite, gold);
    return th_run(suite);
}
