/* Multitask training of the unet: segmentation + depth, each with a learned per-pixel σ
 * (Kendall & Gal's attenuated losses), combined by learned task uncertainties (Kendall, Gal
 * & Cipolla) or fixed weights. Learned task weights multiply only each task's non-negative
 * data term, so the objective stays bounded below when the depth NLL is negative; fixed
 * weights multiply each task's whole loss (doubt_losses_multitask, _fixed in losses.h).
 *
 *   doubt_trainer *tr;
 *   doubt_trainer_create(ctx, &config, &tr);      // opens the dataset, builds the network
 *   (a description naming no no_depth_classes takes the dataset.json ones)
 *   while (tr->optim->step < config.steps) doubt_trainer_step(ctx, tr, &stats);
 *   doubt_trainer_save(ctx, tr, "run/checkpoint.safetensors");
 *
 * Step t draws its batch from the dataset sampler with key (seed, t) and its dropout masks
 * with stream t·batch + row, so a run resumed from a checkpoint at step t continues exactly as
 * the uninterrupted run would (same thread count: oneDNN's reductions are not
 * order-independent across thread counts).
 *
 * Weight decay applies to convolution weights only, not to batch-norm parameters, biases or
 * task log-variances. With Concrete dropout (the description's concrete_dropout) its
 * regulariser replaces the decay of the convolutions after each site (concrete_reg.h), and
 * the learned rates go into net->desc after every step, so saved weights carry them.
 */
#ifndef DOUBT_MODEL_TRAIN_H
#define DOUBT_MODEL_TRAIN_H

#include "data/dataset.h"
#include "model/concrete_reg.h"
#include "model/net.h"
#include "model/optim.h"

typedef enum { DOUBT_LOSS_ATTENUATED, DOUBT_LOSS_PLAIN } doubt_loss_mode;
typedef enum { DOUBT_WEIGHTING_LEARNED, DOUBT_WEIGHTING_FIXED } doubt_weighting;

typedef struct {
    const char *data_dir; /* NULL: no dataset; the caller fills each batch (benchmarks) */
    doubt_netdesc net;
    int batch, crop;
    doubt_optim_desc optim;
    doubt_loss_mode loss;
    doubt_weighting weighting;
    float fixed_weights[2]; /* segmentation, depth; for DOUBT_WEIGHTING_FIXED */
    int loss_samples;       /* T of the attenuated classification loss */
    uint64_t seed;
} doubt_train_config;

typedef struct {
    int64_t step;           /* the step these figures belong to */
    float loss;             /* the combined objective */
    float loss_seg, loss_depth; /* each task's whole loss before weighting (the depth one: data
                                 * + log term, its NLL); NaN if absent */
    float task_sigma[2];    /* exp(s_k / 2) of the learned task weights */
    float lr;
    int n_rates;            /* Concrete dropout: the learned rate of each site */
    float rates[DOUBT_NETDESC_MAX_SITES];
} doubt_train_stats;

typedef struct {
    doubt_train_config config;
    doubt_dataset *data;
    doubt_batcher *batcher;
    doubt_net *net;
    doubt_optim *optim;
    doubt_concrete_reg *concrete; /* the description's dropout is Concrete: its regulariser */
    int has_seg, has_depth;
    doubt_tensor task_log_var, task_log_var_grad; /* [2]: segmentation, depth */
    /* one batch, plain: images, labels, depth and the per-task views of the output */
    float *images, *depth, *noise;
    uint8_t *labels;
    float *seg_logits, *seg_log_var, *depth_pred, *depth_log_var;
    float *grad_logits, *grad_seg_log_var, *grad_depth, *grad_depth_log_var;
    /* depth as the head predicts it (metric, log or inverse: netdesc.h) and where it is valid */
    float *depth_target;
    uint8_t *depth_valid;
    /* batch norm updates its running statistics in the forward pass: a copy from before the
     * step puts them back when the step fails, so a failed step changes nothing */
    float *running_before;
} doubt_trainer;

doubt_status doubt_trainer_create(doubt_ctx *ctx, const doubt_train_config *config,
                                  doubt_trainer **out);
void doubt_trainer_destroy(doubt_trainer *tr);

/* Starts a fresh run: He-initialised weights from the seed and a depth bias at the mean
 * depth of the first batch, in the head's parametrisation (so the depth head does not spend
 * its first thousand steps climbing from zero). The depth loss is the Gaussian (or plain L1)
 * regression in that parametrisation: on y, log y or 1/y. */
doubt_status doubt_trainer_init(doubt_ctx *ctx, doubt_trainer *tr);

/* One optimisation step. A non-finite loss or gradient fails with DOUBT_ERR_NUMERIC and a
 * message naming the tensor; the weights and batch-norm running statistics are left as they
 * were. */
doubt_status doubt_trainer_step(doubt_ctx *ctx, doubt_trainer *tr, doubt_train_stats *stats);

/* The same step on the batch already in tr->images, labels and depth ([B,3,H,W], [B,H,W],
 * [B,H,W], H = W = crop), for callers that bring their own data. */
doubt_status doubt_trainer_step_batch(doubt_ctx *ctx, doubt_trainer *tr, doubt_train_stats *stats);

/* Checkpoint: weights, running statistics, task log-variances, optimizer moments, step, and
 * the settings that shape the run (seed, lr, warm-up, steps, batch, crop, loss, loss samples,
 * weighting, task weights, weight decay, optimizer, network), written atomically and
 * durably. load restores all of it; it refuses a checkpoint whose recorded settings differ
 * from tr's, naming the `doubt train` option (DOUBT_ERR_ARG), since the run would not be the
 * one it continues. Checkpoints from before these settings were recorded hold only the seed
 * and optimizer: what they lack is not checked. */
doubt_status doubt_trainer_save(doubt_ctx *ctx, const doubt_trainer *tr, const char *path);
doubt_status doubt_trainer_load(doubt_ctx *ctx, doubt_trainer *tr, const char *path);

#endif
