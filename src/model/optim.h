/* Optimisers over a network's parameters: Adam and SGD with momentum, L2 weight decay (the
 * prior term of dropout-as-variational-inference), and a learning rate with linear warm-up
 * then cosine decay to zero:
 *   lr(t) = lr·(t+1)/warmup                        for t < warmup
 *   lr(t) = lr·½·(1 + cos(π·(t-warmup)/(total-warmup)))   after
 *
 * A slot is one parameter tensor with its gradient, updated in place in its physical layout
 * (oneDNN's blocked padding has zero gradients and stays zero). Moment buffers share the
 * parameter's layout, so a checkpoint reads them out with doubt_tensor_read like the
 * parameter itself.
 */
#ifndef DOUBT_MODEL_OPTIM_H
#define DOUBT_MODEL_OPTIM_H

#include "core/tensor.h"

typedef enum { DOUBT_OPTIM_ADAM, DOUBT_OPTIM_SGD } doubt_optim_kind;

typedef struct {
    doubt_optim_kind kind;
    float lr;
    float weight_decay; /* added as wd·θ to the gradient of decayed slots */
    float momentum;     /* SGD; 0 means 0.9 */
    float beta1, beta2, eps; /* Adam; 0 means 0.9, 0.999, 1e-8 */
    int64_t warmup_steps;
    int64_t total_steps;
} doubt_optim_desc;

typedef struct {
    char name[48];
    doubt_tensor *value, *grad; /* borrowed */
    int decay;                  /* 1: weight decay applies */
    doubt_tensor m, v;          /* owned; v unused by SGD */
} doubt_optim_slot;

typedef struct {
    doubt_optim_desc desc;
    doubt_optim_slot *slots;
    int n_slots, cap_slots;
    int64_t step; /* updates done so far */
} doubt_optim;

doubt_status doubt_optim_create(doubt_ctx *ctx, const doubt_optim_desc *desc, doubt_optim **out);
void doubt_optim_destroy(doubt_optim *opt);
doubt_status doubt_optim_add(doubt_ctx *ctx, doubt_optim *opt, const char *name,
                             doubt_tensor *value, doubt_tensor *grad, int decay);

float doubt_optim_lr(const doubt_optim_desc *desc, int64_t step);

/* Fails with DOUBT_ERR_NUMERIC, naming the tensor, if a gradient holds NaN or Inf; then no
 * parameter has changed. */
doubt_status doubt_optim_check_grads(doubt_ctx *ctx, const doubt_optim *opt);
/* One update of every slot at the current step's learning rate; step += 1. */
void doubt_optim_update(doubt_optim *opt);

#endif
