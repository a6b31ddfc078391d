/* Task weighting: learned task uncertainties (Kendall, Gal & Cipolla 2018) or fixed weights. */
#include <math.h>

#include "losses.h"

/* w(s) = c·exp(-a·s): the factor c and the rate a of each task kind (losses.h) */
static int task_weight_form(doubt_task_kind kind, double *c, double *a)
{
    switch (kind) {
    case DOUBT_TASK_REGRESSION: *c = 0.5, *a = 1; return 1;      /* plain L1/L2: Gaussian in r */
    case DOUBT_TASK_CLASSIFICATION: *c = 1, *a = 1; return 1;    /* softmax at temperature σ² */
    case DOUBT_TASK_HETERO_GAUSSIAN: *c = 1, *a = 1; return 1;   /* variance σ_k²·σ² */
    case DOUBT_TASK_HETERO_LAPLACE: *c = 1, *a = 0.5; return 1;  /* scale σ_k·b */
    }
    return 0;
}

double doubt_losses_task_weight(doubt_task_kind kind, float log_var)
{
    double c, a;
    return task_weight_form(kind, &c, &a) ? c * exp(-a * (double)log_var) : NAN;
}

doubt_task_kind doubt_losses_task_of(doubt_reg_kind kind)
{
    return kind == DOUBT_REG_GAUSSIAN  ? DOUBT_TASK_HETERO_GAUSSIAN
           : kind == DOUBT_REG_LAPLACE ? DOUBT_TASK_HETERO_LAPLACE
                                       : DOUBT_TASK_REGRESSION;
}

doubt_status doubt_losses_multitask(int tasks, const doubt_task_kind *kinds, const float *data,
                                    const float *log_term, const float *log_var, float *total,
                                    float *scale, float *grad_log_var, doubt_error *err)
{
    if (!kinds || !data || !log_var || !total)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask: %s is NULL",
                          !kinds     ? "kinds"
                          : !data    ? "data"
                          : !log_var ? "log_var"
                                     : "total");
    if (tasks <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask: %d tasks, need > 0", tasks);
    double c, a;
    for (int k = 0; k < tasks; k++) {
        if (!task_weight_form(kinds[k], &c, &a))
            return doubt_fail(err, DOUBT_ERR_ARG, "multitask: task %d has unknown kind %d", k,
                              (int)kinds[k]);
        /* the bound below rests on D_k >= 0 (NaN passes, to fail as not finite below) */
        if (data[k] < 0)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "multitask: task %d data term %g < 0 (a log term belongs in "
                              "log_term, unweighted)",
                              k, (double)data[k]);
    }
    double sum = 0;
    for (int k = 0; k < tasks; k++) {
        task_weight_form(kinds[k], &c, &a);
        const double s = log_var[k], d = data[k], r = log_term ? log_term[k] : 0.0;
        const double w = c * exp(-a * s); /* w'(s) = -a·w */
        sum += w * d + r + 0.5 * s;
        if (scale)
            scale[k] = (float)w;
        if (grad_log_var)
            grad_log_var[k] = (float)(0.5 - a * w * d);
    }
    *total = (float)sum;
    if (!isfinite(*total))
        return doubt_fail(err, DOUBT_ERR_NUMERIC, "multitask: total %g is not finite", sum);
    return DOUBT_OK;
}

doubt_status doubt_losses_multitask_fixed(int tasks, const float *weight, const float *task_loss,
                                          float *total, float *scale, doubt_error *err)
{
    if (!weight || !task_loss || !total)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask_fixed: %s is NULL",
                          !weight      ? "weight"
                          : !task_loss ? "task_loss"
                                       : "total");
    if (tasks <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask_fixed: %d tasks, need > 0", tasks);
    double sum = 0;
    for (int k = 0; k < tasks; k++) {
        sum += (double)weight[k] * (double)task_loss[k];
        if (scale)
            scale[k] = weight[k];
    }
    *total = (float)sum;
    if (!isfinite(*total))
        return doubt_fail(err, DOUBT_ERR_NUMERIC, "multitask_fixed: total %g is not finite", sum);
    return DOUBT_OK;
}
