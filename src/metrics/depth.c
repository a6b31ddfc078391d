#include <math.h>
#include <stdlib.h>

#include "metrics.h"

const double doubt_depth_within_ideal[3] = {0.682689492137086, 0.954499736103642,
                                            0.997300203936740};

struct doubt_depth_metrics {
    int64_t pixels, var_pixels;
    double abs_rel, sq_rel, sq, sq_log, log10;
    int64_t delta[3];
    double nll;
    int64_t within[3];
};

doubt_status doubt_depth_metrics_create(doubt_depth_metrics **out, doubt_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? DOUBT_OK : doubt_fail(err, DOUBT_ERR_NOMEM, "depth metrics: no memory");
}

void doubt_depth_metrics_destroy(doubt_depth_metrics *m) { free(m); }

static int valid_gt(float y) { return y > 0.0f && isfinite(y); }

doubt_status doubt_depth_metrics_add(doubt_depth_metrics *m, const float *pred, const float *gt,
                                     const float *var, int height, int width, doubt_error *err)
{
    if (!m || !pred || !gt || height < 0 || width < 0)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "depth metrics: need pred and gt and a size >= 0 (got %dx%d)", width,
                          height);
    const int64_t n = (int64_t)height * width;
    for (int64_t i = 0; i < n; i++) {
        if (!valid_gt(gt[i]))
            continue;
        if (!isfinite(pred[i]))
            return doubt_fail(err, DOUBT_ERR_NUMERIC,
                              "depth metrics: predicted depth at pixel (%d, %d) is not finite",
                              (int)(i % width), (int)(i / width));
        if (var && !(var[i] >= 0.0f && isfinite(var[i])))
            return doubt_fail(
                err, DOUBT_ERR_NUMERIC,
                "depth metrics: variance %g at pixel (%d, %d) is negative or not finite",
                (double)var[i], (int)(i % width), (int)(i / width));
    }
    static const double thr[3] = {1.25, 1.25 * 1.25, 1.25 * 1.25 * 1.25};
    for (int64_t i = 0; i < n; i++) {
        if (!valid_gt(gt[i]))
            continue;
        const double y = gt[i], mu = pred[i];
        const double mu_c = mu > DOUBT_DEPTH_LOG_FLOOR ? mu : DOUBT_DEPTH_LOG_FLOOR;
        const double d = mu - y;
        const double dl = log(mu_c) - log(y);
        m->pixels++;
        m->abs_rel += fabs(d) / y;
        m->sq_rel += d * d / y;
        m->sq += d * d;
        m->sq_log += dl * dl;
        m->log10 += fabs(log10(mu_c) - log10(y));
        const double ratio = mu_c > y ? mu_c / y : y / mu_c;
        for (int k = 0; k < 3; k++)
            m->delta[k] += ratio < thr[k];
        if (!var)
            continue;
        const double v = var[i] > DOUBT_VAR_FLOOR ? var[i] : DOUBT_VAR_FLOOR;
        const double sigma = sqrt(v);
        m->var_pixels++;
        m->nll += 0.5 * log(6.283185307179586 * v) + d * d / (2.0 * v);
        for (int k = 0; k < 3; k++)
            m->within[k] += fabs(d) <= (k + 1) * sigma;
    }
    return DOUBT_OK;
}

void doubt_depth_metrics_result(const doubt_depth_metrics *m, doubt_depth_result *r)
{
    const double n = (double)m->pixels, nv = (double)m->var_pixels;
    const int some = m->pixels > 0, somev = m->var_pixels > 0;
    r->pixels = m->pixels;
    r->var_pixels = m->var_pixels;
    r->abs_rel = some ? m->abs_rel / n : NAN;
    r->sq_rel = some ? m->sq_rel / n : NAN;
    r->rmse = some ? sqrt(m->sq / n) : NAN;
    r->rmse_log = some ? sqrt(m->sq_log / n) : NAN;
    r->log10 = some ? m->log10 / n : NAN;
    r->nll = somev ? m->nll / nv : NAN;
    for (int k = 0; k < 3; k++) {
        r->delta[k] = some ? (double)m->delta[k] / n : NAN;
        r->within[k] = somev ? (double)m->within[k] / nv : NAN;
    }
}
