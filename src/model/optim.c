#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

doubt_status doubt_optim_create(doubt_ctx *ctx, const doubt_optim_desc *desc, doubt_optim **out)
{
    *out = NULL;
    if (!desc || !(desc->lr > 0) || desc->weight_decay < 0 || desc->total_steps <= 0 ||
        desc->warmup_steps < 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "optimizer: learning rate must be > 0, weight decay >= 0, steps > 0");
    doubt_optim *opt = calloc(1, sizeof *opt);
    if (!opt)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "optimizer: out of memory");
    opt->desc = *desc;
    if (opt->desc.momentum == 0)
        opt->desc.momentum = 0.9f;
    if (opt->desc.beta1 == 0)
        opt->desc.beta1 = 0.9f;
    if (opt->desc.beta2 == 0)
        opt->desc.beta2 = 0.999f;
    if (opt->desc.eps == 0)
        opt->desc.eps = 1e-8f;
    *out = opt;
    return DOUBT_OK;
}

void doubt_optim_destroy(doubt_optim *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n_slots; i++) {
        doubt_tensor_release(&opt->slots[i].m);
        doubt_tensor_release(&opt->slots[i].v);
    }
    free(opt->slots);
    free(opt);
}

doubt_status doubt_optim_add(doubt_ctx *ctx, doubt_optim *opt, const char *name,
                             doubt_tensor *value, doubt_tensor *grad, int decay)
{
    doubt_status st;
    if (!value || !grad || !value->mem || !grad->mem ||
        !dnnl_memory_desc_equal(&value->md, &grad->md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "optimizer: %s and its gradient must share one layout", name);
    if (opt->n_slots == opt->cap_slots) {
        int cap = opt->cap_slots ? 2 * opt->cap_slots : 64;
        doubt_optim_slot *grown = realloc(opt->slots, (size_t)cap * sizeof *grown);
        if (!grown)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "optimizer: out of memory");
        opt->slots = grown;
        opt->cap_slots = cap;
    }
    doubt_optim_slot *s = &opt->slots[opt->n_slots];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->value = value;
    s->grad = grad;
    s->decay = decay;
    if ((st = doubt_tensor_init(ctx, &s->m, &value->md, DOUBT_TENSOR_OWNED, name)) != DOUBT_OK)
        return st;
    if (opt->desc.kind == DOUBT_OPTIM_ADAM &&
        (st = doubt_tensor_init(ctx, &s->v, &value->md, DOUBT_TENSOR_OWNED, name)) != DOUBT_OK) {
        doubt_tensor_release(&s->m);
        return st;
    }
    opt->n_slots++;
    return DOUBT_OK;
}

float doubt_optim_lr(const doubt_optim_desc *d, int64_t step)
{
    if (step < d->warmup_steps)
        return d->lr * (float)(step + 1) / (float)d->warmup_steps;
    int64_t span = d->total_steps - d->warmup_steps;
    double progress = span > 0 ? (double)(step - d->warmup_steps) / (double)span : 1.0;
    if (progress > 1)
        progress = 1;
    return (float)(d->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}

doubt_status doubt_optim_check_grads(doubt_ctx *ctx, const doubt_optim *opt)
{
    for (int i = 0; i < opt->n_slots; i++) {
        const doubt_optim_slot *s = &opt->slots[i];
        const size_t n = doubt_tensor_bytes(s->grad) / sizeof(float);
        int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
        for (size_t k = 0; k < n; k++)
            bad |= !isfinite(s->grad->data[k]);
        if (bad)
            return doubt_fail(&ctx->err, DOUBT_ERR_NUMERIC,
                              "gradient of %s has NaN or Inf at step %lld; weights kept", s->name,
                              (long long)opt->step);
    }
    return DOUBT_OK;
}

void doubt_optim_update(doubt_optim *opt)
{
    const doubt_optim_desc *d = &opt->desc;
    const float lr = doubt_optim_lr(d, opt->step);
    const int64_t t = opt->step + 1;
    const float bias1 = 1.0f - powf(d->beta1, (float)t), bias2 = 1.0f - powf(d->beta2, (float)t);
    for (int i = 0; i < opt->n_slots; i++) {
        doubt_optim_slot *s = &opt->slots[i];
        const size_t n = doubt_tensor_bytes(s->value) / sizeof(float);
        float *w = s->value->data, *g = s->grad->data, *m = s->m.data, *v = s->v.data;
        const float wd = s->decay ? d->weight_decay : 0.0f;
        if (d->kind == DOUBT_OPTIM_ADAM) {
#pragma omp parallel for schedule(static)
            for (size_t k = 0; k < n; k++) {
                float grad = g[k] + wd * w[k];
                m[k] = d->beta1 * m[k] + (1 - d->beta1) * grad;
                v[k] = d->beta2 * v[k] + (1 - d->beta2) * grad * grad;
                w[k] -= lr * (m[k] / bias1) / (sqrtf(v[k] / bias2) + d->eps);
            }
        } else {
#pragma omp parallel for schedule(static)
            for (size_t k = 0; k < n; k++) {
                m[k] = d->momentum * m[k] + g[k] + wd * w[k];
                w[k] -= lr * m[k];
            }
        }
    }
    opt->step++;
}
