#include "train.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "losses/losses.h"
#include "model/weights.h"

static doubt_status alloc_buffers(doubt_ctx *ctx, doubt_trainer *tr)
{
    const size_t pixels = (size_t)tr->config.batch * tr->config.crop * tr->config.crop;
    const size_t classes = (size_t)tr->config.net.classes;
    float **planes[] = {&tr->depth,         &tr->noise,         &tr->seg_log_var,
                        &tr->depth_pred,    &tr->depth_log_var, &tr->grad_seg_log_var,
                        &tr->grad_depth,    &tr->grad_depth_log_var, &tr->depth_target};
    for (size_t i = 0; i < sizeof planes / sizeof planes[0]; i++)
        *planes[i] = calloc(pixels, sizeof(float));
    tr->images = calloc(pixels * 3, sizeof(float));
    tr->seg_logits = calloc(pixels * classes, sizeof(float));
    tr->grad_logits = calloc(pixels * classes, sizeof(float));
    tr->labels = calloc(pixels, 1);
    tr->depth_valid = calloc(pixels, 1);
    size_t running = 0;
    for (int i = 0; i < tr->net->n_params; i++)
        if (!tr->net->params[i].grad)
            running += (size_t)doubt_tensor_count(tr->net->params[i].value);
    tr->running_before = malloc((running + 1) * sizeof(float));
    int ok = tr->images && tr->seg_logits && tr->grad_logits && tr->labels && tr->depth_valid &&
             tr->running_before;
    for (size_t i = 0; i < sizeof planes / sizeof planes[0]; i++)
        ok = ok && *planes[i];
    return ok ? DOUBT_OK : doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "trainer: out of memory");
}

static doubt_status add_slots(doubt_ctx *ctx, doubt_trainer *tr)
{
    doubt_status st;
    for (int i = 0; i < tr->net->n_params; i++) {
        doubt_net_param *p = &tr->net->params[i];
        if (!p->grad)
            continue; /* running statistics */
        const int is_conv_weight = p->info.ndim == 4 &&
                                   doubt_concrete_reg_decays(tr->concrete, p->info.name);
        if ((st = doubt_optim_add(ctx, tr->optim, p->info.name, p->value, p->grad,
                                  is_conv_weight)) != DOUBT_OK)
            return st;
    }
    if (tr->config.weighting == DOUBT_WEIGHTING_LEARNED)
        return doubt_optim_add(ctx, tr->optim, "task.log_var", &tr->task_log_var,
                               &tr->task_log_var_grad, 0);
    return DOUBT_OK;
}

doubt_status doubt_trainer_create(doubt_ctx *ctx, const doubt_train_config *config,
                                  doubt_trainer **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if (!config || config->batch <= 0 || config->crop <= 0 || config->loss_samples <= 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "trainer: needs batch > 0, crop > 0, loss samples > 0");
    doubt_status in = doubt_netdesc_check_image_input(&config->net, &ctx->err);
    if (in != DOUBT_OK)
        return in;
    doubt_trainer *tr = calloc(1, sizeof *tr);
    if (!tr)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "trainer: out of memory");
    tr->config = *config;
    tr->has_seg = tr->has_depth = 1;
    if (config->data_dir) {
        doubt_dataset_opts data_opts = {.classes = config->net.classes};
        DOUBT_TRY(doubt_dataset_open(config->data_dir, &data_opts, &tr->data, &ctx->err));
        tr->has_seg = doubt_dataset_has_labels(tr->data);
        tr->has_depth = doubt_dataset_has_depth(tr->data);
        /* A description naming no no-depth classes takes the dataset's, so the weights tell
         * predict where depth is undefined (the dataset checked them against the classes). */
        if (!tr->config.net.no_depth_count) {
            const uint8_t *classes;
            tr->config.net.no_depth_count = doubt_dataset_no_depth_classes(tr->data, &classes);
            memcpy(tr->config.net.no_depth_classes, classes,
                   (size_t)tr->config.net.no_depth_count);
        }
        if (!tr->has_seg && !tr->has_depth) {
            st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT,
                            "%s: neither labels/ nor depth/ to train on", config->data_dir);
            goto done;
        }
        doubt_batch_opts batch_opts = {.batch = config->batch, .crop_w = config->crop,
                                       .crop_h = config->crop, .flip = 1, .seed = config->seed};
        DOUBT_TRY(doubt_batcher_create(tr->data, &batch_opts, &tr->batcher, &ctx->err));
    }
    DOUBT_TRY(doubt_net_create(ctx, &tr->config.net, config->batch, config->crop, config->crop,
                                DOUBT_MODE_TRAIN, &tr->net));
    doubt_net_set_dropout_seed(tr->net, config->seed);
    if (config->net.concrete)
        DOUBT_TRY(doubt_concrete_reg_create(ctx, tr->net, config->optim.weight_decay,
                                            tr->data ? doubt_dataset_count(tr->data)
                                                     : config->batch,
                                            &tr->concrete));
    const int64_t two = 2;
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &tr->task_log_var, 1, &two, DOUBT_TENSOR_OWNED,
                                      "task.log_var"));
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &tr->task_log_var_grad, 1, &two, DOUBT_TENSOR_OWNED,
                                      "task.log_var gradient"));
    DOUBT_TRY(doubt_optim_create(ctx, &config->optim, &tr->optim));
    DOUBT_TRY(add_slots(ctx, tr));
    DOUBT_TRY(alloc_buffers(ctx, tr));
    *out = tr;
    tr = NULL;
done:
    doubt_trainer_destroy(tr);
    return st;
}

void doubt_trainer_destroy(doubt_trainer *tr)
{
    if (!tr)
        return;
    doubt_optim_destroy(tr->optim);
    doubt_concrete_reg_destroy(tr->concrete);
    doubt_net_destroy(tr->net);
    doubt_batcher_destroy(tr->batcher);
    doubt_dataset_destroy(tr->data);
    doubt_tensor_release(&tr->task_log_var);
    doubt_tensor_release(&tr->task_log_var_grad);
    void *buffers[] = {tr->images,        tr->depth,         tr->noise,
                       tr->labels,        tr->seg_logits,    tr->seg_log_var,
                       tr->depth_pred,    tr->depth_log_var, tr->grad_logits,
                       tr->grad_seg_log_var, tr->grad_depth, tr->grad_depth_log_var,
                       tr->depth_target,  tr->depth_valid,     tr->running_before};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    free(tr);
}

static doubt_status fill_batch(doubt_ctx *ctx, doubt_trainer *tr, int64_t step)
{
    if (!tr->batcher)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "trainer: no dataset to draw batches from");
    return doubt_batcher_fill(tr->batcher, step, tr->images, tr->has_seg ? tr->labels : NULL,
                              tr->has_depth ? tr->depth : NULL, NULL, &ctx->err);
}

/* The depth the head predicts (netdesc.h's doubt_depth_param) of a valid depth y > 0. */
static float depth_in_head_space(doubt_depth_param kind, float y)
{
    return kind == DOUBT_DEPTH_LOG ? logf(y) : kind == DOUBT_DEPTH_INVERSE ? 1.0f / y : y;
}

/* tr->depth (metres, 0 = none) as the regression's target and validity mask. */
static void depth_targets(doubt_trainer *tr)
{
    const size_t pixels = (size_t)tr->config.batch * tr->config.crop * tr->config.crop;
    const doubt_depth_param kind = tr->config.net.depth;
    for (size_t i = 0; i < pixels; i++) {
        const float y = tr->depth[i];
        tr->depth_valid[i] = y > 0 && isfinite(y);
        tr->depth_target[i] = tr->depth_valid[i] ? depth_in_head_space(kind, y) : 0.0f;
    }
}

doubt_status doubt_trainer_init(doubt_ctx *ctx, doubt_trainer *tr)
{
    doubt_status st = doubt_net_init_weights(ctx, tr->net, tr->config.seed);
    if (st != DOUBT_OK || !tr->has_depth)
        return st;
    if ((st = fill_batch(ctx, tr, 0)) != DOUBT_OK)
        return st;
    const size_t pixels = (size_t)tr->config.batch * tr->config.crop * tr->config.crop;
    depth_targets(tr);
    double sum = 0;
    size_t valid = 0;
    for (size_t i = 0; i < pixels; i++)
        if (tr->depth_valid[i]) {
            sum += tr->depth_target[i];
            valid++;
        }
    doubt_net_param *head_bias = doubt_net_param_find(tr->net, "head.bias");
    if (valid && head_bias)
        head_bias->value->data[tr->config.net.classes + 1] = (float)(sum / (double)valid);
    return DOUBT_OK;
}

/* Copies the network output [B, C+3, H, W] into per-task contiguous arrays. */
static void split_output(doubt_trainer *tr)
{
    const int c = tr->config.net.classes, b_count = tr->config.batch;
    const size_t hw = (size_t)tr->config.crop * tr->config.crop;
    const float *out = doubt_net_output(tr->net);
    for (int b = 0; b < b_count; b++) {
        const float *row = out + (size_t)b * (c + 3) * hw;
        memcpy(tr->seg_logits + (size_t)b * c * hw, row, (size_t)c * hw * sizeof(float));
        memcpy(tr->seg_log_var + b * hw, row + c * hw, hw * sizeof(float));
        memcpy(tr->depth_pred + b * hw, row + (c + 1) * hw, hw * sizeof(float));
        memcpy(tr->depth_log_var + b * hw, row + (c + 2) * hw, hw * sizeof(float));
    }
}

/* The reverse of split_output for the gradients, each task's part times its scale. */
static void join_gradients(doubt_trainer *tr, float seg_scale, float depth_scale)
{
    const int c = tr->config.net.classes, b_count = tr->config.batch;
    const size_t hw = (size_t)tr->config.crop * tr->config.crop;
    float *diff = doubt_net_diff_output(tr->net);
    for (int b = 0; b < b_count; b++) {
        float *row = diff + (size_t)b * (c + 3) * hw;
        const float *parts[4] = {tr->grad_logits + (size_t)b * c * hw,
                                 tr->grad_seg_log_var + b * hw, tr->grad_depth + b * hw,
                                 tr->grad_depth_log_var + b * hw};
        const size_t lengths[4] = {(size_t)c * hw, hw, hw, hw};
        const float scales[4] = {seg_scale, seg_scale, depth_scale, depth_scale};
        for (int p = 0, offset = 0; p < 4; offset += (int)lengths[p], p++)
            for (size_t k = 0; k < lengths[p]; k++)
                row[offset + k] = parts[p][k] * scales[p];
    }
}

/* The depth loss of the configured mode: heteroscedastic Gaussian, or plain L1. */
static doubt_reg_kind depth_kind(const doubt_train_config *cfg)
{
    return cfg->loss == DOUBT_LOSS_ATTENUATED ? DOUBT_REG_GAUSSIAN : DOUBT_REG_L1;
}

/* Each task's loss and its gradients, unweighted except for the depth data term, which is
 * multiplied by depth_data_weight (its gradients too). */
static doubt_status task_losses(doubt_ctx *ctx, doubt_trainer *tr, int64_t step, float *seg,
                                double depth_data_weight, doubt_reg_loss *depth)
{
    doubt_status st = DOUBT_OK;
    const doubt_train_config *cfg = &tr->config;
    const int64_t n = cfg->batch, c = cfg->net.classes, h = cfg->crop, w = cfg->crop;
    const int attenuated = cfg->loss == DOUBT_LOSS_ATTENUATED;
    memset(tr->grad_logits, 0, (size_t)(n * c * h * w) * sizeof(float));
    memset(tr->grad_seg_log_var, 0, (size_t)(n * h * w) * sizeof(float));
    memset(tr->grad_depth, 0, (size_t)(n * h * w) * sizeof(float));
    memset(tr->grad_depth_log_var, 0, (size_t)(n * h * w) * sizeof(float));
    *seg = NAN;
    *depth = (doubt_reg_loss){NAN, NAN, NAN};
    if (tr->has_seg) {
        if (attenuated) {
            doubt_rng_key key = {.seed = cfg->seed, .stream = (uint64_t)step,
                                 .layer = DOUBT_LOSSES_RNG_LAYER};
            st = doubt_losses_attenuated_ce(n, c, h, w, cfg->loss_samples, tr->seg_logits,
                                            tr->seg_log_var, tr->labels, key, seg,
                                            tr->grad_logits, tr->grad_seg_log_var, &ctx->err);
        } else {
            st = doubt_losses_cross_entropy(n, c, h, w, tr->seg_logits, tr->labels, NULL, seg,
                                            tr->grad_logits, &ctx->err);
        }
        if (st != DOUBT_OK)
            return st;
    }
    if (tr->has_depth) {
        depth_targets(tr);
        st = doubt_losses_regression(depth_kind(cfg), n * h * w, tr->depth_pred, tr->depth_log_var,
                                     tr->depth_target, tr->depth_valid, depth_data_weight, depth,
                                     tr->grad_depth, attenuated ? tr->grad_depth_log_var : NULL,
                                     &ctx->err);
    }
    return st;
}

/* The running statistics (the parameters without a gradient: plain [C] tensors) to and from
 * tr->running_before. */
static void copy_running_stats(doubt_trainer *tr, int restore)
{
    float *at = tr->running_before;
    for (int i = 0; i < tr->net->n_params; i++) {
        const doubt_net_param *p = &tr->net->params[i];
        if (p->grad)
            continue;
        const size_t n = (size_t)doubt_tensor_count(p->value);
        if (restore)
            memcpy(p->value->data, at, n * sizeof(float));
        else
            memcpy(at, p->value->data, n * sizeof(float));
        at += n;
    }
}

doubt_status doubt_trainer_step(doubt_ctx *ctx, doubt_trainer *tr, doubt_train_stats *stats)
{
    doubt_status st = fill_batch(ctx, tr, tr->optim->step);
    return st == DOUBT_OK ? doubt_trainer_step_batch(ctx, tr, stats) : st;
}

doubt_status doubt_trainer_step_batch(doubt_ctx *ctx, doubt_trainer *tr, doubt_train_stats *stats)
{
    doubt_status st = DOUBT_OK;
    const int64_t step = tr->optim->step;
    const doubt_train_config *cfg = &tr->config;
    const int learned = cfg->weighting == DOUBT_WEIGHTING_LEARNED;
    const doubt_task_kind task_kind[2] = {DOUBT_TASK_CLASSIFICATION,
                                          doubt_losses_task_of(depth_kind(cfg))};
    copy_running_stats(tr, 0);
    DOUBT_TRY(doubt_net_forward(ctx, tr->net, tr->images, 1, (uint64_t)step * cfg->batch));
    split_output(tr);
    /* Learned weighting multiplies only the depth DATA term by the task precision w(s_depth),
     * which is known before the loss, so the regression applies it to its own gradients; fixed
     * weighting multiplies each task's whole loss, afterwards (losses.h). */
    const double depth_weight =
        learned ? doubt_losses_task_weight(task_kind[1], tr->task_log_var.data[1]) : 1.0;
    float seg;
    doubt_reg_loss depth;
    DOUBT_TRY(task_losses(ctx, tr, step, &seg, depth_weight, &depth));
    const float task_loss[2] = {seg, (float)((double)depth.data + (double)depth.log_term)};

    /* combine the tasks present, in the order segmentation, depth */
    doubt_task_kind kinds[2];
    float losses[2], data[2], log_terms[2], log_vars[2], weights[2], scale[2] = {0, 0};
    float grad_log_var[2] = {0, 0};
    int index[2], tasks = 0;
    for (int k = 0; k < 2; k++) {
        if (!(k == 0 ? tr->has_seg : tr->has_depth))
            continue;
        kinds[tasks] = task_kind[k];
        losses[tasks] = task_loss[k];
        data[tasks] = k == 0 ? seg : depth.data;
        log_terms[tasks] = k == 0 ? 0.0f : depth.log_term;
        log_vars[tasks] = tr->task_log_var.data[k];
        weights[tasks] = cfg->fixed_weights[k];
        index[tasks++] = k;
    }
    float total, task_scale[2], task_grad[2];
    if (learned)
        DOUBT_TRY(doubt_losses_multitask(tasks, kinds, data, log_terms, log_vars, &total,
                                         task_scale, task_grad, &ctx->err));
    else
        DOUBT_TRY(doubt_losses_multitask_fixed(tasks, weights, losses, &total, task_scale,
                                               &ctx->err));
    if (!isfinite(total)) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NUMERIC,
                        "loss is not finite at step %" PRId64 " (seg %g, depth %g); weights kept",
                        step, task_loss[0], task_loss[1]);
        goto done;
    }
    for (int t = 0; t < tasks; t++) {
        scale[index[t]] = task_scale[t];
        if (learned)
            grad_log_var[index[t]] = task_grad[t];
    }
    tr->task_log_var_grad.data[0] = grad_log_var[0];
    tr->task_log_var_grad.data[1] = grad_log_var[1];

    /* the learned depth weight is already in the depth gradients */
    join_gradients(tr, scale[0], learned ? 1.0f : scale[1]);
    DOUBT_TRY(doubt_net_backward(ctx, tr->net));
    if (tr->concrete) {
        double regulariser;
        DOUBT_TRY(doubt_concrete_reg_apply(ctx, tr->concrete, &regulariser));
        total += (float)regulariser;
    }
    DOUBT_TRY(doubt_optim_check_grads(ctx, tr->optim));
    if (stats) {
        stats->step = step;
        stats->loss = total;
        stats->loss_seg = task_loss[0];
        stats->loss_depth = task_loss[1];
        stats->task_sigma[0] = expf(0.5f * tr->task_log_var.data[0]);
        stats->task_sigma[1] = expf(0.5f * tr->task_log_var.data[1]);
        stats->lr = doubt_optim_lr(&tr->optim->desc, step);
        stats->n_rates = tr->concrete ? tr->net->desc.n_rates : 0;
        for (int k = 0; k < stats->n_rates; k++)
            stats->rates[k] = (float)tr->net->desc.rates[k];
    }
    doubt_optim_update(tr->optim);
    doubt_net_store_rates(tr->net);
done:
    if (st != DOUBT_OK)
        copy_running_stats(tr, 1);
    return st;
}

/* A setting that shapes the run, as the checkpoint's __metadata__ records it: key, the
 * `doubt train` option that sets it, and the value as text (floats with 9 digits, which
 * read back to the same float). */
typedef struct {
    const char *key, *option;
    char value[DOUBT_NETDESC_JSON_MAX];
} run_setting;

#define N_RUN_SETTINGS 13

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void setting(run_setting *s, const char *key, const char *option, const char *fmt, ...)
{
    s->key = key;
    s->option = option;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->value, sizeof s->value, fmt, ap);
    va_end(ap);
}

static doubt_status run_settings(doubt_ctx *ctx, const doubt_trainer *tr,
                                 run_setting set[N_RUN_SETTINGS])
{
    const doubt_train_config *c = &tr->config;
    const doubt_optim_desc *o = &tr->optim->desc;
    run_setting *s = set;
    setting(s++, "seed", "--seed", "%" PRIu64, c->seed);
    setting(s++, "optimizer", "--optimizer", "%s", o->kind == DOUBT_OPTIM_ADAM ? "adam" : "sgd");
    setting(s++, "lr", "--lr", "%.9g", (double)o->lr);
    setting(s++, "warmup", "--warmup", "%" PRId64, o->warmup_steps);
    setting(s++, "steps", "--steps", "%" PRId64, o->total_steps);
    setting(s++, "weight_decay", "--weight-decay", "%.9g", (double)o->weight_decay);
    setting(s++, "batch", "--batch", "%d", c->batch);
    setting(s++, "crop", "--crop", "%d", c->crop);
    setting(s++, "loss", "--loss", "%s", c->loss == DOUBT_LOSS_ATTENUATED ? "attenuated" : "plain");
    setting(s++, "loss_samples", "--loss-samples", "%d", c->loss_samples);
    setting(s++, "weighting", "--weighting", "%s",
            c->weighting == DOUBT_WEIGHTING_LEARNED ? "learned" : "fixed");
    if (c->weighting == DOUBT_WEIGHTING_FIXED)
        setting(s++, "task_weights", "--task-weights", "%.9g,%.9g",
                (double)c->fixed_weights[0], (double)c->fixed_weights[1]);
    else /* unused by learned weighting: no reason to refuse a resume over them */
        setting(s++, "task_weights", "--task-weights", "unused");
    /* last: the description weights_save writes under "network" anyway */
    s->key = "network";
    s->option = "--config or --depth";
    return doubt_netdesc_to_json(&c->net, s->value, sizeof s->value, &ctx->err);
}

/* The checkpoint's network description as this run would have written it at the start:
 * learned Concrete dropout rates are the run's state, not one of its settings. */
static const char *network_at_start(const doubt_trainer *tr, const doubt_safetensors *f,
                                    char buf[DOUBT_NETDESC_JSON_MAX])
{
    const char *stored = doubt_safetensors_meta(f, "network");
    doubt_netdesc d;
    if (!stored || !tr->config.net.concrete ||
        doubt_netdesc_parse(stored, strlen(stored), &d, NULL) != DOUBT_OK || !d.concrete ||
        d.n_rates != tr->config.net.n_rates)
        return stored;
    memcpy(d.rates, tr->config.net.rates, sizeof d.rates);
    d.dropout = tr->config.net.dropout;
    return doubt_netdesc_to_json(&d, buf, DOUBT_NETDESC_JSON_MAX, NULL) == DOUBT_OK ? buf : stored;
}

/* A checkpoint continues this run only if every setting it records is this run's. */
static doubt_status check_same_run(doubt_ctx *ctx, const doubt_trainer *tr,
                                   const doubt_safetensors *f)
{
    run_setting set[N_RUN_SETTINGS];
    char network[DOUBT_NETDESC_JSON_MAX];
    doubt_status st = run_settings(ctx, tr, set);
    for (int i = 0; st == DOUBT_OK && i < N_RUN_SETTINGS; i++) {
        const char *stored = !strcmp(set[i].key, "network") ? network_at_start(tr, f, network)
                                                             : doubt_safetensors_meta(f, set[i].key);
        if (stored && strcmp(stored, set[i].value))
            st = doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                            "%s: the checkpoint's run has %s %s, this one %s: resume with the "
                            "same setting, or start a new run in another folder",
                            f->path, set[i].option, stored, set[i].value);
    }
    return st;
}

/* Checkpoint tensors beyond the network's: task weights and each slot's moments (plain). */
typedef struct {
    doubt_st_write_tensor *list;
    float **buffers;
    char (*names)[64];
    int64_t *shapes;
    int n;
} extra_tensors;

static void extra_release(extra_tensors *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->buffers[i]);
    free(e->buffers);
    free(e->list);
    free(e->names);
    free(e->shapes);
}

static doubt_status extra_add(doubt_ctx *ctx, extra_tensors *e, const char *name,
                              const doubt_tensor *t)
{
    int i = e->n;
    int64_t count = doubt_tensor_count(t);
    e->buffers[i] = malloc((size_t)count * sizeof(float));
    if (!e->buffers[i])
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "checkpoint: out of memory");
    e->n++;
    snprintf(e->names[i], sizeof e->names[i], "%s", name);
    for (int d = 0; d < t->md.ndims; d++)
        e->shapes[4 * i + d] = t->md.dims[d];
    e->list[i] = (doubt_st_write_tensor){e->names[i], t->md.ndims, &e->shapes[4 * i],
                                         e->buffers[i]};
    return doubt_tensor_read(ctx, t, e->buffers[i]);
}

doubt_status doubt_trainer_save(doubt_ctx *ctx, const doubt_trainer *tr, const char *path)
{
    doubt_status st = DOUBT_OK;
    const doubt_optim *opt = tr->optim;
    const int cap = 1 + 2 * opt->n_slots;
    extra_tensors e = {calloc((size_t)cap, sizeof *e.list), calloc((size_t)cap, sizeof *e.buffers),
                       calloc((size_t)cap, sizeof *e.names), calloc((size_t)cap * 4, sizeof *e.shapes),
                       0};
    if (!e.list || !e.buffers || !e.names || !e.shapes) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    DOUBT_TRY(extra_add(ctx, &e, "task.log_var", &tr->task_log_var));
    char name[64];
    for (int i = 0; i < opt->n_slots; i++) {
        snprintf(name, sizeof name, "optim.m.%s", opt->slots[i].name);
        DOUBT_TRY(extra_add(ctx, &e, name, &opt->slots[i].m));
        if (opt->slots[i].v.mem) {
            snprintf(name, sizeof name, "optim.v.%s", opt->slots[i].name);
            DOUBT_TRY(extra_add(ctx, &e, name, &opt->slots[i].v));
        }
    }
    char step[32];
    snprintf(step, sizeof step, "%" PRId64, opt->step);
    run_setting set[N_RUN_SETTINGS];
    DOUBT_TRY(run_settings(ctx, tr, set));
    const char *meta[2 * (2 + N_RUN_SETTINGS)] = {"kind", "checkpoint", "step", step};
    for (int i = 0; i < N_RUN_SETTINGS - 1; i++) {
        meta[4 + 2 * i] = set[i].key;
        meta[5 + 2 * i] = set[i].value;
    }
    st = doubt_weights_save(ctx, tr->net, path, meta, 1 + N_RUN_SETTINGS, e.list, e.n);
done:
    extra_release(&e);
    return st;
}

static doubt_status load_tensor(doubt_ctx *ctx, const doubt_safetensors *f, const char *name,
                                doubt_tensor *t)
{
    const doubt_st_tensor *src = doubt_safetensors_find(f, name);
    if (!src || !src->data || src->count != doubt_tensor_count(t))
        return doubt_fail(&ctx->err, DOUBT_ERR_FORMAT, "%s: checkpoint tensor %s missing or wrong size",
                          f->path, name);
    return doubt_tensor_write(ctx, t, src->data);
}

doubt_status doubt_trainer_load(doubt_ctx *ctx, doubt_trainer *tr, const char *path)
{
    doubt_status st = DOUBT_OK;
    doubt_safetensors *f = NULL;
    DOUBT_TRY(doubt_safetensors_read(path, &f, &ctx->err));
    const char *step = doubt_safetensors_meta(f, "step");
    if (!step || !doubt_safetensors_meta(f, "optimizer")) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT,
                        "%s: not a training checkpoint (no step or optimizer recorded)", path);
        goto done;
    }
    DOUBT_TRY(check_same_run(ctx, tr, f));
    DOUBT_TRY(doubt_weights_load(ctx, tr->net, f));
    DOUBT_TRY(load_tensor(ctx, f, "task.log_var", &tr->task_log_var));
    char name[64];
    for (int i = 0; i < tr->optim->n_slots; i++) {
        doubt_optim_slot *s = &tr->optim->slots[i];
        snprintf(name, sizeof name, "optim.m.%s", s->name);
        DOUBT_TRY(load_tensor(ctx, f, name, &s->m));
        if (s->v.mem) {
            snprintf(name, sizeof name, "optim.v.%s", s->name);
            DOUBT_TRY(load_tensor(ctx, f, name, &s->v));
        }
    }
    tr->optim->step = strtoll(step, NULL, 10);
done:
    doubt_safetensors_destroy(f);
    return st;
}
