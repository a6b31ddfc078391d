/* Plain and heteroscedastic regression losses, mean over valid pixels. */
#include <math.h>

#include "chunks.h"
#include "losses.h"

static const char *reg_name(doubt_reg_kind kind)
{
    switch (kind) {
    case DOUBT_REG_L1: return "l1";
    case DOUBT_REG_L2: return "l2";
    case DOUBT_REG_GAUSSIAN: return "gaussian";
    case DOUBT_REG_LAPLACE: return "laplace";
    }
    return NULL;
}

static inline int reg_valid(const uint8_t *mask, const float *target, int64_t i)
{
    return mask ? mask[i] != 0 : target[i] != 0.0f;
}

static inline double sign_of(double r)
{
    return (r > 0) - (r < 0);
}

doubt_status doubt_losses_regression(doubt_reg_kind kind, int64_t count, const float *pred,
                                     const float *log_var, const float *target, const uint8_t *mask,
                                     float *loss, float *grad_pred, float *grad_log_var,
                                     doubt_error *err)
{
    const char *name = reg_name(kind);
    if (!name)
        return doubt_fail(err, DOUBT_ERR_ARG, "regression loss: unknown kind %d", (int)kind);
    const int learned = kind == DOUBT_REG_GAUSSIAN || kind == DOUBT_REG_LAPLACE;
    if (!pred || !target || !loss || (learned && !log_var))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s loss: %s is NULL", name,
                          !pred     ? "pred"
                          : !target ? "target"
                          : !loss   ? "loss"
                                    : "log_var");
    if (count <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s loss: count %lld, need > 0", name,
                          (long long)count);
    if (!learned)
        grad_log_var = NULL;

    int64_t valid = 0; /* an integer sum is exact, so its order does not matter */
#pragma omp parallel for reduction(+ : valid)
    for (int64_t i = 0; i < count; i++)
        valid += reg_valid(mask, target, i);
    const double inv = valid ? 1.0 / (double)valid : 0.0;

    double partial[DOUBT_LOSSES_CHUNKS];
    const int chunks = losses_chunk_count(count);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < chunks; k++) {
        double acc = 0;
        const int64_t end = losses_chunk_start(count, chunks, k + 1);
        for (int64_t i = losses_chunk_start(count, chunks, k); i < end; i++) {
            double l = 0, gp = 0, gs = 0;
            if (reg_valid(mask, target, i)) {
                const double r = (double)pred[i] - (double)target[i];
                const double s = learned ? (double)log_var[i] : 0.0;
                switch (kind) {
                case DOUBT_REG_L1:
                    l = fabs(r);
                    gp = sign_of(r);
                    break;
                case DOUBT_REG_L2:
                    l = r * r;
                    gp = 2 * r;
                    break;
                case DOUBT_REG_GAUSSIAN: {
                    const double e = exp(-s);
                    l = 0.5 * e * r * r + 0.5 * s;
                    gp = e * r;
                    gs = 0.5 - 0.5 * e * r * r;
                    break;
                }
                case DOUBT_REG_LAPLACE: {
                    const double e = exp(-s);
                    l = e * fabs(r) + s;
                    gp = e * sign_of(r);
                    gs = 1 - e * fabs(r);
                    break;
                }
                }
            }
            acc += l;
            if (grad_pred)
                grad_pred[i] = (float)(gp * inv);
            if (grad_log_var)
                grad_log_var[i] = (float)(gs * inv);
        }
        partial[k] = acc;
    }
    const double total = losses_sum_partials(partial, chunks) * inv;
    *loss = (float)total;
    if (!isfinite(*loss))
        return doubt_fail(err, DOUBT_ERR_NUMERIC,
                          "%s loss: value %g over %lld valid pixels is not finite (NaN or Inf "
                          "in pred, target or log_var?)",
                          name, total, (long long)valid);
    return DOUBT_OK;
}
