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
                                     double data_weight, doubt_reg_loss *loss, float *grad_pred,
                                     float *grad_log_var, doubt_error *err)
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
    if (!(data_weight >= 0) || isinf(data_weight))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s loss: data_weight %g, need finite and >= 0",
                          name, data_weight);
    if (!learned)
        grad_log_var = NULL;

    int64_t valid = 0; /* an integer sum is exact, so its order does not matter */
#pragma omp parallel for reduction(+ : valid)
    for (int64_t i = 0; i < count; i++)
        valid += reg_valid(mask, target, i);
    const double inv = valid ? 1.0 / (double)valid : 0.0;
    const double a = data_weight;

    /* per chunk: the data term d and the log term ρ, summed separately */
    double partial_d[DOUBT_LOSSES_CHUNKS], partial_r[DOUBT_LOSSES_CHUNKS];
    const int chunks = losses_chunk_count(count);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < chunks; k++) {
        double acc_d = 0, acc_r = 0;
        const int64_t end = losses_chunk_start(count, chunks, k + 1);
        for (int64_t i = losses_chunk_start(count, chunks, k); i < end; i++) {
            /* d, ρ and the gradients of a·d + ρ */
            double d = 0, rho = 0, gp = 0, gs = 0;
            if (reg_valid(mask, target, i)) {
                const double r = (double)pred[i] - (double)target[i];
                const double s = learned ? (double)log_var[i] : 0.0;
                switch (kind) {
                case DOUBT_REG_L1:
                    d = fabs(r);
                    gp = a * sign_of(r);
                    break;
                case DOUBT_REG_L2:
                    d = r * r;
                    gp = a * 2 * r;
                    break;
                case DOUBT_REG_GAUSSIAN: {
                    const double e = exp(-s);
                    d = 0.5 * e * r * r;
                    rho = 0.5 * s;
                    gp = a * e * r;
                    gs = 0.5 - a * d;
                    break;
                }
                case DOUBT_REG_LAPLACE: {
                    const double e = exp(-s);
                    d = e * fabs(r);
                    rho = s;
                    gp = a * e * sign_of(r);
                    gs = 1 - a * d;
                    break;
                }
                }
            }
            acc_d += d;
            acc_r += rho;
            if (grad_pred)
                grad_pred[i] = (float)(gp * inv);
            if (grad_log_var)
                grad_log_var[i] = (float)(gs * inv);
        }
        partial_d[k] = acc_d;
        partial_r[k] = acc_r;
    }
    const double data = losses_sum_partials(partial_d, chunks) * inv;
    const double log_term = losses_sum_partials(partial_r, chunks) * inv;
    const double value = a * data + log_term;
    *loss = (doubt_reg_loss){(float)data, (float)log_term, (float)value};
    if (!isfinite(loss->data) || !isfinite(loss->log_term) || !isfinite(loss->value))
        return doubt_fail(err, DOUBT_ERR_NUMERIC,
                          "%s loss: data term %g, log term %g, value %g over %lld valid pixels "
                          "(NaN or Inf in pred, target or log_var?)",
                          name, data, log_term, value, (long long)valid);
    return DOUBT_OK;
}
