/* The layers of src/conv against naive double-precision references (tests/layer_ref.c).
 * Each reference backward is first checked against central differences of its own forward;
 * then oneDNN's forward and backward are compared with the reference, in a plain and in a
 * channel-blocked layout, on small odd shapes. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/concrete.h"
#include "conv/conv.h"
#include "conv/dropout.h"
#include "conv/pool.h"
#include "conv/relu.h"
#include "conv/upsample.h"
#include "conv/winograd.h"
#include "harness.h"
#include "layer_ref.h"

#define FWD_TOL 2e-5 /* float32 vs double on sums of at most a few hundred terms */
#define BWD_TOL 1e-4
#define FD_TOL 1e-7  /* reference backward vs central differences, both double */

static const dnnl_format_tag_t layouts[] = {dnnl_abcd, dnnl_aBcd16b};
static const char *layout_names[] = {"nchw", "nChw16c"};

/* ---- tensors from and to plain double arrays ---- */

static double *dalloc(long n)
{
    double *p = calloc((size_t)n, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void tensor_from(doubt_ctx *ctx, doubt_tensor *t, const dnnl_memory_desc_t *md,
                        const double *plain)
{
    TH_OK(ctx, doubt_tensor_init(ctx, t, md, DOUBT_TENSOR_OWNED, "test"));
    long n = (long)doubt_tensor_count(t);
    float *f = malloc(n * sizeof *f);
    for (long i = 0; i < n; i++)
        f[i] = (float)plain[i];
    TH_OK(ctx, doubt_tensor_write(ctx, t, f));
    free(f);
}

static void input_from(doubt_ctx *ctx, doubt_tensor *t, ref_shape s, dnnl_format_tag_t tag,
                       const double *plain)
{
    const int64_t dims[4] = {s.n, s.c, s.h, s.w};
    dnnl_memory_desc_t md = doubt_md_make(4, dims, tag);
    tensor_from(ctx, t, &md, plain);
}

/* Reads a tensor's logical values into a float buffer owned by the caller. */
static float *values(doubt_ctx *ctx, const doubt_tensor *t)
{
    float *f = malloc((size_t)doubt_tensor_count(t) * sizeof *f);
    TH_OK(ctx, doubt_tensor_read(ctx, t, f));
    return f;
}

static double compare(doubt_ctx *ctx, const doubt_tensor *t, const double *ref, const char *what,
                      const char *layout)
{
    float *got = values(ctx, t);
    double err = th_rel_err(got, ref, doubt_tensor_count(t));
    free(got);
    printf("  %-28s %-8s rel err %.2e\n", what, layout, err);
    return err;
}

/* ---- reference backward vs central differences: L(θ) = Σ dy · f(θ) ---- */

typedef void (*ref_fn)(const double *theta, double *y, const void *cfg);
typedef struct {
    ref_fn f;
    const void *cfg;
    const double *dy;
    long ny;
    double *y;
} fd_problem;

static double fd_objective(const double *theta, void *user)
{
    fd_problem *p = user;
    p->f(theta, p->y, p->cfg);
    double l = 0;
    for (long i = 0; i < p->ny; i++)
        l += p->dy[i] * p->y[i];
    return l;
}

static void check_ref_grad(ref_fn f, const void *cfg, double *theta, long ntheta,
                           const double *dy, long ny, const double *analytic, const char *what)
{
    fd_problem p = {f, cfg, dy, ny, dalloc(ny)};
    double *numeric = dalloc(ntheta);
    th_numeric_grad(fd_objective, theta, ntheta, 1e-5, &p, numeric);
    double err = th_rel_err_dd(analytic, numeric, ntheta);
    printf("  %-28s ref vs central differences: rel err %.2e\n", what, err);
    ck_assert_msg(err < FD_TOL, "%s: reference backward off by %g", what, err);
    free(numeric);
    free(p.y);
}

/* ---- convolution ---- */

typedef struct {
    ref_shape in;
    int out_c, k, bias;
} conv_case;

static void conv_theta_fwd(const double *theta, double *y, const void *cfg)
{
    const conv_case *c = cfg;
    long nx = ref_count(c->in), nw = (long)c->out_c * c->in.c * c->k * c->k;
    ref_conv_fwd(c->in, c->out_c, c->k, theta, theta + nx, c->bias ? theta + nx + nw : NULL, y);
}

static void run_conv_case(const conv_case *cc)
{
    doubt_ctx *ctx = th_ctx(0);
    const ref_shape out = {cc->in.n, cc->out_c, cc->in.h, cc->in.w};
    const long nx = ref_count(cc->in), nw = (long)cc->out_c * cc->in.c * cc->k * cc->k,
               nb = cc->bias ? cc->out_c : 0, ny = ref_count(out);
    double *theta = dalloc(nx + nw + nb), *y = dalloc(ny), *dy = dalloc(ny);
    double *grad = dalloc(nx + nw + cc->out_c);
    th_fill_d(theta, nx + nw + nb, 11, -1, 1);
    th_fill_d(dy, ny, 12, -1, 1);
    double *x = theta, *wt = theta + nx, *b = cc->bias ? theta + nx + nw : NULL;
    ref_conv_fwd(cc->in, cc->out_c, cc->k, x, wt, b, y);
    ref_conv_bwd(cc->in, cc->out_c, cc->k, x, wt, dy, grad, grad + nx, cc->bias ? grad + nx + nw : NULL);
    char what[96];
    snprintf(what, sizeof what, "conv %dx%dx%dx%d->%d k%d%s", cc->in.n, cc->in.c, cc->in.h,
             cc->in.w, cc->out_c, cc->k, cc->bias ? " bias" : "");
    check_ref_grad(conv_theta_fwd, cc, theta, nx + nw + nb, dy, ny, grad, what);

    for (int l = 0; l < 2; l++) {
        doubt_tensor src, diff_dst;
        input_from(ctx, &src, cc->in, layouts[l], x);
        doubt_conv_desc d = {.name = "t.conv", .in_channels = cc->in.c,
                             .out_channels = cc->out_c, .kernel = cc->k, .bias = cc->bias};
        doubt_conv *conv;
        TH_OK(ctx, doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &conv));
        float *fw = malloc(nw * sizeof *fw);
        for (long i = 0; i < nw; i++)
            fw[i] = (float)wt[i];
        TH_OK(ctx, doubt_tensor_write(ctx, &conv->weight, fw));
        free(fw);
        if (cc->bias) {
            for (int i = 0; i < cc->out_c; i++)
                conv->bias.data[i] = (float)b[i];
        }
        TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
        ck_assert(compare(ctx, &conv->dst, y, what, layout_names[l]) < FWD_TOL);
        tensor_from(ctx, &diff_dst, &conv->dst.md, dy);
        TH_OK(ctx, doubt_conv_backward(ctx, conv, &diff_dst));
        ck_assert(compare(ctx, &conv->diff_src, grad, "  d src", layout_names[l]) < BWD_TOL);
        ck_assert(compare(ctx, &conv->diff_weight, grad + nx, "  d weight", layout_names[l]) <
                  BWD_TOL);
        if (cc->bias)
            ck_assert(compare(ctx, &conv->diff_bias, grad + nx + nw, "  d bias",
                              layout_names[l]) < BWD_TOL);
        doubt_conv_destroy(conv);
        doubt_tensor_release(&src);
        doubt_tensor_release(&diff_dst);
    }
    free(theta);
    free(y);
    free(dy);
    free(grad);
    doubt_ctx_destroy(ctx);
}

static const conv_case conv_cases[] = {
    {{1, 3, 3, 5}, 7, 3, 0},  {{3, 5, 3, 5}, 19, 3, 1}, {{3, 5, 1, 1}, 7, 3, 1},
    {{1, 17, 3, 5}, 11, 1, 1}, {{3, 6, 1, 1}, 5, 1, 0},
};

START_TEST(conv_matches_reference)
{
    run_conv_case(&conv_cases[_i]);
}
END_TEST

START_TEST(conv_fused_relu_inference)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape in = {3, 5, 3, 5};
    const int out_c = 19;
    long nx = ref_count(in), nw = out_c * 5 * 9, ny = 3L * out_c * 15;
    double *x = dalloc(nx), *wt = dalloc(nw), *b = dalloc(out_c), *y = dalloc(ny);
    th_fill_d(x, nx, 1, -1, 1);
    th_fill_d(wt, nw, 2, -1, 1);
    th_fill_d(b, out_c, 3, -1, 1);
    ref_conv_fwd(in, out_c, 3, x, wt, b, y);
    for (long i = 0; i < ny; i++)
        y[i] = fmax(y[i], 0);
    doubt_tensor src;
    input_from(ctx, &src, in, dnnl_aBcd16b, x);
    doubt_conv_desc d = {.name = "t.conv", .in_channels = 5, .out_channels = out_c, .kernel = 3,
                         .bias = 1, .fuse_relu = 1};
    doubt_conv *conv;
    TH_OK(ctx, doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_INFER, &conv));
    float *fw = malloc(nw * sizeof *fw);
    for (long i = 0; i < nw; i++)
        fw[i] = (float)wt[i];
    TH_OK(ctx, doubt_tensor_write(ctx, &conv->weight, fw));
    for (int i = 0; i < out_c; i++)
        conv->bias.data[i] = (float)b[i];
    TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
    ck_assert(compare(ctx, &conv->dst, y, "conv+relu inference", "nChw16c") < FWD_TOL);
    ck_assert_int_eq(doubt_conv_backward(ctx, conv, &conv->dst), DOUBT_ERR_ARG);
    free(fw);
    free(x);
    free(wt);
    free(b);
    free(y);
    doubt_conv_destroy(conv);
    doubt_tensor_release(&src);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- Winograd F(2×2, 3×3) (conv/winograd.h) ---- */

typedef struct {
    ref_shape in;
    int out_c, bias, relu, accumulate;
} wino_case;

/* Odd heights and widths (half tiles at the borders), a 1×1 image, channel counts padded to
 * the block of 8 and output panels of 16 + 8, and a wide tile row split into chunks with a
 * shorter last one. */
static const wino_case wino_cases[] = {
    {{2, 16, 7, 5}, 16, 1, 0, 0},   {{1, 24, 1, 1}, 8, 1, 1, 0},
    {{1, 19, 2, 3}, 21, 1, 1, 1},   {{1, 32, 13, 29}, 48, 0, 1, 0},
    {{1, 256, 3, 40}, 256, 1, 1, 1}, {{3, 64, 16, 16}, 40, 1, 0, 1},
    {{1, 64, 4, 200}, 64, 1, 1, 0}, /* a tile row of 100 cut into pieces of 30, 30, 30, 10 */
};

START_TEST(winograd_matches_reference)
{
    const wino_case *wc = &wino_cases[_i];
    doubt_ctx *ctx = th_ctx(0);
    const ref_shape in = wc->in;
    const long nx = ref_count(in), nw = (long)wc->out_c * in.c * 9;
    const long ny = (long)in.n * wc->out_c * in.h * in.w;
    double *x = dalloc(nx), *wt = dalloc(nw), *b = dalloc(wc->out_c), *prior = dalloc(ny);
    double *y = dalloc(ny);
    th_fill_d(x, nx, 31, -1, 1);
    th_fill_d(wt, nw, 32, -0.2, 0.2);
    th_fill_d(b, wc->out_c, 33, -1, 1);
    th_fill_d(prior, ny, 34, -1, 1);
    ref_conv_fwd(in, wc->out_c, 3, x, wt, wc->bias ? b : NULL, y);
    for (long i = 0; i < ny; i++) {
        y[i] += wc->accumulate ? prior[i] : 0;
        y[i] = wc->relu ? fmax(y[i], 0) : y[i];
    }
    doubt_tensor src, before;
    input_from(ctx, &src, in, dnnl_aBcd8b, x);
    const int64_t ddims[4] = {in.n, wc->out_c, in.h, in.w};
    const dnnl_memory_desc_t dst_md = doubt_md_make(4, ddims, dnnl_aBcd8b);
    tensor_from(ctx, &before, &dst_md, prior);
    float *fw = malloc(nw * sizeof *fw);
    for (long i = 0; i < nw; i++)
        fw[i] = (float)wt[i];
    char what[96];
    snprintf(what, sizeof what, "winograd %dx%dx%dx%d->%d%s%s%s", in.n, in.c, in.h, in.w,
             wc->out_c, wc->bias ? " bias" : "", wc->relu ? " relu" : "",
             wc->accumulate ? " +=" : "");
    const int expected = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    for (int winograd = 0; winograd < 2; winograd++) {
        doubt_conv_desc d = {.name = "t.wino", .in_channels = in.c, .out_channels = wc->out_c,
                             .kernel = 3, .bias = wc->bias, .fuse_relu = wc->relu,
                             .accumulate = wc->accumulate, .dst_md = &dst_md,
                             .winograd = winograd};
        doubt_conv *conv;
        TH_OK(ctx, doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_INFER, &conv));
        ck_assert_int_eq(conv->winograd != NULL, winograd && expected);
        TH_OK(ctx, doubt_tensor_write(ctx, &conv->weight, fw));
        for (int i = 0; wc->bias && i < wc->out_c; i++)
            conv->bias.data[i] = (float)b[i];
        if (conv->winograd) /* the transformed weights are made only on request */
            ck_assert_int_eq(doubt_conv_forward(ctx, conv, &src), DOUBT_ERR_ARG);
        TH_OK(ctx, doubt_conv_weights_changed(ctx, conv));
        memcpy(conv->dst.data, before.data, doubt_tensor_bytes(&before));
        TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
        ck_assert(compare(ctx, &conv->dst, y, what, winograd ? "wino" : "direct") < FWD_TOL);
        /* the channel padding of a blocked output stays zero */
        const int64_t blocks = (wc->out_c + 7) / 8, plane = (int64_t)in.h * in.w;
        for (int64_t n = 0; n < in.n; n++)
            for (int64_t p = 0; p < plane; p++)
                for (int64_t c = wc->out_c; c < blocks * 8; c++)
                    ck_assert_float_eq(
                        conv->dst.data[((n * blocks + blocks - 1) * plane + p) * 8 + c % 8], 0);
        doubt_conv_destroy(conv);
    }
    if (!expected)
        printf("  (this CPU lacks AVX2 + FMA: only the direct path ran)\n");
    free(fw);
    free(x);
    free(wt);
    free(b);
    free(prior);
    free(y);
    doubt_tensor_release(&src);
    doubt_tensor_release(&before);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Winograd is for 3×3 nChw8c layers of 16 inputs or more; the rest run directly. */
START_TEST(winograd_only_where_it_applies)
{
    doubt_ctx *ctx = th_ctx(0);
    const int64_t small[4] = {1, 8, 6, 6}, wide[4] = {1, 32, 6, 6}, out[4] = {1, 16, 6, 6};
    const dnnl_memory_desc_t few = doubt_md_make(4, small, dnnl_aBcd8b);
    const dnnl_memory_desc_t plain = doubt_md_make(4, wide, dnnl_abcd);
    const dnnl_memory_desc_t blocked16 = doubt_md_make(4, wide, dnnl_aBcd16b);
    const dnnl_memory_desc_t dst = doubt_md_make(4, out, dnnl_aBcd8b);
    ck_assert(!doubt_winograd_supported(&few, &dst));
    ck_assert(!doubt_winograd_supported(&plain, &dst));
    ck_assert(!doubt_winograd_supported(&blocked16, &dst));
    const dnnl_memory_desc_t ok = doubt_md_make(4, wide, dnnl_aBcd8b);
    ck_assert_int_eq(doubt_winograd_supported(&ok, &dst),
                     __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    doubt_conv_desc d = {.name = "t.one", .in_channels = 32, .out_channels = 16, .kernel = 1,
                         .dst_md = &dst, .winograd = 1};
    doubt_conv *conv;
    TH_OK(ctx, doubt_conv_create(ctx, &d, &ok, DOUBT_MODE_INFER, &conv));
    ck_assert_ptr_null(conv->winograd);
    doubt_conv_destroy(conv);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A NaN in the input goes where oneDNN's direct convolution sends it: through the sums to
 * every output whose window holds it (Winograd's tiles spread it a little further), and to 0
 * through a fused ReLU, which oneDNN's post-op also does. */
START_TEST(winograd_treats_nan_as_direct)
{
    doubt_ctx *ctx = th_ctx(0);
    const ref_shape in = {1, 16, 6, 7};
    const long nx = ref_count(in), nw = 16L * 16 * 9, ny = 16L * 6 * 7;
    double *x = dalloc(nx), *wt = dalloc(nw);
    th_fill_d(x, nx, 51, -1, 1);
    th_fill_d(wt, nw, 52, -0.2, 0.2);
    x[3 * 7 + 2] = NAN; /* channel 0, row 3, column 2 */
    doubt_tensor src;
    input_from(ctx, &src, in, dnnl_aBcd8b, x);
    const int64_t ddims[4] = {1, 16, 6, 7};
    const dnnl_memory_desc_t dst_md = doubt_md_make(4, ddims, dnnl_aBcd8b);
    float *fw = malloc(nw * sizeof *fw), *out[2];
    for (long i = 0; i < nw; i++)
        fw[i] = (float)wt[i];
    for (int relu = 0; relu < 2; relu++) {
        for (int winograd = 0; winograd < 2; winograd++) {
            doubt_conv_desc d = {.name = "t.nan", .in_channels = 16, .out_channels = 16,
                                 .kernel = 3, .fuse_relu = relu, .dst_md = &dst_md,
                                 .winograd = winograd};
            doubt_conv *conv;
            TH_OK(ctx, doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_INFER, &conv));
            TH_OK(ctx, doubt_tensor_write(ctx, &conv->weight, fw));
            TH_OK(ctx, doubt_conv_weights_changed(ctx, conv));
            TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
            out[winograd] = values(ctx, &conv->dst);
            doubt_conv_destroy(conv);
        }
        long direct_nan = 0, winograd_nan = 0;
        for (long i = 0; i < ny; i++) {
            direct_nan += isnan(out[0][i]);
            winograd_nan += isnan(out[1][i]);
            ck_assert_msg(!isnan(out[0][i]) || isnan(out[1][i]), "element %ld: NaN lost", i);
        }
        printf("  NaN outputs%s: direct %ld, winograd %ld\n", relu ? " after ReLU" : "",
               direct_nan, winograd_nan);
        /* every output channel, the 3×3 around the NaN; none after the ReLU */
        ck_assert_int_eq(direct_nan, relu ? 0 : 16 * 9);
        if (relu)
            ck_assert_int_eq(winograd_nan, 0);
        free(out[0]);
        free(out[1]);
    }
    free(fw);
    free(x);
    free(wt);
    doubt_tensor_release(&src);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Training: forward and backward-data as Winograd (backward-data where the layer has 16
 * outputs or more to read), the weights taken anew each step; backward-weights too where
 * there is no bias (else oneDNN's). Odd sizes, padded channels, several tile rows and images
 * per sum, a unit of work shorter than the rest. */
static const wino_case wino_train_cases[] = {
    {{2, 16, 7, 5}, 16, 1, 0, 0},  {{1, 24, 5, 3}, 8, 0, 0, 0},   {{1, 19, 6, 9}, 21, 1, 0, 0},
    {{2, 40, 9, 4}, 32, 0, 0, 0},  {{3, 21, 11, 13}, 19, 0, 0, 0}, {{1, 128, 40, 24}, 128, 0, 0, 0},
    {{2, 256, 6, 6}, 128, 0, 0, 0},
};

START_TEST(winograd_training_matches_reference)
{
    const wino_case *wc = &wino_train_cases[_i];
    doubt_ctx *ctx = th_ctx(0);
    const ref_shape in = wc->in;
    const long nx = ref_count(in), nw = (long)wc->out_c * in.c * 9, nb = wc->out_c;
    const long ny = (long)in.n * wc->out_c * in.h * in.w;
    double *x = dalloc(nx), *wt = dalloc(nw), *b = dalloc(nb), *dy = dalloc(ny);
    double *y = dalloc(ny), *dx = dalloc(nx), *dw = dalloc(nw), *db = dalloc(nb);
    th_fill_d(x, nx, 41, -1, 1);
    th_fill_d(b, nb, 43, -1, 1);
    th_fill_d(dy, ny, 44, -1, 1);
    doubt_tensor src, diff_dst;
    input_from(ctx, &src, in, dnnl_aBcd8b, x);
    const int64_t ddims[4] = {in.n, wc->out_c, in.h, in.w};
    const dnnl_memory_desc_t dst_md = doubt_md_make(4, ddims, dnnl_aBcd8b);
    tensor_from(ctx, &diff_dst, &dst_md, dy);
    doubt_conv_desc d = {.name = "t.wino", .in_channels = in.c, .out_channels = wc->out_c,
                         .kernel = 3, .bias = wc->bias, .dst_md = &dst_md, .winograd = 1};
    doubt_conv *conv;
    TH_OK(ctx, doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &conv));
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    ck_assert_int_eq(conv->winograd != NULL, avx2);
    ck_assert_int_eq(conv->winograd_bwd != NULL, avx2 && wc->out_c >= 16);
    ck_assert_int_eq(conv->winograd_grad, avx2 && !wc->bias);
    float *fw = malloc(nw * sizeof *fw);
    char what[96];
    for (int step = 0; step < 2; step++) { /* new weights, as after an optimizer step */
        th_fill_d(wt, nw, 42 + 10 * step, -0.2, 0.2);
        for (long i = 0; i < nw; i++)
            fw[i] = (float)wt[i];
        TH_OK(ctx, doubt_tensor_write(ctx, &conv->weight, fw));
        for (int i = 0; wc->bias && i < wc->out_c; i++)
            conv->bias.data[i] = (float)b[i];
        ref_conv_fwd(in, wc->out_c, 3, x, wt, wc->bias ? b : NULL, y);
        ref_conv_bwd(in, wc->out_c, 3, x, wt, dy, dx, dw, wc->bias ? db : NULL);
        TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
        TH_OK(ctx, doubt_conv_backward(ctx, conv, &diff_dst));
        snprintf(what, sizeof what, "winograd train %dx%dx%dx%d->%d step %d", in.n, in.c, in.h,
                 in.w, wc->out_c, step);
        ck_assert(compare(ctx, &conv->dst, y, what, "nChw8c") < FWD_TOL);
        ck_assert(compare(ctx, &conv->diff_src, dx, "  d src", "nChw8c") < BWD_TOL);
        ck_assert(compare(ctx, &conv->diff_weight, dw, "  d weight", "nChw8c") < BWD_TOL);
        if (wc->bias)
            ck_assert(compare(ctx, &conv->diff_bias, db, "  d bias", "nChw8c") < BWD_TOL);
    }
    /* the same step again gives the same bits; and run by one thread of an outer parallel
     * region (its own regions then get one thread), only that thread's sums count */
    float *first = values(ctx, &conv->diff_weight);
    TH_OK(ctx, doubt_conv_forward(ctx, conv, &src));
    TH_OK(ctx, doubt_conv_backward(ctx, conv, &diff_dst));
    float *again = values(ctx, &conv->diff_weight);
    ck_assert_msg(!memcmp(first, again, nw * sizeof *first), "%s: gradient not repeatable", what);
    doubt_status nested = DOUBT_OK;
    const int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(1); /* a parallel region inside another gets one thread */
#pragma omp parallel num_threads(2)
#pragma omp master
    {
        nested = doubt_conv_forward(ctx, conv, &src);
        if (nested == DOUBT_OK)
            nested = doubt_conv_backward(ctx, conv, &diff_dst);
    }
    omp_set_max_active_levels(levels);
    TH_OK(ctx, nested);
    ck_assert(compare(ctx, &conv->diff_weight, dw, "  d weight, one thread", "nChw8c") < BWD_TOL);
    free(first);
    free(again);
    doubt_conv_destroy(conv);
    free(fw);
    double *bufs[] = {x, wt, b, dy, y, dx, dw, db};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    doubt_tensor_release(&src);
    doubt_tensor_release(&diff_dst);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- batch norm ---- */

typedef struct {
    ref_shape s;
    int relu;
} bn_case;

static void bn_theta_fwd(const double *theta, double *y, const void *cfg)
{
    const bn_case *c = cfg;
    long nx = ref_count(c->s);
    double mean[64], var[64];
    ref_bn_fwd(c->s, theta, theta + nx, theta + nx + c->s.c, 1e-5, c->relu, y, mean, var);
}

static void run_bn_case(const bn_case *bc)
{
    doubt_ctx *ctx = th_ctx(0);
    const ref_shape s = bc->s;
    const long nx = ref_count(s), nt = nx + 2 * s.c;
    double *theta = dalloc(nt), *y = dalloc(nx), *dy = dalloc(nx), *grad = dalloc(nt);
    double mean[64], var[64];
    th_fill_d(theta, nx, 21, -2, 2);
    th_fill_d(theta + nx, s.c, 22, 0.5, 1.5);
    th_fill_d(theta + nx + s.c, s.c, 23, -0.5, 0.5);
    th_fill_d(dy, nx, 24, -1, 1);
    double *x = theta, *gamma = theta + nx, *beta = theta + nx + s.c;
    ref_bn_fwd(s, x, gamma, beta, 1e-5, bc->relu, y, mean, var);
    ref_bn_bwd(s, x, gamma, beta, 1e-5, bc->relu, dy, grad, grad + nx, grad + nx + s.c);
    char what[96];
    snprintf(what, sizeof what, "bnorm %dx%dx%dx%d%s", s.n, s.c, s.h, s.w,
             bc->relu ? " +relu" : "");
    /* with ReLU fused, differences across a kink are meaningless: check the plain BN's
     * reference (the ReLU mask is a separate, exact gate) */
    if (!bc->relu)
        check_ref_grad(bn_theta_fwd, bc, theta, nt, dy, nx, grad, what);

    for (int l = 0; l < 2; l++) {
        doubt_tensor src, diff_dst;
        input_from(ctx, &src, s, layouts[l], x);
        doubt_bnorm_desc d = {.name = "t.bn", .channels = s.c, .fuse_relu = bc->relu};
        doubt_bnorm *bn;
        TH_OK(ctx, doubt_bnorm_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &bn));
        for (int c = 0; c < s.c; c++) {
            bn->weight.data[c] = (float)gamma[c];
            bn->bias.data[c] = (float)beta[c];
        }
        TH_OK(ctx, doubt_bnorm_forward(ctx, bn, &src));
        ck_assert(compare(ctx, &bn->dst, y, what, layout_names[l]) < FWD_TOL);
        /* running statistics after one step from (0, 1), PyTorch's unbiased variance */
        double m = (double)s.n * s.h * s.w, run_mean[64], run_var[64];
        for (int c = 0; c < s.c; c++) {
            run_mean[c] = 0.1 * mean[c];
            run_var[c] = 0.9 + 0.1 * var[c] * (m > 1 ? m / (m - 1) : 1);
        }
        ck_assert(compare(ctx, &bn->running_mean, run_mean, "  running mean", layout_names[l]) < FWD_TOL);
        ck_assert(compare(ctx, &bn->running_var, run_var, "  running var", layout_names[l]) < FWD_TOL);
        tensor_from(ctx, &diff_dst, &bn->dst.md, dy);
        TH_OK(ctx, doubt_bnorm_backward(ctx, bn, &diff_dst));
        ck_assert(compare(ctx, &bn->diff_src, grad, "  d src", layout_names[l]) < BWD_TOL);
        ck_assert(compare(ctx, &bn->diff_weight, grad + nx, "  d weight", layout_names[l]) < BWD_TOL);
        ck_assert(compare(ctx, &bn->diff_bias, grad + nx + s.c, "  d bias", layout_names[l]) < BWD_TOL);
        doubt_bnorm_destroy(bn);
        doubt_tensor_release(&src);
        doubt_tensor_release(&diff_dst);
    }
    free(theta);
    free(y);
    free(dy);
    free(grad);
    doubt_ctx_destroy(ctx);
}

static const bn_case bn_cases[] = {
    {{3, 5, 1, 1}, 0}, {{1, 19, 3, 5}, 0}, {{3, 7, 3, 5}, 1}, {{3, 17, 1, 1}, 1},
};

START_TEST(bnorm_matches_reference)
{
    run_bn_case(&bn_cases[_i]);
}
END_TEST

START_TEST(bnorm_inference_uses_running_stats)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {3, 5, 3, 5};
    long nx = ref_count(s);
    double *x = dalloc(nx), *y = dalloc(nx);
    double gamma[5] = {1, 2, 0.5, 1, 1}, beta[5] = {0, 1, -1, 0.5, 0};
    double mean[5] = {0.1, -0.2, 0.3, 0, 1}, var[5] = {1, 2, 0.5, 4, 0.25};
    th_fill_d(x, nx, 31, -2, 2);
    for (long i = 0; i < nx; i++) {
        int c = (int)(i / 15 % 5);
        y[i] = fmax(0, gamma[c] * (x[i] - mean[c]) / sqrt(var[c] + 1e-5) + beta[c]);
    }
    doubt_tensor src;
    input_from(ctx, &src, s, dnnl_aBcd16b, x);
    doubt_bnorm_desc d = {.name = "t.bn", .channels = 5, .fuse_relu = 1};
    doubt_bnorm *bn;
    TH_OK(ctx, doubt_bnorm_create(ctx, &d, &src.md, DOUBT_MODE_INFER, &bn));
    for (int c = 0; c < 5; c++) {
        bn->weight.data[c] = (float)gamma[c];
        bn->bias.data[c] = (float)beta[c];
        bn->running_mean.data[c] = (float)mean[c];
        bn->running_var.data[c] = (float)var[c];
    }
    TH_OK(ctx, doubt_bnorm_forward(ctx, bn, &src));
    ck_assert(compare(ctx, &bn->dst, y, "bnorm+relu inference", "nChw16c") < FWD_TOL);
    ck_assert_int_eq(doubt_bnorm_backward(ctx, bn, &bn->dst), DOUBT_ERR_ARG);
    doubt_bnorm_destroy(bn);
    doubt_tensor_release(&src);
    free(x);
    free(y);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- relu, pool, upsample: layers without parameters ---- */

typedef enum { OP_RELU, OP_POOL, OP_UPSAMPLE } simple_op;

typedef struct {
    simple_op op;
    ref_shape s;
} simple_case;

static ref_shape out_shape(const simple_case *c)
{
    ref_shape o = c->s;
    if (c->op == OP_POOL) {
        o.h /= 2;
        o.w /= 2;
    } else if (c->op == OP_UPSAMPLE) {
        o.h *= 2;
        o.w *= 2;
    }
    return o;
}

static void simple_fwd(const double *x, double *y, const void *cfg)
{
    const simple_case *c = cfg;
    if (c->op == OP_RELU)
        for (long i = 0; i < ref_count(c->s); i++)
            y[i] = fmax(x[i], 0);
    else if (c->op == OP_POOL)
        ref_pool_fwd(c->s, x, y);
    else
        ref_upsample_fwd(c->s, x, y);
}

static void simple_bwd(const simple_case *c, const double *x, const double *dy, double *dx)
{
    if (c->op == OP_RELU)
        for (long i = 0; i < ref_count(c->s); i++)
            dx[i] = x[i] > 0 ? dy[i] : 0;
    else if (c->op == OP_POOL)
        ref_pool_bwd(c->s, x, dy, dx);
    else
        ref_upsample_bwd(c->s, dy, dx);
}

/* Values at least 0.01 apart and away from 0: central differences with h = 1e-5 never cross
 * a ReLU kink or change a max-pool winner. */
static void fill_distinct(double *x, long n, uint32_t seed)
{
    th_fill_d(x, n, seed, 0, 1);
    for (long i = 0; i < n; i++) {
        long rank = (long)(x[i] * 1000003) % 997 + 1;
        x[i] = (i % 2 ? 1 : -1) * (0.01 * rank + 0.005);
    }
}

START_TEST(simple_layers_match_reference)
{
    static const simple_case cases[] = {
        {OP_RELU, {3, 5, 3, 5}},     {OP_RELU, {1, 19, 1, 1}}, {OP_POOL, {3, 5, 3, 5}},
        {OP_POOL, {1, 19, 4, 6}},    {OP_UPSAMPLE, {3, 5, 3, 5}}, {OP_UPSAMPLE, {1, 19, 1, 1}},
        {OP_UPSAMPLE, {1, 5, 1, 2}}, {OP_UPSAMPLE, {2, 5, 2, 1}},
    };
    static const char *names[] = {"relu", "maxpool 2x2", "upsample x2"};
    doubt_ctx *ctx = th_ctx(0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const simple_case *c = &cases[k];
        ref_shape o = out_shape(c);
        long nx = ref_count(c->s), ny = ref_count(o);
        double *x = dalloc(nx), *y = dalloc(ny), *dy = dalloc(ny), *dx = dalloc(nx);
        fill_distinct(x, nx, 40 + (uint32_t)k);
        th_fill_d(dy, ny, 50 + (uint32_t)k, -1, 1);
        simple_fwd(x, y, c);
        simple_bwd(c, x, dy, dx);
        char what[96];
        snprintf(what, sizeof what, "%s %dx%dx%dx%d", names[c->op], c->s.n, c->s.c, c->s.h,
                 c->s.w);
        check_ref_grad(simple_fwd, c, x, nx, dy, ny, dx, what);
        for (int l = 0; l < 2; l++) {
            doubt_tensor src, diff_dst;
            input_from(ctx, &src, c->s, layouts[l], x);
            const doubt_tensor *dst, *diff_src;
            doubt_relu *relu = NULL;
            doubt_pool *pool = NULL;
            doubt_upsample *up = NULL;
            if (c->op == OP_RELU) {
                TH_OK(ctx, doubt_relu_create(ctx, "t.relu", &src.md, DOUBT_MODE_TRAIN, &relu));
                TH_OK(ctx, doubt_relu_forward(ctx, relu, &src));
                dst = &relu->dst;
                diff_src = &relu->diff_src;
            } else if (c->op == OP_POOL) {
                TH_OK(ctx, doubt_pool_create(ctx, "t.pool", &src.md, DOUBT_MODE_TRAIN, 0, &pool));
                TH_OK(ctx, doubt_pool_forward(ctx, pool, &src));
                dst = &pool->dst;
                diff_src = &pool->diff_src;
            } else {
                TH_OK(ctx, doubt_upsample_create(ctx, "t.up", &src.md, DOUBT_MODE_TRAIN, &up));
                TH_OK(ctx, doubt_upsample_forward(ctx, up, &src));
                dst = &up->dst;
                diff_src = &up->diff_src;
            }
            ck_assert(compare(ctx, dst, y, what, layout_names[l]) < FWD_TOL);
            tensor_from(ctx, &diff_dst, &dst->md, dy);
            if (relu)
                TH_OK(ctx, doubt_relu_backward(ctx, relu, &diff_dst));
            else if (pool)
                TH_OK(ctx, doubt_pool_backward(ctx, pool, &diff_dst));
            else
                TH_OK(ctx, doubt_upsample_backward(ctx, up, &diff_dst));
            ck_assert(compare(ctx, diff_src, dx, "  d src", layout_names[l]) < BWD_TOL);
            doubt_relu_destroy(relu);
            doubt_pool_destroy(pool);
            doubt_upsample_destroy(up);
            doubt_tensor_release(&src);
            doubt_tensor_release(&diff_dst);
        }
        free(x);
        free(y);
        free(dy);
        free(dx);
    }
    doubt_ctx_destroy(ctx);
}
END_TEST

/* The upsample's own backward loop (nchw, nChw8c, nChw16c) against oneDNN's resampling
 * backward made here as the reference, and against the double reference that
 * simple_layers_match_reference checks with central differences; an nhwc input takes
 * oneDNN's path. Channel counts not a multiple of 8 leave padded lanes in the blocks. */
START_TEST(upsample_backward_matches_onednn)
{
    static const ref_shape shapes[] = {{2, 5, 1, 1}, {1, 5, 1, 2}, {2, 19, 2, 1},
                                       {2, 19, 3, 5}, {1, 8, 3, 5},  {1, 16, 4, 4}};
    static const dnnl_format_tag_t tags[] = {dnnl_abcd, dnnl_aBcd8b, dnnl_aBcd16b, dnnl_acdb};
    static const char *tag_names[] = {"nchw", "nChw8c", "nChw16c", "nhwc"};
    doubt_ctx *ctx = th_ctx(0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (size_t l = 0; l < sizeof tags / sizeof tags[0]; l++) {
            const ref_shape s = shapes[k], o = {s.n, s.c, 2 * s.h, 2 * s.w};
            const long nx = ref_count(s), ny = ref_count(o);
            double *x = dalloc(nx), *dy = dalloc(ny), *dx = dalloc(nx);
            th_fill_d(x, nx, 60 + (uint32_t)k, -1, 1);
            th_fill_d(dy, ny, 70 + (uint32_t)k, -1, 1);
            ref_upsample_bwd(s, dy, dx);
            doubt_tensor src, diff_dst, want;
            input_from(ctx, &src, s, tags[l], x);
            doubt_upsample *up = NULL;
            TH_OK(ctx, doubt_upsample_create(ctx, "t.up", &src.md, DOUBT_MODE_TRAIN, &up));
            /* with one pixel per plane nhwc has nchw's strides, so it is nchw */
            const int loop = tags[l] != dnnl_acdb || s.h * s.w == 1;
            ck_assert_msg((up->bwd == NULL) == loop,
                          "%s: the backward loop should run exactly for nchw, nChw8c, nChw16c",
                          tag_names[l]);
            TH_OK(ctx, doubt_upsample_forward(ctx, up, &src));
            tensor_from(ctx, &diff_dst, &up->dst.md, dy);
            TH_OK(ctx, doubt_upsample_backward(ctx, up, &diff_dst));

            const float factors[2] = {2.f, 2.f};
            dnnl_resampling_desc_t fwd_desc, bwd_desc;
            dnnl_primitive_desc_t fwd_pd, bwd_pd;
            dnnl_primitive_t bwd;
            ck_assert(dnnl_resampling_forward_desc_init(&fwd_desc, dnnl_forward_training,
                                                        dnnl_resampling_linear, factors, &src.md,
                                                        &up->dst.md) == dnnl_success);
            ck_assert(dnnl_primitive_desc_create(&fwd_pd, &fwd_desc, NULL, ctx->engine, NULL) ==
                      dnnl_success);
            ck_assert(dnnl_resampling_backward_desc_init(&bwd_desc, dnnl_resampling_linear,
                                                         factors, &src.md, &up->dst.md) ==
                      dnnl_success);
            ck_assert(dnnl_primitive_desc_create(&bwd_pd, &bwd_desc, NULL, ctx->engine, fwd_pd) ==
                      dnnl_success);
            ck_assert(dnnl_primitive_create(&bwd, bwd_pd) == dnnl_success);
            TH_OK(ctx, doubt_tensor_init(ctx, &want, &src.md, DOUBT_TENSOR_OWNED, "want"));
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_DIFF_DST, diff_dst.mem},
                                       {DNNL_ARG_DIFF_SRC, want.mem}};
            TH_OK(ctx, doubt_ctx_execute(ctx, bwd, 2, args, "reference resampling backward"));

            char what[96];
            snprintf(what, sizeof what, "upsample bwd %dx%dx%dx%d", s.n, s.c, s.h, s.w);
            float *got = values(ctx, &up->diff_src), *ref = values(ctx, &want);
            double *ref_d = dalloc(nx);
            for (long i = 0; i < nx; i++)
                ref_d[i] = ref[i];
            const double vs_onednn = th_rel_err(got, ref_d, nx), vs_double = th_rel_err(got, dx, nx);
            printf("  %-28s %-8s vs oneDNN %.2e, vs double %.2e\n", what, tag_names[l], vs_onednn,
                   vs_double);
            ck_assert_msg(vs_onednn < 1e-6, "%s %s: %g from oneDNN's backward", what,
                          tag_names[l], vs_onednn);
            ck_assert_msg(vs_double < 1e-6, "%s %s: %g from the double reference", what,
                          tag_names[l], vs_double);
            /* the padded lanes of a block stay zero, as oneDNN's layouts require */
            const size_t floats = doubt_tensor_bytes(&up->diff_src) / sizeof(float);
            double padded = 0;
            for (size_t i = 0; i < floats; i++)
                padded += fabs(up->diff_src.data[i]);
            double logical = 0;
            for (long i = 0; i < nx; i++)
                logical += fabs(got[i]);
            ck_assert_msg(fabs(padded - logical) <= 1e-5 * logical,
                          "%s %s: nonzero padding in diff_src", what, tag_names[l]);
            free(got);
            free(ref);
            free(ref_d);
            dnnl_primitive_destroy(bwd);
            dnnl_primitive_desc_destroy(bwd_pd);
            dnnl_primitive_desc_destroy(fwd_pd);
            doubt_tensor_release(&want);
            doubt_tensor_release(&diff_dst);
            doubt_tensor_release(&src);
            doubt_upsample_destroy(up);
            free(x);
            free(dy);
            free(dx);
        }
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- concat ---- */

START_TEST(concat_and_split)
{
    /* channel counts 5 + 19: the second input starts mid-block in nChw16c (the plain-copy
     * split); 16 + 32 keeps whole blocks (the direct-view split) */
    static const int channel_pairs[2][2] = {{5, 19}, {16, 32}};
    doubt_ctx *ctx = th_ctx(0);
    for (int p = 0; p < 2; p++)
        for (int l = 0; l < 2; l++) {
            ref_shape a = {3, channel_pairs[p][0], 3, 5}, b = {3, channel_pairs[p][1], 3, 5};
            ref_shape o = {3, a.c + b.c, 3, 5};
            long na = ref_count(a), nb = ref_count(b), no = ref_count(o);
            double *xa = dalloc(na), *xb = dalloc(nb), *y = dalloc(no), *dy = dalloc(no);
            th_fill_d(xa, na, 61, -1, 1);
            th_fill_d(xb, nb, 62, -1, 1);
            th_fill_d(dy, no, 63, -1, 1);
            for (int n = 0; n < 3; n++) {
                memcpy(y + n * o.c * 15, xa + n * a.c * 15, sizeof *y * a.c * 15);
                memcpy(y + n * o.c * 15 + a.c * 15, xb + n * b.c * 15, sizeof *y * b.c * 15);
            }
            doubt_tensor ta, tb, diff_dst;
            input_from(ctx, &ta, a, layouts[l], xa);
            input_from(ctx, &tb, b, layouts[l], xb);
            const dnnl_memory_desc_t *mds[2] = {&ta.md, &tb.md};
            doubt_concat *cat;
            TH_OK(ctx, doubt_concat_create(ctx, "t.cat", 2, mds, DOUBT_MODE_TRAIN, &cat));
            const doubt_tensor *srcs[2] = {&ta, &tb};
            TH_OK(ctx, doubt_concat_forward(ctx, cat, srcs));
            char what[64];
            snprintf(what, sizeof what, "concat %d+%d", a.c, b.c);
            ck_assert(compare(ctx, &cat->dst, y, what, layout_names[l]) == 0);
            tensor_from(ctx, &diff_dst, &cat->dst.md, dy);
            TH_OK(ctx, doubt_concat_backward(ctx, cat, &diff_dst));
            double *da = dalloc(na), *db = dalloc(nb);
            for (int n = 0; n < 3; n++) {
                memcpy(da + n * a.c * 15, dy + n * o.c * 15, sizeof *da * a.c * 15);
                memcpy(db + n * b.c * 15, dy + n * o.c * 15 + a.c * 15, sizeof *db * b.c * 15);
            }
            ck_assert(compare(ctx, &cat->diff_src[0], da, "  d src 0", layout_names[l]) == 0);
            ck_assert(compare(ctx, &cat->diff_src[1], db, "  d src 1", layout_names[l]) == 0);
            doubt_concat_destroy(cat);
            doubt_tensor_release(&ta);
            doubt_tensor_release(&tb);
            doubt_tensor_release(&diff_dst);
            free(xa);
            free(xb);
            free(y);
            free(dy);
            free(da);
            free(db);
        }
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- dropout ---- */

static doubt_dropout *make_dropout(doubt_ctx *ctx, const doubt_tensor *src, float p,
                                   uint32_t layer)
{
    doubt_dropout_desc d = {.name = "t.drop", .p = p, .seed = 2024, .layer_id = layer};
    doubt_dropout *drop;
    TH_OK(ctx, doubt_dropout_create(ctx, &d, &src->md, DOUBT_MODE_TRAIN, &drop));
    return drop;
}

/* Runs drop forward (step) on src and backward on dy, in src's layout, and asserts that element
 * i of the output and of the gradient is kept, scaled by 1/(1-p), exactly when
 * doubt_dropout_keep says so for stream step + its batch index and index[i]; and that some but
 * not all are kept. x and dy are in logical NCHW order, per_batch elements per image. */
static void assert_masks(doubt_ctx *ctx, doubt_dropout *drop, const doubt_tensor *src,
                         const double *x, const double *dy, long n, long per_batch,
                         uint64_t step, const uint64_t *index)
{
    doubt_tensor diff_dst;
    TH_OK(ctx, doubt_dropout_forward(ctx, drop, src, step));
    tensor_from(ctx, &diff_dst, &src->md, dy);
    TH_OK(ctx, doubt_dropout_backward(ctx, drop, &diff_dst));
    float *y = values(ctx, &drop->dst), *dx = values(ctx, &drop->diff_src);
    const double keep_prob = 1.0 - drop->desc.p;
    long kept = 0;
    for (long i = 0; i < n; i++) {
        int keep = doubt_dropout_keep(&drop->desc, step + (uint64_t)(i / per_batch), index[i]);
        kept += keep;
        ck_assert_double_eq_tol(y[i], keep ? x[i] / keep_prob : 0, 1e-6);
        ck_assert_double_eq_tol(dx[i], keep ? dy[i] / keep_prob : 0, 1e-6);
    }
    ck_assert(kept > 0 && kept < n);
    free(y);
    free(dx);
    doubt_tensor_release(&diff_dst);
}

/* y is 0 or x/(1-p) at every element, and the mask matches doubt_dropout_keep for the
 * logical index (for channel-wise masks, the channel's: one decision per row and channel,
 * shared by the whole plane), in both layouts; backward applies the same mask. */
static void check_masks(int channelwise)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {3, 19, 3, 5};
    long n = ref_count(s);
    double *x = dalloc(n), *dy = dalloc(n);
    th_fill_d(x, n, 71, 0.5, 1.5);
    th_fill_d(dy, n, 72, 0.5, 1.5);
    uint64_t *index = malloc((size_t)n * sizeof *index);
    for (long i = 0; i < n; i++)
        index[i] = channelwise ? (uint64_t)(i / 15 % 19) : (uint64_t)(i % (19 * 15));
    for (int l = 0; l < 2; l++) {
        doubt_tensor src;
        input_from(ctx, &src, s, layouts[l], x);
        doubt_dropout_desc d = {.name = "t.drop", .p = 0.3f, .seed = 2024, .layer_id = 5,
                                .channelwise = channelwise};
        doubt_dropout *drop;
        TH_OK(ctx, doubt_dropout_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &drop));
        assert_masks(ctx, drop, &src, x, dy, n, 19 * 15, 10, index);
        doubt_dropout_destroy(drop);
        doubt_tensor_release(&src);
    }
    free(index);
    free(x);
    free(dy);
    doubt_ctx_destroy(ctx);
}

START_TEST(dropout_masks_and_scales)
{
    check_masks(0);
}
END_TEST

START_TEST(dropout_channelwise_masks)
{
    check_masks(1);
}
END_TEST

/* L = Σ y·R through a Concrete dropout layer, with its noise fixed by the sample base. */
static double concrete_loss(doubt_ctx *ctx, doubt_concrete *c, const doubt_tensor *src,
                            const double *r, long n)
{
    TH_OK(ctx, doubt_concrete_forward(ctx, c, src, 4));
    float *y = values(ctx, &c->dst);
    double loss = 0;
    for (long i = 0; i < n; i++)
        loss += y[i] * r[i];
    free(y);
    return loss;
}

/* Concrete dropout's gradients to p_logit and to its input against central differences, in
 * both layouts; its masks are channel-wise and mostly near 0 or 1 at t = 0.1. */
START_TEST(concrete_dropout_gradients)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {3, 11, 4, 3};
    const long n = ref_count(s);
    double *x = dalloc(n), *r = dalloc(n);
    th_fill_d(x, n, 75, -1, 1);
    th_fill_d(r, n, 76, -1, 1);
    for (int l = 0; l < 2; l++) {
        doubt_tensor src, diff_dst;
        input_from(ctx, &src, s, layouts[l], x);
        tensor_from(ctx, &diff_dst, &src.md, r);
        doubt_concrete_desc d = {.name = "t.concrete", .seed = 9, .layer_id = 3};
        doubt_concrete *c;
        TH_OK(ctx, doubt_concrete_create(ctx, &d, &src.md, 0.3f, &c));
        ck_assert_double_eq_tol(doubt_concrete_rate(c), 0.3, 1e-6);
        concrete_loss(ctx, c, &src, r, n);
        TH_OK(ctx, doubt_concrete_backward(ctx, c, &diff_dst));
        const double analytic = c->diff_p_logit.data[0];
        const float keep = c->p_logit.data[0], h = 1e-3f;
        c->p_logit.data[0] = keep + h;
        const double up = concrete_loss(ctx, c, &src, r, n);
        c->p_logit.data[0] = keep - h;
        const double down = concrete_loss(ctx, c, &src, r, n);
        c->p_logit.data[0] = keep;
        const double numeric = (up - down) / (2 * h);
        ck_assert_msg(fabs(numeric - analytic) < 1e-2 * fabs(numeric) + 1e-3,
                      "dL/dp_logit %g, central differences %g", analytic, numeric);
        /* linear in x: dL/dx = R·factor exactly, one factor per (row, channel) */
        concrete_loss(ctx, c, &src, r, n);
        TH_OK(ctx, doubt_concrete_backward(ctx, c, &diff_dst));
        float *dx = values(ctx, &c->diff_src);
        long near_binary = 0;
        for (long i = 0; i < n; i++) {
            const long row_channel = i / (s.h * s.w);
            ck_assert_double_eq_tol(dx[i], r[i] * c->factor.data[row_channel], 1e-6);
        }
        for (long k = 0; k < s.n * s.c; k++)
            near_binary += c->z[k] < 0.05f || c->z[k] > 0.95f;
        ck_assert_int_gt(near_binary, s.n * s.c / 2);
        printf("  concrete dropout (layout %d): dL/dp_logit %.6f vs %.6f by differences\n", l,
               analytic, numeric);
        free(dx);
        doubt_concrete_destroy(c);
        doubt_tensor_release(&diff_dst);
        doubt_tensor_release(&src);
    }
    free(x);
    free(r);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A window at (x0, y0) of a larger plane draws, in both layouts, the masks of that plane's
 * logical indices, forward and backward; a window that does not fit is refused. */
START_TEST(dropout_window_uses_the_plane_indices)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {2, 17, 3, 5};
    const long plane_w = 12, plane_h = 9, x0 = 4, y0 = 6;
    long n = ref_count(s);
    double *x = dalloc(n);
    th_fill_d(x, n, 73, 0.5, 1.5);
    /* the plane index of each element of the window */
    uint64_t *index = malloc((size_t)n * sizeof *index);
    for (long i = 0; i < n; i++) {
        long c = i / 15 % 17, h = i / 5 % 3, w = i % 5;
        index[i] = (uint64_t)((c * plane_h + y0 + h) * plane_w + x0 + w);
    }
    for (int l = 0; l < 2; l++) {
        doubt_tensor src;
        input_from(ctx, &src, s, layouts[l], x);
        doubt_dropout *drop = make_dropout(ctx, &src, 0.4f, 6);
        const doubt_dropout_window win = {x0, y0, plane_w, plane_h};
        TH_OK(ctx, doubt_dropout_set_window(ctx, drop, &win));
        assert_masks(ctx, drop, &src, x, x, n, 17 * 15, 3, index);
        const doubt_dropout_window too_far = {8, y0, plane_w, plane_h};
        ck_assert_int_eq(doubt_dropout_set_window(ctx, drop, &too_far), DOUBT_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "does not fit"));
        doubt_dropout_destroy(drop);
        doubt_tensor_release(&src);
    }
    free(index);
    free(x);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Rows long enough for the bulk generator (eight Philox blocks at once) and for more than one
 * 256-element chunk, starting at every alignment through a window: the applied mask is still
 * doubt_dropout_keep's per element, element-wise and channel-wise, in both layouts. */
START_TEST(dropout_wide_rows_match_per_element_keep)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {2, 11, 4, 300};
    const long plane_w = 307, plane_h = 5, per_batch = 11 * 4 * 300;
    long n = ref_count(s);
    double *x = dalloc(n);
    th_fill_d(x, n, 74, 0.5, 1.5);
    uint64_t *index = malloc((size_t)n * sizeof *index);
    for (int channelwise = 0; channelwise < 2; channelwise++)
        for (long x0 = 0; x0 < 4; x0++) {
            for (long i = 0; i < n; i++) {
                long c = i / (4 * 300) % 11, h = i / 300 % 4, w = i % 300;
                index[i] = channelwise ? (uint64_t)c
                                       : (uint64_t)((c * plane_h + 1 + h) * plane_w + x0 + w);
            }
            for (int l = 0; l < 2; l++) {
                doubt_tensor src;
                input_from(ctx, &src, s, layouts[l], x);
                doubt_dropout_desc d = {.name = "t.drop", .p = 0.3f, .seed = 77, .layer_id = 9,
                                        .channelwise = channelwise};
                doubt_dropout *drop;
                TH_OK(ctx, doubt_dropout_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &drop));
                const doubt_dropout_window win = {x0, 1, plane_w, plane_h};
                TH_OK(ctx, doubt_dropout_set_window(ctx, drop, &win));
                assert_masks(ctx, drop, &src, x, x, n, per_batch, 5 + (uint64_t)x0, index);
                doubt_dropout_destroy(drop);
                doubt_tensor_release(&src);
            }
        }
    free(index);
    free(x);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A dropped element is +0 whatever the input, NaN and infinities included (a mask applied by
 * multiplying with 0 would keep NaN); a kept one is in / (1 - p): NaN stays NaN. */
START_TEST(dropout_drops_nan_and_inf_to_zero)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {1, 3, 2, 64};
    long n = ref_count(s);
    double *x = dalloc(n);
    for (long i = 0; i < n; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -1.5;
    for (int l = 0; l < 2; l++) {
        doubt_tensor src;
        input_from(ctx, &src, s, layouts[l], x);
        doubt_dropout *drop = make_dropout(ctx, &src, 0.5f, 4);
        TH_OK(ctx, doubt_dropout_forward(ctx, drop, &src, 1));
        float *y = values(ctx, &drop->dst);
        long dropped = 0;
        for (long i = 0; i < n; i++) {
            const uint64_t index = (uint64_t)(i % (3 * 2 * 64));
            if (doubt_dropout_keep(&drop->desc, 1, index)) {
                ck_assert(i % 3 == 0 ? isnan(y[i]) : y[i] == (float)x[i] / 0.5f);
                continue;
            }
            uint32_t word;
            memcpy(&word, &y[i], sizeof word);
            ck_assert_msg(word == 0, "%s element %ld (input %g): %g", layout_names[l], i, x[i],
                          y[i]);
            dropped++;
        }
        ck_assert(dropped > 0 && dropped < n);
        free(y);
        doubt_dropout_destroy(drop);
        doubt_tensor_release(&src);
    }
    free(x);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Returns the output of one dropout forward on a fixed input with the given thread count. */
static float *dropout_run(int threads, uint64_t sample, long *count)
{
    omp_set_num_threads(threads);
    doubt_ctx *ctx = th_ctx(threads);
    ref_shape s = {2, 32, 17, 23};
    long n = ref_count(s);
    double *x = dalloc(n);
    th_fill_d(x, n, 81, 0.5, 1.5);
    doubt_tensor src;
    input_from(ctx, &src, s, dnnl_aBcd16b, x);
    doubt_dropout *drop = make_dropout(ctx, &src, 0.5f, 3);
    TH_OK(ctx, doubt_dropout_forward(ctx, drop, &src, sample));
    float *y = values(ctx, &drop->dst);
    doubt_dropout_destroy(drop);
    doubt_tensor_release(&src);
    free(x);
    doubt_ctx_destroy(ctx);
    *count = n;
    return y;
}

START_TEST(dropout_same_on_any_thread_count)
{
    long n;
    float *one = dropout_run(1, 7, &n), *two = dropout_run(2, 7, &n), *other = dropout_run(2, 8, &n);
    ck_assert_mem_eq(one, two, n * sizeof *one);
    long differ = 0;
    for (long i = 0; i < n; i++)
        differ += one[i] != other[i];
    ck_assert_msg(differ > n / 4, "MC samples 7 and 8 differ at only %ld of %ld", differ, n);
    free(one);
    free(two);
    free(other);
}
END_TEST

START_TEST(dropout_keep_rate_and_mean)
{
    const doubt_dropout_desc d = {.p = 0.5f, .seed = 99, .layer_id = 1};
    const long draws = 1000000;
    long kept = 0;
    for (long i = 0; i < draws; i++)
        kept += doubt_dropout_keep(&d, (uint64_t)(i / 1000), (uint64_t)(i % 1000));
    double rate = (double)kept / draws, sd = sqrt(0.25 / draws);
    printf("  dropout keep rate %.5f (expect 0.5 +- %.5f)\n", rate, 3 * sd);
    ck_assert_double_lt(fabs(rate - 0.5), 3 * sd);

    /* E[dropout(x)] = x: average 2000 MC samples of a small tensor */
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {1, 3, 2, 2};
    double x[12];
    th_fill_d(x, 12, 91, 0.5, 1.5);
    doubt_tensor src;
    input_from(ctx, &src, s, dnnl_abcd, x);
    doubt_dropout *drop = make_dropout(ctx, &src, 0.5f, 4);
    double mean[12] = {0};
    const int samples = 2000;
    for (int t = 0; t < samples; t++) {
        TH_OK(ctx, doubt_dropout_forward(ctx, drop, &src, (uint64_t)t));
        for (int i = 0; i < 12; i++)
            mean[i] += drop->dst.data[i] / samples;
    }
    for (int i = 0; i < 12; i++) /* sd of the mean is x/sqrt(samples) for p = 0.5 */
        ck_assert_double_lt(fabs(mean[i] - x[i]), 4 * x[i] / sqrt(samples));
    doubt_dropout_destroy(drop);
    doubt_tensor_release(&src);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- errors ---- */

START_TEST(errors_have_messages)
{
    doubt_ctx *ctx = th_ctx(0);
    ref_shape s = {1, 3, 4, 4};
    double x[48] = {0};
    doubt_tensor src;
    input_from(ctx, &src, s, dnnl_abcd, x);
    doubt_conv *conv = NULL;
    doubt_conv_desc wrong_c = {.name = "enc.1.conv1", .in_channels = 4, .out_channels = 8,
                               .kernel = 3};
    ck_assert_int_eq(doubt_conv_create(ctx, &wrong_c, &src.md, DOUBT_MODE_TRAIN, &conv),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_null(conv);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), "enc.1.conv1") &&
                      strstr(doubt_ctx_error(ctx), "C=3"),
                  "message: %s", doubt_ctx_error(ctx));
    doubt_conv_desc k5 = {.name = "c", .in_channels = 3, .out_channels = 8, .kernel = 5};
    ck_assert_int_eq(doubt_conv_create(ctx, &k5, &src.md, DOUBT_MODE_TRAIN, &conv), DOUBT_ERR_ARG);
    ck_assert_int_eq(doubt_conv_create(ctx, NULL, &src.md, DOUBT_MODE_TRAIN, &conv), DOUBT_ERR_ARG);
    doubt_conv_desc ok = {.name = "c", .in_channels = 3, .out_channels = 8, .kernel = 3};
    ck_assert_int_eq(doubt_conv_create(ctx, &ok, NULL, DOUBT_MODE_TRAIN, &conv), DOUBT_ERR_ARG);
    TH_OK(ctx, doubt_conv_create(ctx, &ok, &src.md, DOUBT_MODE_TRAIN, &conv));
    ck_assert_int_eq(doubt_conv_backward(ctx, conv, &conv->dst), DOUBT_ERR_ARG); /* no forward */
    ck_assert_int_eq(doubt_conv_forward(ctx, conv, NULL), DOUBT_ERR_ARG);
    ck_assert_int_eq(doubt_conv_forward(ctx, conv, &conv->dst), DOUBT_ERR_ARG); /* 8 channels */
    doubt_conv_destroy(conv);
    doubt_conv_destroy(NULL);

    const int64_t zero_dims[4] = {1, 3, 0, 4};
    dnnl_memory_desc_t zero = doubt_md_make(4, zero_dims, dnnl_abcd);
    doubt_pool *pool = NULL;
    ck_assert_int_eq(doubt_pool_create(ctx, "p", &zero, DOUBT_MODE_TRAIN, 0, &pool), DOUBT_ERR_ARG);
    const int64_t tiny_dims[4] = {1, 3, 1, 1};
    dnnl_memory_desc_t tiny = doubt_md_make(4, tiny_dims, dnnl_abcd);
    ck_assert_int_eq(doubt_pool_create(ctx, "enc.1.pool", &tiny, DOUBT_MODE_TRAIN, 0, &pool),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "smaller than 2x2"));

    doubt_dropout_desc bad_p = {.name = "d", .p = 1.0f};
    doubt_dropout *drop = NULL;
    ck_assert_int_eq(doubt_dropout_create(ctx, &bad_p, &src.md, DOUBT_MODE_TRAIN, &drop),
                     DOUBT_ERR_ARG);
    doubt_bnorm_desc bn_wrong = {.name = "bn", .channels = 5};
    doubt_bnorm *bn = NULL;
    ck_assert_int_eq(doubt_bnorm_create(ctx, &bn_wrong, &src.md, DOUBT_MODE_TRAIN, &bn),
                     DOUBT_ERR_ARG);

    const int64_t other_dims[4] = {1, 2, 3, 4};
    dnnl_memory_desc_t other = doubt_md_make(4, other_dims, dnnl_abcd);
    const dnnl_memory_desc_t *mds[2] = {&src.md, &other};
    doubt_concat *cat = NULL;
    ck_assert_int_eq(doubt_concat_create(ctx, "dec.0.cat", 2, mds, DOUBT_MODE_TRAIN, &cat),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "dec.0.cat"));
    ck_assert_int_eq(doubt_concat_create(ctx, "c", 1, mds, DOUBT_MODE_TRAIN, &cat), DOUBT_ERR_ARG);
    doubt_tensor_release(&src);
    doubt_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *conv = tcase_create("conv");
    tcase_add_loop_test(conv, conv_matches_reference, 0, sizeof conv_cases / sizeof conv_cases[0]);
    tcase_add_test(conv, conv_fused_relu_inference);
    tcase_add_loop_test(conv, winograd_matches_reference, 0,
                        sizeof wino_cases / sizeof wino_cases[0]);
    tcase_add_test(conv, winograd_only_where_it_applies);
    tcase_add_test(conv, winograd_treats_nan_as_direct);
    tcase_add_loop_test(conv, winograd_training_matches_reference, 0,
                        sizeof wino_train_cases / sizeof wino_train_cases[0]);
    suite_add_tcase(s, conv);
    TCase *bn = tcase_create("bnorm");
    tcase_add_loop_test(bn, bnorm_matches_reference, 0, sizeof bn_cases / sizeof bn_cases[0]);
    tcase_add_test(bn, bnorm_inference_uses_running_stats);
    suite_add_tcase(s, bn);
    TCase *simple = tcase_create("relu+pool+upsample+concat");
    tcase_add_test(simple, simple_layers_match_reference);
    tcase_add_test(simple, upsample_backward_matches_onednn);
    tcase_add_test(simple, concat_and_split);
    suite_add_tcase(s, simple);
    TCase *drop = tcase_create("dropout");
    tcase_add_test(drop, dropout_masks_and_scales);
    tcase_add_test(drop, dropout_window_uses_the_plane_indices);
    tcase_add_test(drop, dropout_wide_rows_match_per_element_keep);
    tcase_add_test(drop, dropout_drops_nan_and_inf_to_zero);
    tcase_add_test(drop, dropout_same_on_any_thread_count);
    tcase_add_test(drop, dropout_keep_rate_and_mean);
    tcase_add_test(drop, dropout_channelwise_masks);
    tcase_add_test(drop, concrete_dropout_gradients);
    suite_add_tcase(s, drop);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, errors_have_messages);
    suite_add_tcase(s, errors);
    return th_run(s);
}
