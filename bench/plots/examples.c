/* Renders the three example figures of `doubt eval --plots` from toy data (no model needed):
 * an over-confident 4-class classifier for the reliability diagram, and a depth-like error
 * |N(0, σ)| with a noisy estimate of σ as its uncertainty for the other two. See README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "viz/plot.h"

static int fail(const doubt_error *err)
{
    fprintf(stderr, "examples: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[512];
    doubt_error err = {{0}};
    const doubt_rng_key key = {2026, 0, 0};

    /* segmentation: confidence uniform in [0.3, 1), right with probability 0.85 × confidence */
    enum { H = 64, W = 64, C = 4, N = H * W };
    static uint8_t label[N];
    static float prob[C * N];
    for (int i = 0; i < N; i++) {
        label[i] = (uint8_t)(doubt_rng_bits(key, (uint64_t)i) % C);
        const float conf = 0.3f + 0.7f * doubt_rng_uniform(key, (uint64_t)(N + i));
        const int right = doubt_rng_uniform(key, (uint64_t)(2 * N + i)) < 0.85f * conf;
        const int top = right ? label[i] : (label[i] + 1) % C;
        for (int c = 0; c < C; c++)
            prob[c * N + i] = c == top ? conf : (1.0f - conf) / (C - 1);
    }
    doubt_seg_metrics *sm;
    if (doubt_seg_metrics_create(C, &sm, &err) ||
        doubt_seg_metrics_add(sm, label, NULL, prob, H, W, &err))
        return fail(&err);
    doubt_seg_result r;
    doubt_seg_metrics_result(sm, &r);
    doubt_seg_metrics_destroy(sm);
    snprintf(path, sizeof path, "%s/reliability.png", dir);
    if (doubt_plot_reliability(path, &r, "Reliability diagram (toy, over-confident)", &err))
        return fail(&err);

    /* depth: σ uniform in [0.05, 2.05) m, error |N(0, σ)|, uncertainty σ × U[0.7, 1.3) */
    enum { M = 20000 };
    static float u[M], e[M];
    for (int i = 0; i < M; i++) {
        const float s = 0.05f + 2.0f * doubt_rng_uniform(key, (uint64_t)(3 * N + i));
        e[i] = fabsf(s * doubt_rng_normal(key, (uint64_t)(10 * N + i)));
        u[i] = s * (0.7f + 0.6f * doubt_rng_uniform(key, (uint64_t)(5 * N + i)));
    }
    doubt_sparsification sp;
    if (doubt_sparsification_compute(u, e, M, DOUBT_SPARSE_RMSE, &sp, &err))
        return fail(&err);
    snprintf(path, sizeof path, "%s/sparsification.png", dir);
    if (doubt_plot_sparsification(path, &sp, "Depth RMSE", "Sparsification: depth RMSE (toy)",
                                  &err))
        return fail(&err);
    snprintf(path, sizeof path, "%s/uncertainty_error.png", dir);
    if (doubt_plot_uncertainty_error(path, u, e, M, "Predicted depth sigma (m)",
                                     "Mean absolute error (m)", "Depth error against sigma (toy)",
                                     &err))
        return fail(&err);
    printf("ECE %.4f, pixel accuracy %.4f, AUSE (depth RMSE) %.4f\n", r.ece, r.pixel_acc, sp.ause);
    return 0;
}
