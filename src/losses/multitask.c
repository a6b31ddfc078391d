/* Task weighting: learned task uncertainties (Kendall, Gal & Cipolla 2018) or fixed weights. */
#include <math.h>

#include "losses.h"

doubt_status doubt_losses_multitask(int tasks, const doubt_task_kind *kinds, const float *task_loss,
                                    const float *log_var, float *total, float *scale,
                                    float *grad_log_var, doubt_error *err)
{
    if (!kinds || !task_loss || !log_var || !total)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask: %s is NULL",
                          !kinds       ? "kinds"
                          : !task_loss ? "task_loss"
                          : !log_var   ? "log_var"
                                       : "total");
    if (tasks <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "multitask: %d tasks, need > 0", tasks);
    for (int k = 0; k < tasks; k++)
        if (kinds[k] != DOUBT_TASK_REGRESSION && kinds[k] != DOUBT_TASK_CLASSIFICATION)
            return doubt_fail(err, DOUBT_ERR_ARG, "multitask: task %d has unknown kind %d", k,
                              (int)kinds[k]);
    double sum = 0;
    for (int k = 0; k < tasks; k++) {
        /* regression: ½·exp(-s)·L + ½·s (Gaussian likelihood); classification: exp(-s)·L +
         * ½·s (the paper's approximation of a softmax with temperature σ²) */
        const double s = log_var[k], l = task_loss[k];
        const double a = exp(-s) * (kinds[k] == DOUBT_TASK_REGRESSION ? 0.5 : 1.0);
        sum += a * l + 0.5 * s;
        if (scale)
            scale[k] = (float)a;
        if (grad_log_var)
            grad_log_var[k] = (float)(0.5 - a * l);
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
